"""A Graph sync killed with SIGKILL mid-way, then run again, ends exactly like an uninterrupted sync."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.connectors.microsoft_support import configure, mailbox_rows, seed, sync
from tests.fakes.microsoft_server import FakeMicrosoft
from tests.stepping import GO_AHEAD, kill_after, stdin_for
from tiepulse.core.warehouse import migrate

ROOT = Path(__file__).resolve().parents[2]

# Syncs every configured mailbox, printing a line after each committed page and waiting for the test's go-ahead
# (tests/stepping.py): without it, a busy machine could let the sync finish before the test kills it.
SCRIPT = f"""
import sys
from tiepulse.pipelines.providers.microsoft import microsoft_sources
from tiepulse.pipelines.sync import sync_account
from tests.connectors.microsoft_support import quick_policy
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

settings = Settings()
con = connect(settings.warehouse_path)

def on_page(stream, result):
    print("committed", stream, flush=True)
    {GO_AHEAD}

for src in microsoft_sources(settings, source="outlook", retry=quick_policy()):
    sync_account(con, src, pseudonym_key=None, on_page=on_page)
print("done", flush=True)
con.close()
"""


def run(env: dict[str, str], *, stepped: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, stdin=stdin_for(stepped), stdout=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_killed_sync_resumes_without_loss_or_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeMicrosoft(tmp_path / "tls", latency=0.01) as fake:
        seed(fake, n=30)
        settings = configure(monkeypatch, tmp_path, fake, page_size=4)
        clean = duckdb.connect(str(tmp_path / "clean.duckdb"))
        migrate(clean)
        sync(clean, settings, source="outlook")
        expected = mailbox_rows(clean)
        clean.close()
        assert len(expected) == 90

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        lines = kill_after(run(env, stepped=True), 7)
        assert all(line.startswith("committed") for line in lines), lines

        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        partial = mailbox_rows(con)
        con.close()
        assert 0 < len(partial) < len(expected)

        again = run(env)
        out, _ = again.communicate(timeout=120)
        assert again.returncode == 0 and out.rstrip().endswith("done")
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        assert mailbox_rows(con) == expected
        states = con.execute("select count(*) from ops.sync_state where status = 'complete'").fetchone()
        con.close()
        assert states == (2,)  # one cursor per mailbox (stream mail)
