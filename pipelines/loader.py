"""Commit connector pages (rows, removals, rejects, cursor) to the warehouse, atomically.

Rows are inserted by column name from Arrow. Each raw table has a key: append-only tables keep the row already
present (re-imports add nothing); snapshot tables (directory, contacts) and mutable ones (calendar events, which
change upstream) take the newest row; a row that differs from the stored one of its key replaces it and counts as
updated, one offered again unchanged is left alone and counts nowhere. Keys are enforced here with set operations
(dedupe the page, anti-join the table) rather than with primary-key indexes, which cost DuckDB three times as much
on bulk loads; the loader is the only writer of raw tables. Each table's key and policy are declared by its
provider (``tiepulse.pipelines.providers``).

Removals: a Gmail or .ics removal deletes the row with that source id. Graph rows have copies
(``ops.item_copies``: the same message in Inbox and Sent Items of one mailbox is one row with two copies), so a
Graph removal deletes the copy, and the row only with its last copy. A full re-read of a folder or calendar marks
its copies stale on its first page; its last page (committed with the new delta link) removes the copies still
stale and the rows left without one. A re-read killed half-way resumes from its committed next link with the
marks in place, so nothing is removed before the re-read is complete.

Several pages (for instance many small files) may share one transaction: each still carries its own cursor, so
whatever commits, commits with the cursors that cover it. Consecutive pages that only append (rows of ``keep``
tables and rejects, as mail files give) are inserted with one statement per table, and each stream's cursor is
written once, after its last page: one scan of the stored keys, of the pages' owners only, per transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tiepulse.connectors.base import Copies, Page, Removal
from tiepulse.connectors.raw_schemas import SCHEMAS
from tiepulse.core.keyed_writes import insert_missing, replace_keyed
from tiepulse.core.warehouse import write_retrying
from tiepulse.pipelines.erasure_list import ErasureFilter
from tiepulse.pipelines.marts_io import table_columns
from tiepulse.pipelines.providers import raw_table

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


def _count(into: dict[str, int], table: str, n: int) -> None:
    into[table] = into.get(table, 0) + n


@dataclass(slots=True)
class LoadResult:
    """What committing pages changed: rows new to the warehouse (not rows offered), rows that replaced or changed a
    stored row with the same key, and rows removed."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    withheld: int = 0
    """Rows dropped because they concern an erased person (``ops.erasure_list``)."""
    pages: int = 0

    def add(self, other: LoadResult) -> None:
        for mine, theirs in ((self.inserted, other.inserted), (self.updated, other.updated)):
            for table, n in theirs.items():
                _count(mine, table, n)
        for table, n in other.removed.items():
            _count(self.removed, table, n)
        self.quarantined += other.quarantined
        self.withheld += other.withheld
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
    owner = raw_table(table).owner
    if owner is None:
        raise ValueError(f"{table} has no owner column: its rows cannot be removed by source id")
    return owner


def _owners_of(table: str, rows: pa.Table) -> tuple[str, list[object]]:
    """A condition on ``table``'s stored rows that keeps every row ``rows`` may collide with, and its parameters:
    when the owner is part of the key, the rows' owners' rows (a zone-map filter: an owner's rows lie together),
    else every row."""
    declared = raw_table(table)
    if declared.owner not in declared.key:
        return "true", []
    owners = pc.unique(rows.column(declared.owner)).to_pylist()
    return f"{declared.owner} in ({', '.join('?' for _ in owners)})", owners


def _stored_keys(table: str, rows: pa.Table) -> tuple[str, list[object]]:
    """The stored keys ``rows`` may collide with, as a query and its parameters (``_owners_of``)."""
    mine, params = _owners_of(table, rows)
    return f"select {', '.join(raw_table(table).key)} from {table} where {mine}", params


def _numbered(pages: list[pa.Table]) -> pa.Table:
    """The pages' rows in one table, each with its page (``_page``) and its row number in the page (``_n``)."""
    numbered = [
        rows.append_column("_page", pa.repeat(pa.scalar(i, pa.int32()), rows.num_rows)).append_column(
            "_n", pa.array(range(rows.num_rows), pa.int64())
        )
        for i, rows in enumerate(pages)
    ]
    return pa.concat_tables(numbered, promote_options="default")


def _insert_new(con: duckdb.DuckDBPyConnection, table: str, pages: list[pa.Table]) -> list[int]:
    """Insert the rows of consecutive pages whose key is not stored yet, in one statement, as inserting the pages
    one after another would: within a page the last row of a key wins, across pages the first page. Returns the
    rows new to the table per page."""
    offered = _numbered(pages)
    key_list = ", ".join(raw_table(table).key)
    stored, params = _stored_keys(table, offered)
    view = f"_page_{table.replace('.', '_')}"
    con.register(view, offered)
    stamp = _stamp(con, table)
    distinct = con.execute(f"select count(*) = count(distinct ({key_list})) from {view}").fetchall()[0][0]
    if distinct:  # the usual case (a parse keeps one row per key): no ranking, no copy of the rows
        added = [rows.num_rows for rows in pages]
        keys = f"(select {key_list}, _page from {view})"
        known = f"select _page, count(*) from {keys} semi join ({stored}) using ({key_list}) group by _page"
        for page, count in con.execute(known, params).fetchall():
            added[page] -= int(count)
        fresh = f"{view} anti join ({stored}) using ({key_list})"
        _run(con, f"insert into {table} by name select * exclude (_page, _n){stamp} from {fresh}", params)
        return added
    _run(
        con,
        f"create or replace temp table _page_fresh as select * from {view} anti join ({stored}) using ({key_list}) "
        f"qualify row_number() over (partition by {key_list} order by _page, _n desc) = 1",
        params,
    )
    added = [0] * len(pages)
    for page, count in con.execute("select _page, count(*) from _page_fresh group by _page").fetchall():
        added[page] = int(count)
    _run(con, f"insert into {table} by name select * exclude (_page, _n){stamp} from _page_fresh")
    _run(con, "drop table _page_fresh")
    return added


def _stamp(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """``imported_at`` for the select list when the table has that column (set here: a DuckLake has no ``default
    now()``)."""
    return ", now() as imported_at" if any(name == "imported_at" for name, _ in table_columns(con, table)) else ""


def _write_rows(con: duckdb.DuckDBPyConnection, table: str, pages: list[pa.Table]) -> list[tuple[int, int]]:
    """Write consecutive pages' rows of one table by its key policy; (rows new to the table, stored rows replaced)
    per page."""
    if raw_table(table).policy == "keep":
        return [(added, 0) for added in _insert_new(con, table, pages)]
    return _upsert_pages(con, table, pages)


def _upsert_pages(con: duckdb.DuckDBPyConnection, table: str, pages: list[pa.Table]) -> list[tuple[int, int]]:
    """Write consecutive pages of a table whose rows replace stored ones, as writing them one after another would:
    in one go when no key is offered by two of them (the usual case: a calendar file per person; a day of a
    thousand calendars written file by file was half the import), else page after page. Within a page the last row
    of a key wins; a row offered again unchanged is left alone. Only the pages' owners' stored rows are read (a
    zone-map filter). Returns (rows new to the table, stored rows replaced) per page."""
    keys = raw_table(table).key
    key_list = ", ".join(keys)
    offered = _numbered(pages)
    view = f"_page_{table.replace('.', '_')}"
    con.register(view, offered)
    shared = f"select 1 from {view} group by {key_list} having count(distinct _page) > 1 limit 1"
    if len(pages) > 1 and con.execute(shared).fetchall():
        return [_upsert_pages(con, table, [rows])[0] for rows in pages]
    columns = ", ".join(f'"{name}"' for name in offered.column_names if name not in ("_page", "_n"))
    mine, owners = _owners_of(table, offered)
    stored = f"(select * from {table} where {mine}) t"
    # Within a page the last row of a key wins; of those, the rows new or different from the stored row of their key.
    last = f"select * from {view} qualify row_number() over (partition by {key_list} order by _n desc) = 1"
    paged = f"(select {key_list}, _page from ({last})) l"
    _run(
        con,
        f"create or replace temp table _page_changed as select {columns}, _page from ({last}) "
        f"except select {columns}, l._page from {stored} join {paged} using ({key_list})",
        owners,
    )
    counts = [[0, 0] for _ in pages]
    found = f"select _page, count(*) from _page_changed c semi join {stored} using ({key_list}) group by _page"
    for page, count in con.execute(found, owners).fetchall():
        counts[page][1] = int(count)
    for page, count in con.execute("select _page, count(*) from _page_changed group by _page").fetchall():
        counts[page][0] = int(count) - counts[page][1]
    doomed = f"{mine} and ({key_list}) in (select ({key_list}) from _page_changed)"
    _run(con, f"delete from {table} t where {doomed}", owners)
    _run(con, f"insert into {table} by name select * exclude (_page){_stamp(con, table)} from _page_changed")
    _run(con, "drop table _page_changed")
    return [(added, replaced) for added, replaced in counts]


def _mark_stale(con: duckdb.DuckDBPyConnection, copies: Copies) -> None:
    """A re-read of the scope begins: its stored copies (inside the window, when given) are stale until seen."""
    params: list[object] = [copies.table, copies.owner, copies.scope]
    inside = ""
    if copies.restart_window is not None:
        if "start_at" not in SCHEMAS[copies.table].names:
            raise ValueError(f"{copies.table} has no start_at / end_at for a windowed re-read")
        key, owner = raw_table(copies.table).key
        inside = (
            f" and record_key in (select {key} from {copies.table} where {owner} = ? and start_at < ? and end_at > ?)"
        )
        params += [copies.owner, copies.restart_window[1], copies.restart_window[0]]
    _run(
        con, f"update ops.item_copies set stale = true where raw_table = ? and owner = ? and scope = ?{inside}", params
    )


def _record_copies(con: duckdb.DuckDBPyConnection, copies: Copies) -> None:
    """The page's items are (again) copies of their rows, in this scope, not stale."""
    con.register("_page_copies", copies.items)
    _run(
        con,
        "delete from ops.item_copies where raw_table = ? and owner = ? "
        "and item_id in (select item_id from _page_copies)",
        [copies.table, copies.owner],
    )
    _run(
        con,
        "insert into ops.item_copies (raw_table, owner, scope, item_id, record_key) "
        "select ?, ?, ?, item_id, record_key from _page_copies",
        [copies.table, copies.owner, copies.scope],
    )


def _drop_copies(con: duckdb.DuckDBPyConnection, table: str, owner: str, doomed: str, params: list[object]) -> int:
    """Delete the copies of ``owner``'s rows in ``table`` that match ``doomed`` (a condition on ops.item_copies),
    then the rows left without any copy; return how many rows went."""
    key, owner_column = raw_table(table).key
    mine = "raw_table = ? and owner = ?"
    removed = _run(
        con,
        f"delete from {table} where {owner_column} = ? "
        f"and {key} in (select record_key from ops.item_copies where {mine} and ({doomed})) "
        f"and {key} not in (select record_key from ops.item_copies where {mine} and not ({doomed}))",
        [owner, table, owner, *params, table, owner, *params],
    )
    _run(con, f"delete from ops.item_copies where {mine} and ({doomed})", [table, owner, *params])
    return removed


def _remove(con: duckdb.DuckDBPyConnection, removals: list[Removal], result: LoadResult) -> None:
    copied: dict[tuple[str, str], list[str]] = {}
    for removal in removals:
        if raw_table(removal.table).copied:
            copied.setdefault((removal.table, removal.owner), []).append(removal.source_position)
            continue
        removed = _run(
            con,
            f"delete from {removal.table} where {_owner_column(removal.table)} = ? and source_position = ?",
            [removal.owner, removal.source_position],
        )
        _count(result.removed, removal.table, removed)
    for (table, owner), ids in copied.items():
        con.register("_page_removed", pa.table({"item_id": pa.array(ids, pa.string())}))
        removed = _drop_copies(con, table, owner, "item_id in (select item_id from _page_removed)", [])
        _count(result.removed, table, removed)


def _plain(page: Page) -> bool:
    """Rows and rejects, nothing else (no copies, removals or status changes): such pages' rows can be written
    together, table by table."""
    return not (page.copies or page.removals or page.status_changes)


def _insert_plain(
    con: duckdb.DuckDBPyConnection, run: list[tuple[PageCommit, LoadResult]], erased: ErasureFilter | None
) -> None:
    """The rows of consecutive plain pages, a few statements per table (each scans the stored keys once)."""
    parts: dict[str, list[tuple[LoadResult, pa.Table]]] = {}
    for item, result in run:
        for table, rows in item.page.rows.items():
            if rows.num_rows and erased is not None:
                rows, withheld = erased.filter_rows(con, rows)
                result.withheld += withheld
            if rows.num_rows:
                parts.setdefault(table, []).append((result, rows))
    for table, offered in parts.items():
        counts = _write_rows(con, table, [rows for _, rows in offered])
        for (result, _), (added, replaced) in zip(offered, counts, strict=True):
            _count(result.inserted, table, added)
            if replaced:
                _count(result.updated, table, replaced)


def _apply(
    con: duckdb.DuckDBPyConnection,
    item: PageCommit,
    result: LoadResult,
    erased: ErasureFilter | None,
    *,
    rows_written: bool = False,
) -> None:
    page = item.page
    for copies in page.copies:
        if copies.restart:
            _mark_stale(con, copies)
    for table, rows in () if rows_written else page.rows.items():
        if rows.num_rows and erased is not None:
            rows, withheld = erased.filter_rows(con, rows)
            result.withheld += withheld
        if rows.num_rows:
            [(added, replaced)] = _write_rows(con, table, [rows])
            _count(result.inserted, table, added)
            if replaced:
                _count(result.updated, table, replaced)
    for copies in page.copies:
        if copies.items.num_rows:
            _record_copies(con, copies)
    _remove(con, page.removals, result)
    for copies in page.copies:
        if copies.final:
            swept = _drop_copies(con, copies.table, copies.owner, "scope = ? and stale", [copies.scope])
            if swept:
                _count(result.removed, copies.table, swept)
    for change in page.status_changes:
        if "status" not in SCHEMAS[change.table].names:
            raise ValueError(f"{change.table} has no status column")
        changed = _run(
            con,
            f"update {change.table} set status = ? "
            f"where {_owner_column(change.table)} = ? and source_position = ? and status is distinct from ?",
            [change.status, change.owner, change.source_position, change.status],
        )
        if changed:
            _count(result.updated, change.table, changed)
    if page.rejects:
        rejects = pa.Table.from_pylist([r.as_row() for r in page.rejects], schema=_QUARANTINE)
        if erased is not None:
            rejects, _ = erased.filter_rows(con, rejects)
        con.register("_page_rejects", rejects)
        result.quarantined += insert_missing(
            con, "ops.quarantine", "select *, now() as quarantined_at from _page_rejects", ["quarantine_key"]
        )
    result.pages += 1


def _write_cursors(con: duckdb.DuckDBPyConnection, items: list[PageCommit]) -> None:
    """Each stream's cursor after the last of its pages (what writing them one after another would leave)."""
    last = {(item.source, item.account, item.stream): item for item in items}
    cursors = pa.table(
        {
            "source": [source for source, _, _ in last],
            "account": [account for _, account, _ in last],
            "stream": [stream for _, _, stream in last],
            "cursor": pa.array([item.page.cursor for item in last.values()], pa.string()),
            "status": ["complete" if item.complete else "running" for item in last.values()],
        }
    )
    con.register("_page_cursors", cursors)
    replace_keyed(
        con,
        "ops.sync_state",
        "select source, account, stream, cursor, status, now() as updated_at from _page_cursors",
        ["source", "account", "stream"],
    )


BULK_CHECKPOINT_THRESHOLD = "256MB"
"""DuckDB's WAL size that triggers a checkpoint during a bulk load (its default, 16 MB, checkpoints after every
transaction of a big import; a checkpoint rewrites the table's last row groups). At most this much is held in
memory and the WAL until the next checkpoint, at the latest when the connection closes."""


@contextmanager
def bulk_load(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """While the block runs, checkpoint the warehouse less often (commits stay durable: the WAL is synced)."""
    con.execute(f"set checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'").fetchall()
    try:
        yield
    finally:
        con.execute("reset checkpoint_threshold").fetchall()


def commit_pages(con: duckdb.DuckDBPyConnection, items: list[PageCommit]) -> list[LoadResult]:
    """Write every page's rows, removals, rejects and cursor in one transaction; on error nothing is kept. On a
    DuckLake, a commit that collides with another writer's runs the whole transaction again (``write_retrying``).

    Returns what each page changed, in order.
    """
    views = {"_page_rejects", "_page_copies", "_page_removed", "_page_cursors"}
    views |= {f"_page_{t.replace('.', '_')}" for i in items for t in i.page.rows}
    erased = ErasureFilter.install(con)

    def write() -> list[LoadResult]:
        results = [LoadResult() for _ in items]
        start = 0
        while start < len(items):
            end = start + 1
            while end < len(items) and _plain(items[start].page) and _plain(items[end].page):
                end += 1
            if end - start > 1:
                _insert_plain(con, list(zip(items[start:end], results[start:end], strict=True)), erased)
            for item, result in zip(items[start:end], results[start:end], strict=True):
                _apply(con, item, result, erased, rows_written=end - start > 1)
            start = end
        if items:
            _write_cursors(con, items)
        return results

    try:
        return write_retrying(con, write)
    finally:
        for name in views:
            con.unregister(name)


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


def open_stream(con: duckdb.DuckDBPyConnection, *, source: str, account: str, stream: str) -> tuple[str | None, str]:
    """``read_cursor``, and for a stream never synced its row in ``ops.sync_state`` (status ``new``), committed
    before its first page. Every page commit replaces that row, so on a DuckLake two runs committing pages of one
    stream at once collide on it (both delete it: DuckLake refuses the later commit, which runs again and finds the
    rows the other added). A first page with no row to replace would collide with nothing and store its rows twice.
    """
    saved, status = read_cursor(con, source=source, account=account, stream=stream)
    if status == "new":
        keys = "select ?::varchar as source, ?::varchar as account, ?::varchar as stream"
        row = f"select *, null::varchar as cursor, 'new' as status, now() as updated_at from ({keys})"
        columns = ["source", "account", "stream"]
        write_retrying(con, lambda: insert_missing(con, "ops.sync_state", row, columns, [source, account, stream]))
    return saved, status


def read_cursor(con: duckdb.DuckDBPyConnection, *, source: str, account: str, stream: str) -> tuple[str | None, str]:
    """The last committed cursor and status (``running`` / ``complete``), or ``(None, 'new')``."""
    rows = con.execute(
        "select cursor, status from ops.sync_state where source = ? and account = ? and stream = ?",
        [source, account, stream],
    ).fetchall()  # drained: the connection takes other work next
    return (rows[0][0], rows[0][1]) if rows else (None, "new")
