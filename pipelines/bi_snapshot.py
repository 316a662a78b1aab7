"""Publishing the BI snapshot: ``$TIEPULSE_HOME/bi.duckdb``, written whole beside it, then swapped in atomically.

The new file is built in a private folder next to the published one (same file system), from one transaction over
the warehouse (every object from the same state of the marts), closed, flushed to disk and made 0600, and only then
renamed over ``bi.duckdb`` (``os.replace``). A reader holding the old file keeps reading the old one (its inode);
nobody ever opens the file being written, so a reader never blocks the publication, and a publication killed at any
point leaves the last published snapshot whole (its leftovers are cleared by the next one).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import duckdb

from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.bi_contract import BI_OBJECTS, Column, Plan, person_level_bi, plan
from tiepulse.pipelines.bi_published import SNAPSHOT_FILE, snapshot_path
from tiepulse.pipelines.marts_io import table_exists

WORK_DIR = ".bi-publishing"
"""Where the next snapshot is written (0700, beside the published file, so the rename stays on one file system)."""
_ATTACHED = "bi_next"

SNAPSHOT_COLUMNS = (
    Column("published_at", "?::timestamptz", "When this snapshot was published (UTC)."),
    Column("refresh_run_id", "?::varchar", "The Dagster run of the refresh that published it."),
    Column("analysis_date", "?::date", "The analysis date the marts were computed as of (TIEPULSE_AS_OF)."),
    Column("person_level_ona", "?::boolean", "Whether person-level organisational network objects are published."),
    Column("min_group_size", "?::integer", "The privacy threshold: no group-level row describes fewer people."),
    Column("tiepulse_version", "?::varchar", "Version of tiepulse that published the snapshot."),
)
OBJECT_COLUMNS = (
    Column("object_name", "varchar", "Name of the object in this file (bi.<object_name>)."),
    Column("question", "varchar", "The question the object answers."),
    Column("grain", "varchar", "What one row is."),
    Column("source_mart", "varchar", "The warehouse mart it is built from."),
    Column("is_present", "boolean", "Whether the object is in this snapshot."),
    Column("row_count", "bigint", "Rows in the object (null when absent)."),
    Column("absent_reason", "varchar", "Why the object is not in this snapshot (null when present)."),
)


@dataclass(frozen=True)
class Published:
    path: Path
    rows: dict[str, int]
    """Rows per object published."""
    absent: dict[str, str]
    """Object -> why it is not in the snapshot."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fresh_work_dir(home: Path) -> Path:
    """An empty private folder for the next snapshot (what a killed publication left there is thrown away)."""
    work = home / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700, parents=True)
    return work


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(
    con: duckdb.DuckDBPyConnection, table: str, select: str, question: str, columns: tuple[Column, ...]
) -> None:
    con.execute(f"create table {_ATTACHED}.main.{table} as {select}").fetchall()
    _comment(con, table, question, columns)


def _plans(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[list[Plan], dict[str, str]]:
    plans, absent = [], {}
    person_level = person_level_bi(settings)
    for obj in BI_OBJECTS:
        if obj.person_level_ona and not person_level:
            absent[obj.name] = "withheld: privacy.person_level_bi is off"
        elif not table_exists(con, obj.source):
            absent[obj.name] = f"{obj.source} does not exist in this warehouse"
        else:
            plans.append(plan(con, obj))
    return plans, absent


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    refresh_run_id: str,
    on_step: Callable[[str], None] = lambda _step: None,
) -> Published:
    """Write the whole ``bi`` schema from the warehouse ``con`` into a new file, then replace ``bi.duckdb`` with it.

    ``on_step`` is called after each object is written and after the file is complete and after it is published
    (the crash tests stop the process there).
    """
    published = snapshot_path(settings)
    work = _fresh_work_dir(settings.home)
    path = work / SNAPSHOT_FILE
    plans, absent = _plans(con, settings)
    rows: dict[str, int] = {}
    con.execute(f"attach {_literal(str(path))} as {_ATTACHED}").fetchall()
    try:
        with transaction(con):
            for item in plans:
                _create(con, item.obj.name, item.sql, item.obj.question, item.columns)
                rows[item.obj.name] = int(
                    con.execute(f"select count(*) from {_ATTACHED}.main.{item.obj.name}").fetchall()[0][0]
                )
                on_step(item.obj.name)
            _write_about(con, settings, refresh_run_id, rows, absent)
    finally:
        con.execute(f"detach {_ATTACHED}").fetchall()
    os.chmod(path, 0o600)
    _fsync(path)
    on_step("complete")
    os.replace(path, published)
    _fsync(settings.home)
    shutil.rmtree(work, ignore_errors=True)
    on_step("published")
    return Published(published, rows, absent)


def _write_about(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    refresh_run_id: str,
    rows: dict[str, int],
    absent: dict[str, str],
) -> None:
    """``bi.snapshot`` (when and from which refresh) and ``bi.snapshot_objects`` (which objects, how many rows)."""
    values = ", ".join(f'{c.sql} as "{c.name}"' for c in SNAPSHOT_COLUMNS)
    con.execute(
        f"create table {_ATTACHED}.main.snapshot as select {values}",
        [
            dt.datetime.now(dt.UTC),
            refresh_run_id,
            settings.as_of,
            person_level_bi(settings),
            settings.config.privacy.min_group_size,
            version("tiepulse"),
        ],
    ).fetchall()
    _comment(
        con,
        "snapshot",
        "When this snapshot was published, from which refresh, with which privacy settings.",
        SNAPSHOT_COLUMNS,
    )
    definition = ", ".join(f'"{c.name}" {c.sql}' for c in OBJECT_COLUMNS)
    con.execute(f"create table {_ATTACHED}.main.snapshot_objects ({definition})").fetchall()
    con.executemany(
        f"insert into {_ATTACHED}.main.snapshot_objects values (?, ?, ?, ?, ?, ?, ?)",
        [
            [o.name, o.question, o.grain, o.source, o.name in rows, rows.get(o.name), absent.get(o.name)]
            for o in BI_OBJECTS
        ],
    )
    _comment(
        con,
        "snapshot_objects",
        "Every object of the BI contract: present or not in this snapshot, and why.",
        OBJECT_COLUMNS,
    )


def _comment(con: duckdb.DuckDBPyConnection, table: str, text: str, columns: tuple[Column, ...]) -> None:
    target = f"{_ATTACHED}.main.{table}"
    con.execute(f"comment on table {target} is {_literal(text)}").fetchall()
    for column in columns:
        con.execute(f'comment on column {target}."{column.name}" is {_literal(column.description)}').fetchall()
