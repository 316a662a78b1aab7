"""A Google sync killed with SIGKILL mid-way and run again ends with the warehouse of an uninterrupted sync."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.connectors.test_google_calendar import populate
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tests.stepping import GO_AHEAD, kill_after, stdin_for

ROOT = Path(__file__).resolve().parents[2]

# Syncs Gmail and Calendar for every configured account, printing a line after each committed page and waiting
# for the test's go-ahead (tests/stepping.py), so the test can kill it after an exact number of pages.
SCRIPT = f"""
import sys
from tiepulse.pipelines.providers.google import google_sources
from tiepulse.pipelines.sync import sync_account
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

settings = Settings()
con = connect(settings.warehouse_path)

def on_page(stream, result):
    print("committed", stream, result.pages, flush=True)
    {GO_AHEAD}

for source in google_sources(settings):
    sync_account(con, source, pseudonym_key=None, on_page=on_page)
con.close()
print("done", flush=True)
"""


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


def run(home: Path, *, stepped: bool = False) -> subprocess.Popen[str]:
    home.mkdir(exist_ok=True)
    (home / "subject_hmac.key").write_text("0" * 64)  # one key in both homes: equal subject digests
    env = {**os.environ, "TIEPULSE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        stdin=stdin_for(stepped),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def snapshot(home: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = {
            "raw.gmail_messages": "imported_at",
            "raw.gcal_events": "imported_at",
            "ops.quarantine": "quarantined_at",
            "ops.sync_state": "updated_at",
        }
        return {
            name: sorted(con.execute(f"select * exclude ({skip}) from {name}").fetchall(), key=repr)
            for name, skip in tables.items()
        }
    finally:
        con.close()


@pytest.mark.slow
def test_killed_sync_resumes_to_the_same_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle
) -> None:
    bed = Testbed(tmp_path, monkeypatch, fake)
    bed.configure(gmail={"commit_rows": 50, "batch_size": 25}, calendar={"page_size": 5})
    box = fake.generate_mailbox(OWNER, 1_000)
    box.add([("From", "not an address"), ("To", OWNER), ("Message-ID", "<bad@x>")])  # one quarantined
    populate(fake.calendar(OWNER), 30)

    clean = tmp_path / "clean"
    done = run(clean)
    _, errors = done.communicate(timeout=120)
    assert done.returncode == 0, errors
    expected = snapshot(clean)
    assert len(expected["raw.gmail_messages"]) == 1_000
    assert len(expected["raw.gcal_events"]) == 34 and len(expected["ops.quarantine"]) == 1

    crashed = tmp_path / "crashed"
    lines = kill_after(run(crashed, stepped=True), 6)
    assert all(line.startswith("committed messages") for line in lines), lines
    partial = snapshot(crashed)
    assert 0 < len(partial["raw.gmail_messages"]) < 1_000

    gets = fake.calls["gmail.messages.get"]
    again = run(crashed)
    _, errors = again.communicate(timeout=120)
    assert again.returncode == 0, errors
    assert snapshot(crashed) == expected
    # Resuming fetched only what the killed run had not committed (give or take the page in flight).
    assert fake.calls["gmail.messages.get"] - gets <= 1_000 - len(partial["raw.gmail_messages"]) + 75
