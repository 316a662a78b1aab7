"""The BI snapshot never blocks the pipeline and never half-shows: readers keep the snapshot they opened, a
publication killed at any point leaves the published one whole, and each refresh publishes a new one."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.analytics.staged import AS_OF, publish_home
from tests.stepping import GO_AHEAD, kill_after, stdin_for
from tiepulse.cli import app as cli
from tiepulse.cli.app import app
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines.bi_published import open_snapshot, read_about
from tiepulse.pipelines.bi_snapshot import WORK_DIR, publish_snapshot

ROOT = Path(__file__).resolve().parents[1]
MBOX = (Path(__file__).parent / "data" / "sent.mbox").read_text()

# A BI tool: holds a read-only connection to the snapshot and, at each line on stdin, reports what it sees
# (the refresh that published it, the interactions its ties count); "reconnect" opens the file again first.
READER = """
import json, sys, duckdb
path = sys.argv[1]
con = duckdb.connect(path, read_only=True)
def seen():
    return con.execute("select refresh_run_id, (select sum(n_interactions) from ties) from snapshot").fetchone()
print(json.dumps(seen()), flush=True)
for line in sys.stdin:
    if line.strip() == "reconnect":
        con.close()
        con = duckdb.connect(path, read_only=True)
    print(json.dumps(seen()), flush=True)
"""


class Reader:
    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.first = self._read()

    def _read(self) -> list[Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the reader stopped"
        return list(json.loads(line))

    def ask(self, command: str = "again") -> list[Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``TIEPULSE_HOME`` for the command line, as the CLI tests set it."""
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-04-01")
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setattr(cli.console, "width", 200)
    return tmp_path / "home"


@pytest.mark.slow
def test_readers_holding_the_snapshot_never_stop_an_import_and_see_the_new_one_on_reconnect(
    home: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.mbox", tmp_path / "second.mbox"
    first.write_text(MBOX)
    # other mail, not copies of the first (same sender, recipients, subject and time would fold into one)
    second.write_text(MBOX.replace("Message-ID: <", "Message-ID: <again-").replace("Subject: ", "Subject: again "))

    code, out = run("import", str(first))
    assert code == 0, out
    snapshot = home / "bi.duckdb"
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    readers = [Reader(snapshot), Reader(snapshot)]
    try:
        before = readers[0].first
        assert readers[1].first == before
        code, out = run("import", str(second))  # load and refresh while both readers hold the snapshot
        assert code == 0, out
        assert [r.ask() for r in readers] == [before, before]  # still the snapshot they opened
        after = [r.ask("reconnect") for r in readers]
    finally:
        for reader in readers:
            reader.close()
    assert after[0] == after[1] and after[0][0] != before[0] and after[0][1] > before[1]
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        logged = con.execute(
            "select summary->>'dagster_run_id' from ops.runs where kind = 'refresh' and status = 'success' "
            "order by started_at desc limit 1"
        ).fetchall()
    assert logged == [(after[0][0],)]
    code, out = run("status")
    assert code == 0 and f"by refresh (Dagster run) {after[0][0]}" in out and "did not publish" not in out


@pytest.mark.slow
def test_a_failed_refresh_keeps_the_last_snapshot_and_status_says_so(home: Path, tmp_path: Path) -> None:
    (tmp_path / "sent.mbox").write_text(MBOX)
    assert run("import", str(tmp_path / "sent.mbox"))[0] == 0
    published = (home / "bi.duckdb").read_bytes()
    with open_warehouse(home / "warehouse.duckdb") as con:  # a message from 1975 fails a blocking check
        con.execute(
            "insert into raw.mail_messages select * replace ('from-1975' as message_key, "
            "timestamptz '1975-01-01 00:00:00+00' as sent_at) from raw.mail_messages limit 1"
        ).fetchall()
    code, out = run("refresh")
    assert code == 2 and "marts.fct_messages:quality" in out
    assert (home / "bi.duckdb").read_bytes() == published
    code, out = run("status")
    assert code == 0 and "ended failure and did not publish: BI tools still see the snapshot above" in out


# Publishes a snapshot as the refresh does, reporting each step (every object written, the file complete, the
# file published) and waiting for the test's go-ahead after each (tests/stepping.py).
PUBLISHER = f"""
import sys
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.bi_snapshot import WORK_DIR, publish_snapshot

def step(name):
    print(name, flush=True)
    {GO_AHEAD}

settings = Settings()
con = connect(settings.warehouse_path)
publish_snapshot(con, settings, sys.argv[1], step)
con.close()
print("done", flush=True)
"""


def _publisher(home: Path, run_id: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TIEPULSE_HOME": str(home), "TIEPULSE_AS_OF": AS_OF.isoformat()}
    env.pop("TIEPULSE_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, run_id],
        cwd=ROOT,
        env=env,
        stdin=stdin_for(True),
        stdout=subprocess.PIPE,
        text=True,
    )


def _whole_snapshot(settings: Settings) -> str:
    """The published snapshot's refresh, after checking every object it lists is there with all its rows."""
    with open_snapshot(settings) as con:
        about = read_about(con)
        listed = dict(con.execute("select object_name, row_count from snapshot_objects where is_present").fetchall())
        for name, rows in listed.items():
            assert con.execute(f'select count(*) from "{name}"').fetchall() == [(rows,)], name
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert tables == {*listed, "snapshot", "snapshot_objects"}
    return about.refresh_run_id


@pytest.mark.slow
def test_a_publication_killed_at_any_point_leaves_the_published_snapshot_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = publish_home(tmp_path / "home")
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    settings = Settings()
    with open_warehouse(settings.warehouse_path) as con:
        steps = [*publish_snapshot(con, settings, "first").rows, "complete", "published"]
    assert _whole_snapshot(settings) == "first"

    # killed after the first object, half way, with the file complete but not yet renamed, and once published
    for n, expected in ((1, "first"), (len(steps) // 2, "first"), (len(steps) - 1, "first"), (len(steps), "killed")):
        seen = kill_after(_publisher(home, "killed"), n)
        assert [line.strip() for line in seen] == steps[:n]
        assert _whole_snapshot(settings) == expected, f"killed after {steps[n - 1]}"
        assert stat.S_IMODE((home / "bi.duckdb").stat().st_mode) == 0o600

    done = _publisher(home, "next")
    out, _ = done.communicate(input="\n" * len(steps), timeout=300)
    assert done.returncode == 0 and out.strip().endswith("done")
    assert _whole_snapshot(settings) == "next"
    assert not (home / WORK_DIR).exists()  # what the killed publications left is gone
