"""The run log (``ops.runs``): what ran, when, how long, and what it did."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from tiepulse.core.ducklake import is_lake
from tiepulse.core.keyed_writes import insert_missing
from tiepulse.core.private_files import write_private

BLOCKED_RUNS = "blocked_runs.jsonl"
"""Beside the warehouse: runs that could not open it (another process held it), until a writer logs them."""

_ACTIVE: set[str] = set()
"""Runs of this process still going (a nested run must not mark its parent interrupted)."""


class RunSummary(dict[str, Any]):
    """What a run did, for ``ops.runs.summary``; ``status`` is how it ended when it ends without an exception
    (``success``; ``partial`` when some of its parts failed; ``failure`` when it did nothing it was asked)."""

    status: str = "success"
    run_id: str = ""


@contextmanager
def record_run(con: duckdb.DuckDBPyConnection, kind: str) -> Iterator[RunSummary]:
    """Log a run; the caller fills the yielded summary. A failure is logged as ``failure`` and re-raised.

    A run still marked ``running`` that is not this process's was killed, and is marked ``interrupted``: on a
    DuckDB file any such run, since ``con`` is writable and so no other process is writing; on a lake, where several
    writers run at once, only a run of this machine whose process is gone (another machine's runs are left to it).
    """
    run_id = uuid.uuid4().hex
    summary = RunSummary()
    summary.run_id = run_id
    mark_interrupted(con)
    con.execute(
        "insert into ops.runs (run_id, kind, started_at, status, host, pid) values (?, ?, now(), 'running', ?, ?)",
        [run_id, kind, socket.gethostname(), os.getpid()],
    ).fetchall()
    _ACTIVE.add(run_id)
    status = "failure"
    try:
        yield summary
        status = summary.status
    finally:
        _ACTIVE.discard(run_id)
        con.execute(
            "update ops.runs set finished_at = now(), status = ?, summary = ? where run_id = ?",
            [status, json.dumps(summary, default=str), run_id],
        ).fetchall()


def mark_interrupted(con: duckdb.DuckDBPyConnection) -> None:
    """Mark ``interrupted`` the runs still ``running`` whose process was killed (see ``record_run``)."""
    mine = list(_ACTIVE) or [""]
    dead = None
    if is_lake(con):
        here = con.execute(
            "select run_id, pid from ops.runs where status = 'running' and (host = ? or host is null)",
            [socket.gethostname()],
        ).fetchall()
        dead = [run for run, pid in here if pid is None or not process_alive(pid)]
    con.execute(
        "update ops.runs set status = 'interrupted' where status = 'running' and not list_contains(?, run_id) "
        "and (?::varchar[] is null or list_contains(?, run_id))",
        [mine, dead, dead],
    ).fetchall()


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def amend_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, **summary: Any) -> None:
    """Change how a logged run ended and add to its summary (the refresh after an import failed, for instance)."""
    con.execute(
        "update ops.runs set status = ?, summary = json_merge_patch(coalesce(summary, '{}'), ?) where run_id = ?",
        [status, json.dumps(summary, default=str), run_id],
    ).fetchall()


def note_blocked_run(home: Path, kind: str, started_at: dt.datetime, why: str) -> None:
    """Keep a run that never got the warehouse (so cannot log itself in it) where ``tiepulse status`` sees it."""
    path = home / BLOCKED_RUNS
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    line = {"run_id": uuid.uuid4().hex, "kind": kind, "started_at": started_at.isoformat(), "why": why}
    write_private(path, before + json.dumps(line) + "\n")


def blocked_runs(home: Path) -> list[dict[str, Any]]:
    """The runs ``note_blocked_run`` kept that no writer has logged yet, oldest first."""
    path = home / BLOCKED_RUNS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def log_blocked_runs(con: duckdb.DuckDBPyConnection, home: Path) -> None:
    """Move the kept blocked runs into ``ops.runs`` (status ``blocked``); ``con`` is writable."""
    runs = blocked_runs(home)
    for run in runs:
        insert_missing(
            con,
            "ops.runs",
            "select ?::varchar as run_id, ?::varchar as kind, ?::timestamptz as started_at, "
            "?::timestamptz as finished_at, 'blocked' as status, ?::json as summary",
            ["run_id"],
            [run["run_id"], run["kind"], run["started_at"], run["started_at"], json.dumps({"error": run["why"]})],
        )
    if runs:
        (home / BLOCKED_RUNS).unlink(missing_ok=True)
