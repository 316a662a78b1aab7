"""The run log (``ops.runs``): what ran, when, how long, and what it did."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


@contextmanager
def record_run(con: duckdb.DuckDBPyConnection, kind: str) -> Iterator[dict[str, Any]]:
    """Log a run; the caller fills the yielded dict with a summary. A failure is logged and re-raised."""
    run_id = uuid.uuid4().hex
    summary: dict[str, Any] = {}
    con.execute(
        "insert into ops.runs (run_id, kind, started_at, status) values (?, ?, now(), 'running')", [run_id, kind]
    ).fetchall()
    status = "failure"
    try:
        yield summary
        status = "success"
    finally:
        con.execute(
            "update ops.runs set finished_at = now(), status = ?, summary = ? where run_id = ?",
            [status, json.dumps(summary, default=str), run_id],
        ).fetchall()
