"""Commit a connector's page (rows, rejects, cursor) to the warehouse in one transaction.

Rows are inserted by column name from Arrow. Append-only tables ignore rows whose key is already present
(re-imports add nothing); snapshot tables (directory, contacts) and mutable ones (calendar events, which change
upstream) replace the row with the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from connectors.base import Page
from connectors.raw_schemas import SCHEMAS

# table -> conflict policy on its primary key
_POLICY: dict[str, str] = {
    "raw.mail_messages": "ignore",
    "raw.gmail_messages": "ignore",
    "raw.graph_messages": "ignore",
    "raw.manual_interactions": "ignore",
    "raw.calendar_events": "replace",
    "raw.gcal_events": "replace",
    "raw.graph_events": "replace",
    "raw.directory": "replace",
    "raw.contacts": "replace",
}

_QUARANTINE = pa.schema(
    [
        (name, pa.string())
        for name in (
            "quarantine_key",
            "kind",
            "source",
            "source_file",
            "source_position",
            "reason",
            "detail",
            "raw_excerpt",
        )
    ]
)


def _owner_column(table: str) -> str:
    schema_fields = SCHEMAS[table].names
    return "mailbox_owner" if "mailbox_owner" in schema_fields else "calendar_owner"


@dataclass(slots=True)
class LoadResult:
    """What committing pages added (rows new to the warehouse, not rows offered) and removed."""

    inserted: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    pages: int = 0

    def add(self, other: LoadResult) -> None:
        for table, n in other.inserted.items():
            self.inserted[table] = self.inserted.get(table, 0) + n
        for table, n in other.removed.items():
            self.removed[table] = self.removed.get(table, 0) + n
        self.quarantined += other.quarantined
        self.pages += other.pages


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """Execute a statement and drain its result; for inserts DuckDB answers the number of rows written."""
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> int:
    if table not in SCHEMAS:
        raise ValueError(f"unknown raw table {table!r}; known: {sorted(SCHEMAS)}")
    view = f"_page_{table.replace('.', '_')}"
    con.register(view, rows)
    verb = "insert or replace" if _POLICY[table] == "replace" else "insert or ignore"
    return _run(con, f"{verb} into {table} by name select * from {view}")


def commit_page(
    con: duckdb.DuckDBPyConnection,
    page: Page,
    *,
    source: str,
    account: str,
    stream: str,
    complete: bool = False,
) -> LoadResult:
    """Write rows, rejects and the cursor atomically; on any error nothing of the page is kept."""
    result = LoadResult(pages=1)
    _run(con, "begin transaction")
    try:
        for table, rows in page.rows.items():
            if rows.num_rows:
                result.inserted[table] = _insert(con, table, rows)
        for removal in page.removals:
            owner = _owner_column(removal.table)
            removed = _run(
                con,
                f"delete from {removal.table} where {owner} = ? and source_position = ?",
                [removal.owner, removal.source_position],
            )
            result.removed[removal.table] = result.removed.get(removal.table, 0) + removed
        if page.rejects:
            rejects = pa.Table.from_pylist([r.as_row() for r in page.rejects], schema=_QUARANTINE)
            con.register("_page_rejects", rejects)
            result.quarantined = _run(con, "insert or ignore into ops.quarantine by name select * from _page_rejects")
        _run(
            con,
            "insert or replace into ops.sync_state (source, account, stream, cursor, status, updated_at) "
            "values (?, ?, ?, ?, ?, now())",
            [source, account, stream, page.cursor, "complete" if complete else "running"],
        )
        _run(con, "commit")
    except Exception:
        _run(con, "rollback")
        raise
    finally:
        for name in ("_page_rejects", *(f"_page_{t.replace('.', '_')}" for t in page.rows)):
            con.unregister(name)
    return result


def read_cursor(con: duckdb.DuckDBPyConnection, *, source: str, account: str, stream: str) -> tuple[str | None, str]:
    """The last committed cursor and status (``running`` / ``complete``), or ``(None, 'new')``."""
    row = con.execute(
        "select cursor, status from ops.sync_state where source = ? and account = ? and stream = ?",
        [source, account, stream],
    ).fetchone()
    return (row[0], row[1]) if row else (None, "new")
