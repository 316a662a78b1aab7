"""The published BI snapshot as its readers meet it: where it is, and what it says about itself.

Light on purpose (DuckDB only): ``tiepulse status`` and ``tiepulse export`` read it. The writer is
``pipelines.bi_snapshot``; the contract of its objects is ``pipelines.bi_contract``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tiepulse.core.settings import Settings

SNAPSHOT_FILE = "bi.duckdb"
ABOUT_TABLES = ("snapshot", "snapshot_objects")
"""The tables that describe the snapshot itself (beside the contract's objects)."""


class SnapshotError(RuntimeError):
    """The snapshot cannot be read; the message says what to do."""


def snapshot_path(settings: Settings) -> Path:
    return settings.home / SNAPSHOT_FILE


@contextmanager
def open_snapshot(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published snapshot, read-only (never blocked: the pipeline writes a new file and renames it)."""
    path = snapshot_path(settings)
    if not path.exists():
        raise SnapshotError(
            f"No BI snapshot at {path}: it is published by each successful refresh. Run `tiepulse refresh` "
            "(or `tiepulse import PATH`) first."
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'").fetchall()
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class SnapshotAbout:
    published_at: dt.datetime
    refresh_run_id: str
    analysis_date: dt.date
    present: list[str]
    absent: dict[str, str]


def read_about(con: duckdb.DuckDBPyConnection) -> SnapshotAbout:
    row = con.execute("select published_at, refresh_run_id, analysis_date from snapshot").fetchone()
    if row is None:
        raise SnapshotError("The BI snapshot has no publication record; run `tiepulse refresh` to publish it again.")
    objects = con.execute(
        "select object_name, is_present, absent_reason from snapshot_objects order by object_name"
    ).fetchall()
    return SnapshotAbout(
        published_at=row[0],
        refresh_run_id=str(row[1]),
        analysis_date=row[2],
        present=[name for name, present, _ in objects if present],
        absent={name: str(reason) for name, present, reason in objects if not present},
    )
