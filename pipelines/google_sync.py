"""Run a Google sync source against the warehouse (shared by `tiepulse sync` and the Dagster assets).

The Gmail source is told which message ids the warehouse already holds for its mailbox, so a resumed or
restarted full sync (after a crash, or an expired history id) spends no quota on messages it has.
"""

from __future__ import annotations

import duckdb

from tiepulse.connectors.google.gmail import GmailSource
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.sync import PageCallback, sync_account


def stored_gmail_ids(con: duckdb.DuckDBPyConnection, owner: str, ids: list[str]) -> set[str]:
    rows = con.execute(
        "select source_position from raw.gmail_messages "
        "where mailbox_owner = ? and source = 'gmail' and list_contains(?, source_position)",
        [owner, ids],
    ).fetchall()
    return {r[0] for r in rows}


def sync_google_source(
    con: duckdb.DuckDBPyConnection, source: SyncSource, *, on_page: PageCallback | None = None
) -> LoadResult:
    if isinstance(source, GmailSource):
        owner = source.account
        source.known_ids = lambda ids: stored_gmail_ids(con, owner, ids)
    return sync_account(con, source, on_page=on_page)
