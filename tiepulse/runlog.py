"""The run log (``ops.runs``): what ran, when, how long, and what it did."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


class RunSummary(dict[str, Any]):
    """What a run did, for ``ops.runs.summary``; ``status`` is how it ended when it ends without an exception
    (``success``, or ``partial`` when some of its parts failed)."""

    status: str = "success"


@contextmanager
def record_run(con: duckdb.DuckDBPyConnection, kind: str) -> Iterator[RunSummary]:
    """Log a run; the caller fills the yielded summary. A failure is logged as ``failure`` and re-raised."""
    run_id = uuid.uuid4().hex
    summary = RunSummary()
    con.execute(
        "insert into ops.runs (run_id, kind, started_at, status) values (?, ?, now(), 'running')", [run_id, kind]
    ).fetchall()
    status = "failure"
    try:
        yield summary
        status = summary.status
    finally:
        con.execute(
            "update ops.runs set finished_at = now(), status = ?, summary = ? where run_id = ?",
            [status, json.dumps(summary, default=str), run_id],
        ).fetchall()
