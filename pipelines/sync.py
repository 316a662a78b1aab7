"""Run an API sync source for one account: each page commits with its cursor, stream by stream.

Shared by `tiepulse sync` and the Dagster assets. A source that can skip records already stored
(``SkipsStored``: Gmail) is told which of its ids its raw table holds for the account, so a resumed or restarted
full sync spends no quota on them.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from tiepulse.connectors.base import Page
from tiepulse.connectors.sync_source import SkipsStored, SyncSource
from tiepulse.pipelines.loader import LoadResult, commit_page, read_cursor
from tiepulse.pipelines.providers import source_named

PageCallback = Callable[[str, LoadResult], None]
"""Called after each committed page with (stream, that page's result)."""


def stored_ids(con: duckdb.DuckDBPyConnection, source: SyncSource, ids: list[str]) -> set[str]:
    """Which of ``ids`` (the source's own record ids) the source's raw table holds for its account."""
    table = source_named(source.source).table
    rows = con.execute(
        f"select source_position from {table.name} "
        f"where {table.owner} = ? and source = ? and list_contains(?, source_position)",
        [source.account, source.source, ids],
    ).fetchall()
    return {r[0] for r in rows}


def sync_account(
    con: duckdb.DuckDBPyConnection, source: SyncSource, *, on_page: PageCallback | None = None
) -> LoadResult:
    """Sync every stream of the account from its last committed cursor; return what changed."""
    if isinstance(source, SkipsStored):
        source.known_ids = lambda ids: stored_ids(con, source, ids)
    total = LoadResult()
    for stream in source.streams():
        cursor, _ = read_cursor(con, source=source.source, account=source.account, stream=stream)
        last = cursor
        for page in source.pages(stream, cursor):
            result = commit_page(con, page, source=source.source, account=source.account, stream=stream)
            last = page.cursor
            total.add(result)
            if on_page is not None:
                on_page(stream, result)
        # The stream is idle at its incremental cursor until the next sync.
        idle = Page(cursor=last)
        total.add(commit_page(con, idle, source=source.source, account=source.account, stream=stream, complete=True))
    return total
