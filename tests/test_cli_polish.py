"""The everyday CLI's manners: short alert lists, ids where the help says, near-miss suggestions, wide results
that stay readable, runs as words, a closed pipe that is no error, and a word when the data ended long ago."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.analytics.staged import AS_OF, EGO, publish_home, query
from tiepulse.cli import app as cli
from tiepulse.cli.app import app
from tiepulse.cli.insights import STALE_AFTER_DAYS, stale_data_note
from tiepulse.cli.summary import describe_summary
from tiepulse.core.warehouse import open_warehouse


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_home(tmp_path_factory.mktemp("published"))


@pytest.fixture
def home(published: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIEPULSE_HOME", str(published))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.setattr(cli.console, "width", 80)
    monkeypatch.setattr(cli.err, "width", 80)
    return published


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def flat(text: str) -> str:
    """Output as one line of words, whatever the terminal wrapped or boxed."""
    return " ".join(text.replace("│", " ").split())


def test_alerts_limit_and_kind(home: Path) -> None:
    total, kinds = query(home, "select count(*), count(distinct kind) from marts.mart_alerts where status = 'open'")[0]
    assert total >= 2 and kinds >= 2, "the staged home needs alerts of two kinds"
    code, out = run("alerts", "--limit", "1")
    assert code == 0, out
    assert f"(1 of {total})" in out and f"{total - 1} more: --limit 0 shows all" in flat(out)
    code, out = run("alerts", "--limit", "0")
    assert f"({total} of {total})" in out and "more: --limit" not in out
    kind = query(home, "select min(kind) from marts.mart_alerts where status = 'open'")[0][0]
    code, out = run("alerts", "--kind", kind, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = query(home, f"select count(*) from marts.mart_alerts where status = 'open' and kind = '{kind}'")[0][0]
    assert code == 0 and len(rows) == expected and {r["kind"] for r in rows} == {kind}
    code, out = run("alerts", "--kind", "gossip")
    assert code == 2 and "--kind must be one of neglected_tie" in flat(out)


def test_the_alert_id_is_where_the_snooze_help_says(home: Path) -> None:
    first = query(
        home, "select alert_id from marts.mart_alerts where status = 'open' order by priority desc, alert_id limit 1"
    )[0][0]
    code, out = run("alerts")
    assert code == 0 and re.search(rf"^1\. {first}  ", out, re.MULTILINE), out
    code, out = run("alerts", "snooze", "--help")
    assert "after its number in `tiepulse alerts`" in flat(out)
    assert "<str>" not in run("alerts", "--help")[1]  # options name their values (EMAIL, DATE, N, ...)


def test_an_alert_says_its_next_step_once(home: Path) -> None:
    code, out = run("alerts", "--limit", "0")
    rows = query(home, "select reason, suggested_action from marts.mart_alerts where status = 'open'")
    assert code == 0 and rows
    for reason, action in rows:
        assert action.split(": ", 1)[-1] not in reason  # the reason line does not end with the suggestion
        assert flat(out).count(f"Next: {action}") == sum(a == action for _, a in rows)


def test_no_warehouse_points_to_commands_that_exist_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    for command in (["health"], ["status"], ["ties"], ["alerts"]):
        code, out = run(*command)
        assert code == 2 and out.count("\n") == 1 and "Traceback" not in out, out
        assert "`tiepulse import PATH`" in out and "`tiepulse demo`" in out and "make demo" not in out


def test_a_mistyped_ego_gets_the_closest_address(home: Path) -> None:
    code, out = run("health", "--ego", "mee@acme.com")
    assert code == 2 and f"did you mean {EGO}" in flat(out)
    code, out = run("health", "--ego", "somebody.else@elsewhere.org")
    assert code == 2 and "did you mean" not in out and "select ego_id from marts.dim_ego" in flat(out)


def test_wide_results_go_one_row_under_another_with_rounded_floats(home: Path) -> None:
    code, out = run("sql", "select * from marts.mart_ties order by ego_id, alter_id limit 2")
    columns = query(
        home,
        "select count(*) from information_schema.columns where table_schema = 'marts' and table_name = 'mart_ties'",
    )[0][0]
    assert code == 0 and "-- row 1 --" in out and "-- row 2 --" in out
    assert f"2 rows of {columns} columns" in flat(out) and "--format csv / json" in flat(out)
    strength = query(home, "select strength from marts.mart_ties order by ego_id, alter_id limit 1")[0][0]
    assert re.search(rf"^strength +{re.escape(f'{round(strength, 4):g}')}$", out, re.MULTILINE), out
    code, out = run("sql", "select 1.0 / 3 as third, 'x' as label")
    assert code == 0 and "0.3333" in out and "0.33333" not in out and "-- row" not in out
    code, out = run("sql", "--format", "csv", "select 1.0 / 3 as third")
    assert out.splitlines()[1].startswith("0.33333333")


def test_status_shows_runs_as_words() -> None:
    described = describe_summary(
        '{"files": 3, "inserted": {"raw.mail_messages": 1200}, "failed_checks": [], "x_id": 1}'
    )
    assert described.splitlines() == ["files 3", "inserted: mail_messages 1,200"]
    assert describe_summary(None) == "" and describe_summary("not json") == "not json"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_reader_that_stops_early_is_no_error(published: Path, fmt: str) -> None:
    """`tiepulse sql ... | head` exits 0; the output is far bigger than a pipe's buffer, so the write does fail."""
    env = {**os.environ, "TIEPULSE_HOME": str(published), "TIEPULSE_AS_OF": AS_OF.isoformat()}
    entry = "from tiepulse.cli.app import main; main()"
    args = [sys.executable, "-c", entry, "sql", "--format", fmt, "select range as n from range(300000)"]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read(100)
        proc.stdout.close()
        code = proc.wait()
        errors = proc.stderr.read().decode()
    assert code == 0 and "Traceback" not in errors, errors


def test_sample_prints_a_summary_and_the_next_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 80)
    code, out = run("sample", str(tmp_path / "org"))
    assert code == 0, out
    assert "SampleSummary(" not in out and "150 people and 300 outside contacts" in flat(out)
    assert f"TIEPULSE_CONFIG={tmp_path / 'org' / 'config.yaml'} TIEPULSE_AS_OF=2026-07-01 tiepulse import" in out
    assert max(len(line) for line in out.splitlines()[:-1]) <= 80


def test_data_that_ended_long_before_the_analysis_date_is_pointed_out(published: Path) -> None:
    last_mail = query(published, "select quantile_disc(sent_at, 0.999) from marts.fct_messages")[0][0].date()
    with open_warehouse(published / "warehouse.duckdb", read_only=True) as con:
        assert stale_data_note(con, last_mail + dt.timedelta(days=STALE_AFTER_DAYS)) is None
        note = stale_data_note(con, last_mail + dt.timedelta(days=200))
    assert note is not None and f"The mail ends on {last_mail}, 200 days before" in note
    assert f"TIEPULSE_AS_OF={last_mail + dt.timedelta(days=1)} tiepulse refresh" in note
