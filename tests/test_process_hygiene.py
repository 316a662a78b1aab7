"""No orphans, no silent kills (issue 15, item 6): workers die with their parent, a killed run shows as interrupted.

Each child is stopped at a known point (it reports and waits on stdin, or the test sees its worker appear), killed
with SIGKILL, and the test polls /proc with a bounded deadline until the workers are gone.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
MBOX = Path(__file__).parent / "data" / "sent.mbox"
DEADLINE_SECONDS = 60


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone: it holds no memory and runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if _alive(p)}


def _poll(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"still waiting after {DEADLINE_SECONDS} s: {what}"
        time.sleep(0.05)


def _kill_and_expect_no_orphans(process: subprocess.Popen[str], workers: set[int]) -> None:
    assert workers, "the child started no worker"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    _poll(lambda: not any(_alive(p) for p in workers), f"workers {sorted(workers)} outlive their parent")


def _dagster_run_started(instance: Path) -> bool:
    """A run in the Dagster instance's run storage (read without taking part in its writes)."""
    runs = instance / "history" / "runs.db"
    if not runs.exists():
        return False
    with closing(sqlite3.connect(f"file:{runs}?mode=ro", uri=True, timeout=5)) as db:
        try:
            return bool(db.execute("select count(*) from runs").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is still being created
            return False


def _warehouse_slot_taken(instance: Path) -> bool:
    """A step of a run holds the warehouse pool's slot (read as ``_dagster_run_started`` reads)."""
    index = instance / "history" / "runs" / "index.db"
    if not index.exists():
        return False
    with closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=5)) as db:
        try:
            query = "select count(*) from concurrency_slots where run_id is not null and not deleted"
            return bool(db.execute(query).fetchone()[0])
        except sqlite3.OperationalError:
            return False


@pytest.fixture
def env(cli_home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


# The import's own functions, as `tiepulse import` calls them, stopped after the first page while the parse
# workers (forkserver children) are up.
IMPORT_SCRIPT = """
import sys
from pathlib import Path
from tiepulse.core.runlog import record_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.file_import import import_paths

def pause(source, reached, total):
    print("page", flush=True)
    sys.stdin.readline()

settings = Settings()
con = connect(settings.warehouse_path)
with record_run(con, "import"):
    import_paths(con, [Path(sys.argv[1])], settings, on_page=pause)
"""


@pytest.mark.slow
def test_a_killed_import_leaves_no_workers_and_shows_as_interrupted(tmp_path: Path, env: dict[str, str]) -> None:
    mbox = tmp_path / "big.mbox"
    one = "".join(
        f"From x Mon Jan  6 10:00:00 2020\nMessage-ID: <m{n}@acme.com>\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n"
        f"From: ana@acme.com\nTo: p{n % 50}@acme.com\nSubject: s\n\n{'x' * 2000}\n\n"
        for n in range(5000)
    )
    mbox.write_text(one)  # over 8 MB: parsed in worker processes
    config = tmp_path / "config.yaml"
    config.write_text("imports: {workers: 2}\n")
    env["TIEPULSE_CONFIG"] = str(config)
    process = subprocess.Popen(
        [sys.executable, "-c", IMPORT_SCRIPT, str(mbox)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "page"
    _poll(lambda: len(_descendants(process.pid)) >= 3, "the fork server and two parse workers")
    _kill_and_expect_no_orphans(process, _descendants(process.pid))

    code, out = _cli("status")
    assert code == 0 and "interrupted" in out and "running" not in out, out
    code, out = _cli("import", str(MBOX), "--no-refresh")
    assert code == 0, out
    code, out = _cli("sql", "select kind, status from ops.runs order by started_at")
    assert [line.split() for line in out.splitlines() if "import" in line] == [
        ["│", "import", "│", "interrupted", "│"],
        ["│", "import", "│", "success", "│"],
    ], out


@pytest.mark.slow
def test_a_killed_refresh_leaves_no_worker_and_shows_as_interrupted(env: dict[str, str], cli_home: Path) -> None:
    code, out = _cli("import", str(MBOX), "--no-refresh")
    assert code == 0, out
    process = subprocess.Popen(
        [sys.executable, "-c", "from tiepulse.cli.app import main; main()", "refresh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # Dagster's run starts once the refresh is logged as running; the Great Expectations worker is up by then.
    _poll(lambda: _dagster_run_started(cli_home / "dagster"), "the refresh's Dagster run")
    _poll(lambda: bool(_descendants(process.pid)), "the Great Expectations worker")
    _poll(lambda: _warehouse_slot_taken(cli_home / "dagster"), "a step holding the warehouse pool's slot")
    _kill_and_expect_no_orphans(process, _descendants(process.pid))

    code, out = _cli("status")
    assert code == 0, out
    runs = [line.split("│")[4].strip() for line in out.splitlines() if line.startswith("│ refresh")]
    assert runs == ["interrupted"], out
    # the killed run's slot is freed: the next refresh runs instead of waiting for it for ever
    again = subprocess.run(
        [sys.executable, "-c", "from tiepulse.cli.app import main; main()", "refresh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and "all quality checks passed" in again.stdout, again.stdout + again.stderr
