"""Commit connector pages (rows, removals, rejects, cursor) to the warehouse, atomically.

Rows are inserted by column name from Arrow. Each raw table has a key: append-only tables keep the row already
present (re-imports add nothing); snapshot tables (directory, contacts) and mutable ones (calendar events, which
change upstream) take the newest row. Keys are enforced here with set operations (dedupe the page, anti-join the
table) rather than with primary-key indexes, which cost DuckDB three times as much on bulk loads; the loader is the
only writer of raw tables.

Several pages (for instance many small files) may share one transaction: each still carries its own cursor, so
whatever commits, commits with the cursors that cover it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl
import pyarrow as pa

from connectors.base import Page
from connectors.raw_schemas import SCHEMAS
from tiepulse.warehouse import transaction

_MESSAGE_KEY = ("message_key", "mailbox_owner")
_EVENT_KEY = ("event_key", "calendar_owner")

# table -> (key columns, policy when the key is already present)
_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "raw.mail_messages": (_MESSAGE_KEY, "keep"),
    "raw.gmail_messages": (_MESSAGE_KEY, "keep"),
    "raw.graph_messages": (_MESSAGE_KEY, "keep"),
    "raw.manual_interactions": (("row_key",), "keep"),
    "raw.calendar_events": (_EVENT_KEY, "replace"),
    "raw.gcal_events": (_EVENT_KEY, "replace"),
    "raw.graph_events": (_EVENT_KEY, "replace"),
    "raw.directory": (("email",), "replace"),
    "raw.contacts": (("owner", "email"), "replace"),
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


@dataclass(frozen=True, slots=True)
class PageCommit:
    """A page and the cursor stream it advances."""

    page: Page
    source: str
    account: str
    stream: str
    complete: bool = False


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """Execute a statement and drain its result; for inserts and deletes DuckDB answers the rows affected."""
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _owner_column(table: str) -> str:
    return "mailbox_owner" if "mailbox_owner" in SCHEMAS[table].names else "calendar_owner"


def _unique(rows: pa.Table, keys: tuple[str, ...]) -> bool:
    """No key twice in the page (a hash of the key columns, read from Arrow without a copy)."""
    frame = pl.from_arrow(rows.select(list(keys)))
    return isinstance(frame, pl.DataFrame) and not frame.is_duplicated().any()


def _upsert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> int:
    if table not in _TABLES:
        raise ValueError(f"unknown raw table {table!r}; known: {sorted(_TABLES)}")
    keys, policy = _TABLES[table]
    key_list = ", ".join(keys)
    view = f"_page_{table.replace('.', '_')}"
    con.register(view, rows)
    # Within a page the last row of a key wins (the newest revision for mutable sources).
    deduped = (
        f"select * from (select *, row_number() over () as _n from {view}) "
        f"qualify _n = max(_n) over (partition by {key_list})"
    )
    if policy == "replace":
        _run(con, f"delete from {table} where ({key_list}) in (select ({key_list}) from {view})")
        source = deduped
    elif _unique(rows, keys):  # the usual page (mail sources deduplicate theirs): nothing for the window to drop
        return _run(con, f"insert into {table} by name select * from {view} anti join {table} using ({key_list})")
    else:
        source = f"select * from ({deduped}) anti join {table} using ({key_list})"
    return _run(con, f"insert into {table} by name select * exclude (_n) from ({source})")


def _apply(con: duckdb.DuckDBPyConnection, item: PageCommit, result: LoadResult) -> None:
    page = item.page
    for table, rows in page.rows.items():
        if rows.num_rows:
            added = _upsert(con, table, rows)
            result.inserted[table] = result.inserted.get(table, 0) + added
    for removal in page.removals:
        removed = _run(
            con,
            f"delete from {removal.table} where {_owner_column(removal.table)} = ? and source_position = ?",
            [removal.owner, removal.source_position],
        )
        result.removed[removal.table] = result.removed.get(removal.table, 0) + removed
    for change in page.status_changes:
        if "status" not in SCHEMAS[change.table].names:
            raise ValueError(f"{change.table} has no status column")
        _run(
            con,
            f"update {change.table} set status = ? where {_owner_column(change.table)} = ? and source_position = ?",
            [change.status, change.owner, change.source_position],
        )
    if page.rejects:
        rejects = pa.Table.from_pylist([r.as_row() for r in page.rejects], schema=_QUARANTINE)
        con.register("_page_rejects", rejects)
        result.quarantined += _run(con, "insert or ignore into ops.quarantine by name select * from _page_rejects")
    _run(
        con,
        "insert or replace into ops.sync_state (source, account, stream, cursor, status, updated_at) "
        "values (?, ?, ?, ?, ?, now())",
        [item.source, item.account, item.stream, page.cursor, "complete" if item.complete else "running"],
    )
    result.pages += 1


def commit_pages(con: duckdb.DuckDBPyConnection, items: list[PageCommit]) -> list[LoadResult]:
    """Write every page's rows, removals, rejects and cursor in one transaction; on error nothing is kept.

    Returns what each page changed, in order.
    """
    results = [LoadResult() for _ in items]
    views = {"_page_rejects"} | {f"_page_{t.replace('.', '_')}" for i in items for t in i.page.rows}
    try:
        with transaction(con):
            for item, result in zip(items, results, strict=True):
                _apply(con, item, result)
    finally:
        for name in views:
            con.unregister(name)
    return results


def commit_page(
    con: duckdb.DuckDBPyConnection,
    page: Page,
    *,
    source: str,
    account: str,
    stream: str,
    complete: bool = False,
) -> LoadResult:
    """Write one page's rows, removals, rejects and cursor atomically."""
    return commit_pages(con, [PageCommit(page, source, account, stream, complete)])[0]


def read_cursor(con: duckdb.DuckDBPyConnection, *, source: str, account: str, stream: str) -> tuple[str | None, str]:
    """The last committed cursor and status (``running`` / ``complete``), or ``(None, 'new')``."""
    row = con.execute(
        "select cursor, status from ops.sync_state where source = ? and account = ? and stream = ?",
        [source, account, stream],
    ).fetchone()
    return (row[0], row[1]) if row else (None, "new")
