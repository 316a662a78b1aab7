"""A quality check on rows Great Expectations already passed is recorded again without sending them; new rows are
sent with the rows sharing their keys (pipelines/checks.py; tests/test_checks_incremental.py holds that to
validating the whole table)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import refresh_gate

MBOX = Path(__file__).parent / "data" / "sent.mbox"
MESSAGES = dg.AssetKey(["marts", "fct_messages"])


def _quality_checks(home: Path) -> dict[dg.AssetKey, dg.AssetCheckEvaluation]:
    """The latest run's quality check evaluations, by table."""
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    (latest,) = instance.get_runs(limit=1)
    found = {}
    for record in instance.all_logs(latest.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.get_dagster_event().event_specific_data
        assert isinstance(evaluation, dg.AssetCheckEvaluation)
        if evaluation.check_name == "quality":
            found[evaluation.asset_key] = evaluation
    return found


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_unchanged_rows_keep_their_check_on_record_and_changed_rows_are_validated(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    _invoke("import", str(MBOX))
    first = _quality_checks(cli_home)
    assert all(e.passed for e in first.values())
    assert not any("validated" in e.metadata for e in first.values())  # a first run validates everything

    with connect(cli_home / "warehouse.duckdb") as con:  # else nothing changed: Dagster would not run at all
        refresh_gate.forget(con)
    _invoke("refresh")
    again = _quality_checks(cli_home)
    assert again.keys() == first.keys()  # every check is on record for the run, and passed
    assert all(e.passed for e in again.values())
    kept = again[MESSAGES].metadata
    assert str(kept["validated"].value).startswith("same rows and checks as Great Expectations passed at ")
    assert kept["rows_checked"].value == first[MESSAGES].metadata["rows_checked"].value == 2

    new = tmp_path / "new.mbox"
    new.write_text(
        "From ana@acme.com Thu Mar  7 09:00:00 2024\nMessage-ID: <4@acme.com>\n"
        "Date: Thu, 7 Mar 2024 09:00:00 +0000\nFrom: ana@acme.com\nTo: bo@acme.com\nSubject: x\n\nbody\n"
    )
    _invoke("import", str(new), "--owner", "ana@acme.com")
    after = _quality_checks(cli_home)
    validated = after[MESSAGES].metadata
    # the new message's row went to Great Expectations, the two passed before did not
    assert str(validated["validated"].value).startswith("1 new or changed rows and the rows sharing their keys")
    assert validated["rows_checked"].value == 3
    assert validated["column_values_to_be_unique[message_key]"].value == "ok"

    _invoke("refresh", "--full")  # forgets every record: everything is validated again
    full = _quality_checks(cli_home)
    assert not any("validated" in e.metadata for e in full.values())
    with duckdb.connect(str(cli_home / "warehouse.duckdb"), read_only=True) as con:
        kept = con.execute("select count(*) from ops.build_state where starts_with(target, 'checks/')").fetchall()
        (hashes,) = con.execute(
            "select count(*) from ops.validated_rows where target = 'checks/marts.fct_messages'"
        ).fetchall()
    assert kept[0][0] == len(full)
    assert hashes[0] == 3
