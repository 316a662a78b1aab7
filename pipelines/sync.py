"""Run an API sync source for one account: each page commits with its cursor, stream by stream."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from tiepulse.connectors.base import Page
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.pipelines.loader import LoadResult, commit_page, read_cursor

PageCallback = Callable[[str, LoadResult], None]
"""Called after each committed page with (stream, that page's result)."""


def sync_account(
    con: duckdb.DuckDBPyConnection, source: SyncSource, *, on_page: PageCallback | None = None
) -> LoadResult:
    """Sync every stream of the account from its last committed cursor; return what changed."""
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
