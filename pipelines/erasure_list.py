"""The erasure list: keyed hashes of erased people's addresses, and the SQL that removes them from raw rows.

The same statements scrub the whole raw layer when a person is erased and every page the loader commits later, so
a re-import of the same files does not bring the person back. A row whose subject is an erased address (the
sender, the organiser, the mailbox or calendar owner, the logged person, the directory entry) is deleted; an erased
recipient or attendee leaves the list it was on; a directory alias or manager reference to them is dropped. A
quarantined record whose excerpt holds an erased address keeps its reason but loses excerpt and detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tiepulse.core.keyed_hash import database_home, existing_identity_key, install_keyed_hash

SUBJECT_COLUMNS = (
    "mailbox_owner",
    "from_address",
    "calendar_owner",
    "organizer_address",
    "owner",
    "person_address",
    "email",
    "ego",
    "address",
    "alias",
    "canonical",
    "account",
)
"""Columns naming whom a row is about: an erased address there deletes the row."""
_ENTRY_LISTS = ("recipients", "attendees")  # lists of structs with an ``address``
_ADDRESS_LISTS = ("other_emails",)
_REFERENCES = ("manager_email",)
_ADDRESS_PATTERN = r"[a-z0-9._%+~=-]+@[a-z0-9.-]+"  # in lowered text


@dataclass(frozen=True, slots=True)
class ErasureFilter:
    """The erasure list installed on one connection as the macro ``tp_erased(address)``."""

    entries: int

    @classmethod
    def install(cls, con: duckdb.DuckDBPyConnection, key: bytes | None = None) -> ErasureFilter | None:
        """Install ``tp_erased`` from ``ops.erasure_list``; None when the list is empty (nothing to filter)."""
        hashes = [row[0] for row in con.execute("select address_hash from ops.erasure_list").fetchall()]
        if not hashes:
            return None
        home = database_home(con)
        key = key or (existing_identity_key(home) if home else None)
        if key is None:
            raise RuntimeError("the erasure list is set but the identity key beside the warehouse is missing")
        install_keyed_hash(con, key)
        listed = ", ".join(f"'{h}'" for h in hashes if all(c in "0123456789abcdef" for c in h))
        con.execute(
            "create or replace temp macro tp_erased(value) as "
            f"coalesce(list_contains([{listed}], tp_keyed_hash(value)), false)"
        ).fetchall()
        return cls(len(hashes))

    def scrub(self, con: duckdb.DuckDBPyConnection, table: str) -> int:
        """Delete and trim ``table``'s rows that concern an erased person; return the rows changed or deleted."""
        columns = {
            row[0]: row[1]
            for row in con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where (database_name = current_database() and schema_name || '.' || table_name = ?) "
                "or (database_name = 'temp' and table_name = ?)",
                [table, table],
            ).fetchall()
        }
        changed = 0
        subjects = [c for c in SUBJECT_COLUMNS if c in columns]
        if subjects:
            condition = " or ".join(f"tp_erased({c})" for c in subjects)
            changed += _count(con, f"delete from {table} where {condition}")
        for column in (c for c in _ENTRY_LISTS if c in columns):
            erased = f"list_filter({column}, lambda e: tp_erased(e.address))"
            changed += _count(
                con,
                f"update {table} set {column} = list_filter({column}, lambda e: not tp_erased(e.address)) "
                f"where len({erased}) > 0",
            )
        for column in (c for c in _ADDRESS_LISTS if c in columns):
            changed += _count(
                con,
                f"update {table} set {column} = list_filter({column}, lambda a: not tp_erased(a)) "
                f"where len(list_filter({column}, lambda a: tp_erased(a))) > 0",
            )
        for column in (c for c in _REFERENCES if c in columns):
            changed += _count(con, f"update {table} set {column} = null where tp_erased({column})")
        if "raw_excerpt" in columns:
            text = "lower(coalesce(raw_excerpt, '') || ' ' || coalesce(detail, ''))"
            found = f"regexp_extract_all({text}, '{_ADDRESS_PATTERN}')"
            changed += _count(
                con,
                f"update {table} set raw_excerpt = null, detail = null "
                f"where len(list_filter({found}, lambda a: tp_erased(trim(a, '.')))) > 0",
            )
        return changed

    def filter_rows(self, con: duckdb.DuckDBPyConnection, rows: pa.Table) -> tuple[pa.Table, int]:
        """A page's rows without what concerns an erased person, and how many rows that changed."""
        con.register("_erasing_page", rows)
        try:
            con.execute("create or replace temp table _erasing as select * from _erasing_page").fetchall()
        finally:
            con.unregister("_erasing_page")
        changed = self.scrub(con, "_erasing")
        kept = con.sql("select * from _erasing").to_arrow_table().cast(rows.schema)
        con.execute("drop table _erasing").fetchall()
        return kept, changed


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
