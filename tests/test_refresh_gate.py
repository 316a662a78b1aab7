"""A refresh with nothing new does not start Dagster, and leaves every table as it was; anything new, changed or
removed runs the whole refresh, its checks and their blocking again (pipelines/refresh_gate.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from tests.analytics.staged import AS_OF
from tests.test_checks import _raw_home
from tiepulse.cli.app import app
from tiepulse.connectors.base import Page
from tiepulse.connectors.raw_schemas import to_table
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import refresh_gate
from tiepulse.pipelines.build_state import table_fingerprint
from tiepulse.pipelines.loader import commit_page
from tiepulse.pipelines.refresh import refresh

MBOX = Path(__file__).parent / "data" / "sent.mbox"
NEW_MESSAGE = (
    "From ana@acme.com Thu Mar  7 09:00:00 2024\nMessage-ID: <4@acme.com>\n"
    "Date: Thu, 7 Mar 2024 09:00:00 +0000\nFrom: ana@acme.com\nTo: bo@acme.com\nSubject: x\n\nbody\n"
)

NEW_ROW = {
    "mailbox_owner": "ana@acme.com",
    "source": "mbox",
    "from_address": "ana@acme.com",
    "recipients": [{"kind": "to", "address": "bo@acme.com", "name": None}],
    "bad_address_count": 0,
}
"""A raw message from ana to bo, but for its key and time."""


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _dagster_runs(home: Path) -> list[dg.DagsterRun]:
    return list(dg.DagsterInstance.from_config(str(home / "dagster")).get_runs())


def _derived_tables(home: Path) -> dict[str, str]:
    """Every staging, intermediate and mart table's row count and hash sum."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        names = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('staging', 'intermediate', 'marts') order by 1"
        ).fetchall()
        return {name: table_fingerprint(con, name) for (name,) in names}


def test_nothing_new_runs_no_step_and_changes_no_table_and_anything_new_runs_everything(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    _invoke("import", str(MBOX))
    runs = len(_dagster_runs(cli_home))
    tables = _derived_tables(cli_home)
    assert "marts.mart_org_people" in tables and "marts.mart_ties" in tables

    assert "Nothing changed since the refresh of " in _invoke("refresh")
    assert len(_dagster_runs(cli_home)) == runs  # Dagster did not start
    assert _derived_tables(cli_home) == tables
    with duckdb.connect(str(cli_home / "warehouse.duckdb"), read_only=True) as con:
        logged = con.execute("select summary ->> 'unchanged_since' from ops.runs order by started_at desc").fetchone()
    assert logged is not None and logged[0] is not None

    # one new message: a Dagster run again, whose changed tables go to Great Expectations again
    new = tmp_path / "new.mbox"
    new.write_text(NEW_MESSAGE)
    _invoke("import", str(new), "--owner", "ana@acme.com", "--no-refresh")
    assert "Refreshed" in _invoke("refresh")
    (latest, *_) = _dagster_runs(cli_home)
    assert len(_dagster_runs(cli_home)) == runs + 1
    instance = dg.DagsterInstance.from_config(str(cli_home / "dagster"))
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for record in instance.all_logs(latest.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if isinstance(e := record.get_dagster_event().event_specific_data, dg.AssetCheckEvaluation)
    }
    messages = checks[("marts/fct_messages", "quality")]
    assert messages.passed and messages.metadata["rows_checked"].value == 3
    # the new row validated, the two passed before not sent again
    assert str(messages.metadata["validated"].value).startswith("1 new or changed rows")
    assert _derived_tables(cli_home)["marts.fct_messages"] != tables["marts.fct_messages"]

    # a derived file removed, another analysis date: each runs the refresh again
    (cli_home / "bi.duckdb").unlink()
    assert "Refreshed" in _invoke("refresh")
    assert (cli_home / "bi.duckdb").is_file()
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-04-02")
    assert "Refreshed" in _invoke("refresh")
    assert "Nothing changed" in _invoke("refresh")
    assert "Refreshed" in _invoke("refresh", "--full")  # --full never skips
    assert len(_dagster_runs(cli_home)) == runs + 4


def test_a_failed_check_on_new_rows_blocks_every_refresh_until_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raw_home(tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    assert refresh().success
    assert refresh().unchanged_since is not None

    bad = {**NEW_ROW, "message_key": "late", "sent_at": dt.datetime(1985, 1, 1, tzinfo=dt.UTC)}
    con = connect(tmp_path / "warehouse.duckdb")
    table = "raw.mail_messages"
    commit_page(con, Page(rows={table: to_table(table, [bad])}), source="test", account="t", stream=table)
    con.close()
    failure = ["marts.fct_messages:quality (column_values_to_be_in_set[plausible_sent_at]: FAILED (1 rows))"]
    for _ in range(2):  # a failure is never remembered: the next refresh with nothing new runs the check again
        result = refresh()
        assert not result.success and result.unchanged_since is None
        assert result.failed_checks == failure


def test_the_record_taken_from_the_builds_is_what_a_scan_gives_and_an_edit_in_place_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``remember`` takes the SQL models' tables from their builds' records instead of scanning them: that record is
    what scanning every table gives, and a row edited in place afterwards (same count) still runs the refresh."""
    _raw_home(
        tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    )
    started = dt.datetime.now(dt.UTC)
    assert refresh().success
    with connect(tmp_path / "warehouse.duckdb") as con:
        taken = refresh_gate._written_since(con, started)
        assert {"raw.mail_messages", "staging.stg_mail_sightings", "marts.fct_messages"} <= set(taken)  # not scanned
        recorded = con.execute(
            f"select fingerprint from {refresh_gate.STATE_TABLE} where target = ?", [refresh_gate.TARGET]
        ).fetchall()
        assert recorded == [(refresh_gate.fingerprint(con, Settings()),)]  # every table scanned now: the same
    assert refresh().unchanged_since is not None

    with connect(tmp_path / "warehouse.duckdb") as con:
        (before,) = con.execute("select count(*) from marts.fct_messages").fetchall()[0]
        con.execute("update marts.fct_messages set sent_at = sent_at + interval 1 minute").fetchall()
        assert con.execute("select count(*) from marts.fct_messages").fetchall() == [(before,)]
    assert refresh().unchanged_since is None  # the outline is the same, the rows are not


def test_a_new_day_or_a_new_row_differs_in_the_outline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a day's refresh brings (a new analysis date, new rows) is seen before any table's rows are read."""
    _raw_home(tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    assert refresh().success
    con = connect(tmp_path / "warehouse.duckdb")
    recorded = con.execute(
        f"select fingerprint from {refresh_gate.STATE_TABLE} where target = ?", [refresh_gate.TARGET]
    ).fetchall()[0][0]
    outline = recorded.partition(refresh_gate.SEPARATOR)[0]

    def now() -> str:
        settings = Settings()
        names = refresh_gate._table_names(con)
        return refresh_gate._outline(con, settings, names, refresh_gate.computed_with(settings))

    assert now() == outline
    monkeypatch.setenv("TIEPULSE_AS_OF", "2026-03-04")
    assert now() != outline
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    assert now() == outline
    table = "raw.mail_messages"
    new = {**NEW_ROW, "message_key": "new", "sent_at": dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)}
    commit_page(con, Page(rows={table: to_table(table, [new])}), source="test", account="t", stream=table)
    assert now() != outline
    con.close()


def test_a_run_during_which_the_code_changed_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a refresh is computed with is taken when it starts: when the code (here a stand-in package folder) changes
    before the run's end, the run records nothing and the last record is forgotten, so the next refresh runs."""
    _raw_home(tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    code = tmp_path / "package"
    code.mkdir()
    (code / "rules.py").write_text("LIMIT = 1\n", encoding="utf-8")
    monkeypatch.setattr(refresh_gate, "PACKAGE", code)
    assert refresh().success
    assert refresh().unchanged_since is not None
    settings = Settings()
    with connect(tmp_path / "warehouse.duckdb") as con:
        started, started_with = dt.datetime.now(dt.UTC), refresh_gate.computed_with(settings)
        (code / "rules.py").write_text("LIMIT = 22\n", encoding="utf-8")  # edited while the run ran
        query = f"select count(*) from {refresh_gate.STATE_TABLE} where target = ?"
        refresh_gate.remember(con, settings, started, started_with)
        assert con.execute(query, [refresh_gate.TARGET]).fetchall() == [(0,)]
        refresh_gate.remember(con, settings, started, refresh_gate.computed_with(settings))
        assert con.execute(query, [refresh_gate.TARGET]).fetchall() == [(1,)]
    assert refresh().unchanged_since is not None
