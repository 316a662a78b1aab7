"""Run an API sync source for one account: each page commits with its cursor, stream by stream.

Shared by `tiepulse sync` and the Dagster assets. A source that can skip records already stored
(``SkipsStored``: Gmail) is told which of its ids its raw table holds for the account, so a resumed or restarted
full sync spends no quota on them.

With a pseudonym key, every page is pseudonymised before it is committed (``tiepulse.pipelines.pseudonymise``):
ids and thread references become keyed hashes, stream names (calendar ids) too, and cursors are sealed. The
source's ``account`` is then already the account's pseudonym (``tiepulse.pipelines.providers.accounts``).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from tiepulse.connectors.base import Page
from tiepulse.connectors.sync_source import SkipsStored, SyncSource
from tiepulse.pipelines.loader import LoadResult, commit_page, open_stream
from tiepulse.pipelines.providers import source_named
from tiepulse.pipelines.pseudonymise import Pseudonymiser

PageCallback = Callable[[str, LoadResult], None]
"""Called after each committed page with (stream, that page's result)."""


def stored_ids(
    con: duckdb.DuckDBPyConnection, source: SyncSource, ids: list[str], pseudonymiser: Pseudonymiser | None = None
) -> set[str]:
    """Which of ``ids`` (the source's own record ids) the source's raw table holds for its account."""
    table = source_named(source.source).table
    stored = {pseudonymiser.position(i): i for i in ids} if pseudonymiser is not None else {i: i for i in ids}
    rows = con.execute(
        f"select source_position from {table.name} "
        f"where {table.owner} = ? and source = ? and list_contains(?, source_position)",
        [source.account, source.source, list(stored)],
    ).fetchall()
    return {stored[r[0]] for r in rows}


def sync_account(
    con: duckdb.DuckDBPyConnection,
    source: SyncSource,
    *,
    pseudonym_key: bytes | None,
    on_page: PageCallback | None = None,
) -> LoadResult:
    """Sync every stream of the account from its last committed cursor; return what changed.

    ``pseudonym_key`` is the settings' (``Settings.hmac_key``): every caller says whether pages are pseudonymised.
    """
    pseudonymiser = Pseudonymiser(con, pseudonym_key) if pseudonym_key is not None else None
    if isinstance(source, SkipsStored):
        source.known_ids = lambda ids: stored_ids(con, source, ids, pseudonymiser)
    total = LoadResult()
    for stream in source.streams():
        stored_stream = pseudonymiser.token(stream) if pseudonymiser is not None else stream
        saved, _ = open_stream(con, source=source.source, account=source.account, stream=stored_stream)
        cursor = pseudonymiser.unseal(saved) if pseudonymiser is not None else saved
        last = saved
        for page in source.pages(stream, cursor):
            if pseudonymiser is not None:
                pseudonymiser.page(con, page)
                page.cursor = pseudonymiser.seal(page.cursor)
            result = commit_page(con, page, source=source.source, account=source.account, stream=stored_stream)
            last = page.cursor
            total.add(result)
            if on_page is not None:
                on_page(stream, result)
        # The stream is idle at its incremental cursor until the next sync.
        idle = Page(cursor=last)
        total.add(
            commit_page(con, idle, source=source.source, account=source.account, stream=stored_stream, complete=True)
        )
    return total
