"""A reader holding the working warehouse (a careless BI set-up) makes a writer wait, then stop with one line naming
that process; `tiepulse status` says the run was blocked, and the next writer logs it (issue 12 item 9, issue 15)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.core.runlog import blocked_runs

MBOX = Path(__file__).parent / "data" / "sent.mbox"
HOLDER = "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print('holding', flush=True); input()"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


@pytest.fixture
def reader(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[str]]:
    """A warehouse with one import, held by a read-only connection in another process."""
    assert run("import", str(MBOX), "--no-refresh")[0] == 0
    monkeypatch.setenv("TIEPULSE_LOCK_WAIT_SECONDS", "0.5")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cli_home / "warehouse.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    yield holder
    if holder.poll() is None:
        holder.communicate("\n", timeout=30)


def run_lines(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:5]] for line in out.splitlines() if line.startswith("│ ")]


@pytest.mark.parametrize("command", [["refresh"], ["import", str(MBOX)]])
def test_a_writer_stops_naming_the_reader_and_status_tells_the_truth(
    reader: subprocess.Popen[str], command: list[str]
) -> None:
    code, out = run(*command)
    assert code == 2 and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 1, out
    assert f"held by another process, PID {reader.pid} ({sys.executable} -c import duckdb" in out
    assert "waited 0.5 s" in out and "TIEPULSE_LOCK_WAIT_SECONDS" in out

    code, out = run("status")
    assert code == 0, out
    newest = next(row for row in run_lines(out) if row[0] in ("import", "refresh"))
    assert newest[0] == command[0] and newest[3] == "blocked", out
    assert f"PID {reader.pid}" in out

    reader.communicate("\n", timeout=30)
    code, out = run("import", str(MBOX), "--no-refresh")  # the next writer logs the blocked run in ops.runs
    assert code == 0, out
    code, out = run("sql", "select kind, status from ops.runs order by started_at")
    assert [row[:2] for row in run_lines(out)][-2:] == [[command[0], "blocked"], ["import", "success"]], out


def test_a_dagster_run_blocked_by_a_reader_fails_with_the_line_and_is_kept(
    reader: subprocess.Popen[str], cli_home: Path
) -> None:
    import dagster as dg

    from tiepulse.pipelines.resources import WarehouseResource

    resource = WarehouseResource()
    with (
        pytest.raises(dg.Failure, match=rf"held by another process, PID {reader.pid} "),
        resource.yield_for_execution(dg.build_init_resource_context()),
    ):
        pass
    assert [run["kind"] for run in blocked_runs(cli_home)] == ["dagster run"]
