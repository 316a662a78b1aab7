"""Pseudonymise what the connectors leave in clear, before a page is stored (with ``TIEPULSE_PSEUDONYM_KEY`` set).

The connectors already replace addresses and drop display names. Here the other identifying values become keyed
hashes (``k~`` + 32 hex digits of HMAC-SHA-256 with the pseudonym key): Message-IDs, In-Reply-To and References
(hashed alike, so threading still joins), thread ids, folders, labels, list ids, calendar UIDs, series ids and
locations, file paths (``source_file``) and record positions that are not plain offsets (file names, UIDs). A
quarantined record keeps its reason and loses its header excerpt and detail. Empty values stay empty, so "has a
location" still means what it did.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pyarrow as pa

from tiepulse.connectors.base import Page, Reject, Removal
from tiepulse.core.keyed_hash import install_keyed_hash, keyed_hash

_MACRO = "tp_pseudonym"
_HASHED = ("message_id", "in_reply_to", "thread_id", "folder", "list_id", "uid", "series_id", "location", "event_key")
_HASHED_LISTS = ("references", "labels")
_PLAIN_POSITION = r"^[0-9]+$"  # a byte offset or row number identifies nobody


def _token_sql(value: str) -> str:
    """SQL of the keyed hash of ``value`` (a quoted column or a lambda variable); empty values stay."""
    return f"case when coalesce(trim({value}), '') = '' then {value} else 'k~' || left({_MACRO}({value}), 32) end"


class Pseudonymiser:
    """Keyed hashes of a page's identifying values, in DuckDB for whole columns and in Python for single values."""

    def __init__(self, con: duckdb.DuckDBPyConnection, key: bytes) -> None:
        self._key = key
        install_keyed_hash(con, key, _MACRO)

    def token(self, value: str) -> str:
        """The keyed hash of one value, the same as the SQL gives a column's value."""
        return value if not value.strip() else "k~" + keyed_hash(self._key, value)[:32]

    def _position(self, value: str) -> str:
        return value if value.isdigit() else self.token(value)

    def page(self, con: duckdb.DuckDBPyConnection, page: Page) -> None:
        """Replace the page's identifying values by their keyed hashes, in place."""
        page.rows = {table: self._rows(con, rows) for table, rows in page.rows.items()}
        page.rejects = [self._reject(reject) for reject in page.rejects]
        page.removals = [Removal(r.table, r.owner, self._position(r.source_position)) for r in page.removals]

    def _reject(self, reject: Reject) -> Reject:
        # The quarantine key is computed from the clear values first, so a re-import still adds nothing.
        return dataclasses.replace(
            reject,
            source_file=self.token(reject.source_file),
            position=self._position(reject.position),
            detail="",
            excerpt="",
            content_key=reject.key,
        )

    def _rows(self, con: duckdb.DuckDBPyConnection, rows: pa.Table) -> pa.Table:
        names = set(rows.column_names)
        replaced = {column: _token_sql(f'"{column}"') for column in _HASHED if column in names}
        for column in (c for c in _HASHED_LISTS if c in names):
            replaced[column] = f'list_transform("{column}", lambda v: {_token_sql("v")})'
        if "message_key" in names:  # 'h:' keys are already hashes of header values
            replaced["message_key"] = (
                f"case when starts_with(message_key, 'h:') then message_key else {_token_sql('message_key')} end"
            )
        if "source_file" in names:
            replaced["source_file"] = _token_sql("source_file")
        if "source_position" in names:
            replaced["source_position"] = (
                f"case when regexp_matches(source_position, '{_PLAIN_POSITION}') then source_position "
                f"else {_token_sql('source_position')} end"
            )
        if not replaced:
            return rows
        select = ", ".join(
            f'{replaced[name]} as "{name}"' if name in replaced else f'"{name}"' for name in rows.column_names
        )
        con.register("_pseudonymising", rows)
        try:
            return con.sql(f"select {select} from _pseudonymising").to_arrow_table().cast(rows.schema)
        finally:
            con.unregister("_pseudonymising")
