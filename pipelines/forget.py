"""Forget an account: delete what the API syncs stored for it (rows, cursors, quarantined records) at once.

The raw tables of the API sources hold one source each, keyed by the owner column their provider declares
(``tiepulse.pipelines.providers``); the cursors in ``ops.sync_state`` and the quarantined records in
``ops.quarantine`` (``source_file`` is the account, or ``account/calendar``) go with them, so a later sync of the
same account starts afresh. All in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.providers import source_named


def _deleted(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def forget_account(con: duckdb.DuckDBPyConnection, owners: Iterable[str], sources: Iterable[str]) -> dict[str, int]:
    """Delete the rows, cursors and quarantined records of ``sources`` stored under any of ``owners`` (the spellings
    of one account); return the rows deleted per table."""
    names = sorted(set(owners))
    deleted: dict[str, int] = {}
    with transaction(con):
        for source in sources:
            declared = source_named(source).table
            table, owner = declared.name, declared.owner
            deleted[table] = _deleted(con, f"delete from {table} where list_contains(?, {owner})", [names])
            deleted["ops.sync_state"] = deleted.get("ops.sync_state", 0) + _deleted(
                con, "delete from ops.sync_state where source = ? and list_contains(?, account)", [source, names]
            )
            deleted["ops.quarantine"] = deleted.get("ops.quarantine", 0) + _deleted(
                con,
                "delete from ops.quarantine where source = ? and (list_contains(?, source_file) "
                "or list_contains(?, split_part(source_file, '/', 1)))",
                [source, names, names],
            )
    return deleted
