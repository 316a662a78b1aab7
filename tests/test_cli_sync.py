"""`tiepulse sync` and `tiepulse forget` as a user runs them, against the Google and Microsoft fakes.

Settings come from the environment and the config file like in production; nothing of ours is patched. The
console is 80 columns wide and not a terminal, as in a pipe or a CI log.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, seed
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tests.fakes.microsoft_server import FakeMicrosoft
from tiepulse.cli import app as cli
from tiepulse.cli.app import app
from tiepulse.connectors.http.retry import RetryableError

__all__ = ["fake_server"]  # the fixture, re-exported for pytest

LONG = "someone.with.a.rather.long.name@corp.example"
BROKEN = "broken.token@gmail.com"
MS_ENV = ("TIEPULSE_MS_TENANT_ID", "TIEPULSE_MS_CLIENT_ID", "TIEPULSE_MS_CLIENT_SECRET")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def run(*args: str) -> tuple[int, str]:
    result = invoke(*args)
    return result.exit_code, result.output


def one_line(text: str) -> str:
    return " ".join(text.split())


def table_rows(out: str) -> dict[tuple[str, str], list[str]]:
    """(account, source) -> the other cells of each row of the summary table."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 9 and "@" in cells[0]:
            rows[(cells[0], cells[1])] = cells[2:]
        assert "…" not in line, f"a cell was cut: {line!r}"
    return rows


def last_sync(warehouse: Path) -> tuple[str, dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        status, summary = con.execute(
            "select status, summary from ops.runs where kind = 'sync' order by started_at desc limit 1"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    return status, json.loads(summary)


def count(warehouse: Path, sql: str, params: list[object] | None = None) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(sql, params).fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ Microsoft


def test_sync_outlook_full_then_incremental_then_refresh(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 80)
    settings = configure(monkeypatch, tmp_path, fake)
    seed(fake, n=6)
    code, out = run("sync", "--source", "outlook")
    assert code == 0, out
    rows = table_rows(out)
    assert set(rows) == {(ANN, "outlook"), (BOB, "outlook")}
    assert rows[(ANN, "outlook")][:2] == ["ok", "9"] and rows[(BOB, "outlook")][:2] == ["ok", "9"]
    assert "quality checks passed" in out
    code, out = run("sync", "--source", "outlook", "--no-refresh")
    assert code == 0 and {tuple(r[:3]) for r in table_rows(out).values()} == {("ok", "0", "0")}
    assert last_sync(settings.warehouse_path)[0] == "success"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    owners = {r[0] for r in con.execute("select distinct mailbox_owner from raw.graph_messages").fetchall()}
    # Ann's Sent and Bob's Inbox hold the same messages: one row each in staging
    sightings, messages = con.execute(
        "select (select count(*) from raw.graph_messages), (select count(*) from staging.stg_messages)"
    ).fetchone()  # type: ignore[misc]
    con.close()
    assert owners == {ANN, BOB}
    assert messages < sightings


def test_a_mailbox_graph_does_not_know_fails_alone(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 80)
    ghost = "ghost@contoso.com"
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN, ghost, BOB])
    seed(fake, n=4)
    code, out = run("sync", "--source", "outlook", "--no-refresh")
    assert code == 2, out
    rows = table_rows(out)
    assert rows[(ghost, "outlook")][0] == "failed"
    assert rows[(ANN, "outlook")][0] == rows[(BOB, "outlook")][0] == "ok"  # Bob comes after the ghost
    text = one_line(out)
    assert f"outlook {ghost} failed: Graph answered 404 MailboxNotEnabledForRESTAPI" in text
    assert "how to fix: Graph has no Exchange Online mailbox under this address" in text
    assert "1 of 3 account syncs failed; the others are up to date" in text
    status, summary = last_sync(settings.warehouse_path)
    assert status == "partial" and summary["failed"] == [f"outlook:{ghost}"] and summary["mailboxes"] == 3
    owners = count(settings.warehouse_path, "select count(distinct mailbox_owner) from raw.graph_messages")
    assert owners == 2


def test_an_unreachable_graph_and_a_persistent_503_are_failure_lines_not_tracebacks(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 80)
    settings = configure(monkeypatch, tmp_path, fake, max_attempts=2)
    monkeypatch.delenv("TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE", raising=False)
    seed(fake, n=3)
    monkeypatch.setenv("TIEPULSE_GRAPH_ENDPOINT", "https://127.0.0.1:9")  # nothing listens there
    result = invoke("sync", "--no-refresh")
    assert result.exit_code == 2 and not isinstance(result.exception, RetryableError)
    assert "Traceback" not in result.output
    rows = table_rows(result.output)
    assert {r[0] for r in rows.values()} == {"failed"} and len(rows) == 4
    text = one_line(result.output)
    assert f"outlook {ANN}, outlook_calendar {ANN}, outlook {BOB}, outlook_calendar {BOB} failed:" in text
    assert text.count("ConnectionError from Graph") == 1  # one cause, said once
    assert "Google: not set up, skipped" in result.output  # one quiet line, no warning
    assert last_sync(settings.warehouse_path)[0] == "failure"

    monkeypatch.setenv("TIEPULSE_GRAPH_ENDPOINT", fake.url)
    fake.inject(f"/users/{ANN}/", "503", times=1_000, retry_after=0)
    result = invoke("sync", "--source", "outlook", "--no-refresh")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    rows = table_rows(result.output)
    # one retry of two attempts per folder; Inbox and Sent Items are read side by side, so one or both retried
    assert rows[(ANN, "outlook")][0] == "failed" and rows[(ANN, "outlook")][5] in ("1", "2")
    assert rows[(BOB, "outlook")][0] == "ok"
    assert "how to fix: the service kept failing" in one_line(result.output)
    assert last_sync(settings.warehouse_path)[0] == "partial"


def test_sync_rejects_unknown_source_and_unconfigured_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE", raising=False)
    for key in MS_ENV:
        monkeypatch.delenv(key, raising=False)
    code, out = run("sync", "--source", "yahoo")
    assert code == 2 and "outlook-calendar" in out and "yahoo" in out
    code, out = run("sync", "--source", "outlook")
    assert code == 2 and "connect microsoft" in one_line(out)
    code, out = run("sync")
    assert code == 2 and "nothing to sync: connect an account first" in one_line(out)
    assert "skipped" not in out


# ------------------------------------------------------------------------------------------------ Google


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Testbed]:
    for key in MS_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(cli.console, "width", 80)
    with FakeGoogle() as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        bed.configure(users=[OWNER, LONG], http={"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.02})
        fake.generate_mailbox(OWNER, 20)
        fake.generate_mailbox(LONG, 5, seed=2)
        yield bed
        bed.close()


def write_broken_token(bed: Testbed) -> None:
    """A token file that names its account but holds no usable refresh token."""
    folder = bed.home / "google"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"token-{BROKEN}.json").write_text(json.dumps({"account": BROKEN, "authorized_user": {}}))


def test_one_bad_token_fails_alone_and_the_rest_is_synced_and_refreshed(google: Testbed) -> None:
    write_broken_token(google)
    code, out = run("sync")
    assert code == 2, out
    rows = table_rows(out)
    assert rows[(BROKEN, "gmail")][0] == rows[(BROKEN, "gcal")][0] == "failed"
    assert rows[(OWNER, "gmail")][:2] == ["ok", "20"] and rows[(LONG, "gmail")][:2] == ["ok", "5"]
    assert rows[(OWNER, "gcal")][0] == rows[(LONG, "gcal")][0] == "ok"
    text = one_line(out)
    assert f"gmail {BROKEN}, gcal {BROKEN} failed:" in text and "not a usable tiepulse Google token" in text
    assert "Run `tiepulse connect google --client-secrets FILE` again" in text
    assert "Microsoft: not set up, skipped" in out and "nothing to sync" not in text
    assert "quality checks passed" in out  # what succeeded is refreshed
    assert "2 of 6 account syncs failed; the others are up to date" in text
    warehouse = google.settings.warehouse_path
    status, summary = last_sync(warehouse)
    assert status == "partial" and summary["failed"] == [f"gmail:{BROKEN}", f"gcal:{BROKEN}"]
    assert summary["inserted"] == {"raw.gmail_messages": 25}
    assert count(warehouse, "select count(*) from staging.stg_messages") == 25


def test_retries_show_and_a_persistent_503_is_that_accounts_failure(google: Testbed) -> None:
    fake = google.fake
    fake.add_fault("gmail.getProfile", "503", times=3)  # the first account's three attempts
    fake.add_fault("gmail.messages.list", "429", times=1, retry_after="0.2")
    result = invoke("sync", "--source", "gmail", "--no-refresh")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    rows = table_rows(result.output)
    assert rows[(OWNER, "gmail")][0] == "failed" and rows[(OWNER, "gmail")][5] == "2"
    assert rows[(LONG, "gmail")][:2] == ["ok", "5"] and rows[(LONG, "gmail")][5] == "1"
    text = one_line(result.output)
    assert f"gmail {OWNER} failed: getProfile: HTTP 503" in text
    assert "how to fix: the service kept failing or could not be reached, even after retries" in text

    # The bar says when it waits and why; it ends full.
    fake.add_fault("gmail.messages.list", "429", times=1, retry_after="0.2")
    from tiepulse.cli.sync_runner import sync_provider
    from tiepulse.pipelines.providers import GOOGLE

    out = io.StringIO()
    report = sync_provider(google.settings, GOOGLE, "gmail", None, Console(file=out, force_terminal=True, width=160))
    assert report.status == "success" and report["inserted"] == {"raw.gmail_messages": 20}
    frames = out.getvalue()
    assert "waiting 0.2 s" in frames and f"Gmail {OWNER}" in frames
    assert "20/20 · 20 new · catching up · 1 retry (0.2 s waited) · up to date" in frames

    code, out_text = run("sync", "--source", "gmail", "--no-refresh")
    assert code == 0 and {r[0] for r in table_rows(out_text).values()} == {"ok"}
    assert last_sync(google.settings.warehouse_path)[0] == "success"


def test_account_filter_and_unknown_account(google: Testbed) -> None:
    code, out = run("sync", "--account", OWNER.upper(), "--no-refresh")
    assert code == 0, out
    assert set(table_rows(out)) == {(OWNER, "gmail"), (OWNER, "gcal")}
    assert "not set up" not in out  # an --account run does not talk about other providers
    code, out = run("sync", "--account", "stranger@corp.example", "--no-refresh")
    assert code == 2 and "stranger@corp.example is not a Google account tiepulse knows" in one_line(out)


# ------------------------------------------------------------------------------------------------ forget


def test_forget_removes_an_accounts_rows_and_cursors_and_a_resync_restores_them(google: Testbed) -> None:
    assert run("sync", "--no-refresh")[0] == 0
    warehouse = google.settings.warehouse_path
    before = count(warehouse, "select count(*) from raw.gmail_messages where mailbox_owner = ?", [LONG])
    assert before == 5
    code, out = run("forget", "--account", LONG, "--source", "gmail", "--yes", "--no-refresh")
    assert code == 0, out
    assert "raw.gmail_messages: 5" in out and "ops.sync_state: 1" in out
    assert count(warehouse, "select count(*) from raw.gmail_messages where mailbox_owner = ?", [LONG]) == 0
    assert count(warehouse, "select count(*) from raw.gmail_messages where mailbox_owner = ?", [OWNER]) == 20
    states = count(warehouse, "select count(*) from ops.sync_state where account = ?", [LONG])
    assert states == 1  # its calendar cursor stays
    # Forgotten rows come back with the next sync (the account is still configured): a full sync, as new.
    code, out = run("sync", "--account", LONG, "--source", "gmail", "--no-refresh")
    assert code == 0 and table_rows(out)[(LONG, "gmail")][:2] == ["ok", "5"]

    code, out = run("forget", "--account", "stranger@corp.example", "--yes", "--no-refresh")
    assert code == 2 and "nothing stored for stranger@corp.example" in one_line(out)
    code, out = run("forget", "--account", LONG, "--source", "yahoo", "--yes")
    assert code == 2 and "--source" in out


def test_forget_asks_first_and_refreshes(google: Testbed) -> None:
    assert run("sync", "--source", "gmail", "--no-refresh")[0] == 0
    warehouse = google.settings.warehouse_path
    result = CliRunner().invoke(app, ["forget", "--account", OWNER], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert count(warehouse, "select count(*) from raw.gmail_messages where mailbox_owner = ?", [OWNER]) == 20
    result = CliRunner().invoke(app, ["forget", "--account", OWNER], input="y\n")
    assert result.exit_code == 0, result.output
    assert "quality checks passed" in result.output
    assert count(warehouse, "select count(*) from raw.gmail_messages") == 5
    assert count(warehouse, "select count(*) from staging.stg_messages") == 5
