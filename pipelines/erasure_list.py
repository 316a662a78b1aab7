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

from tiepulse.core.keyed_hash import (
    KEY_FILE,
    SHARED_KEY_VARIABLE,
    IdentityKeyError,
    database_home,
    install_keyed_hash,
    key_check,
    warehouse_identity_key,
)
from tiepulse.pipelines.marts_io import table_columns

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
_ENTRY_LISTS = ("recipients", "attendees", "non_person_addresses")  # lists of structs with an ``address``
_PATH_LISTS = ("x500_recipients",)  # lists of structs with an ``address`` and the ``x500`` path it stands for
_ADDRESS_LISTS = ("other_emails",)
_REFERENCES = ("manager_email", "x500_sender")
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
        key = key or warehouse_identity_key(con)
        if key is None:
            raise IdentityKeyError(
                f"the warehouse has an erasure list but its identity key is missing: restore {_key_source(con)} (the "
                "key the list was made with), then run again"
            )
        _refuse_another_key(con, key)
        install_keyed_hash(con, key)
        listed = ", ".join(f"'{h}'" for h in hashes if all(c in "0123456789abcdef" for c in h))
        con.execute(
            "create or replace temp macro tp_erased(value) as "
            f"coalesce(list_contains([{listed}], tp_keyed_hash(value)), false)"
        ).fetchall()
        return cls(len(hashes))

    def scrub(self, con: duckdb.DuckDBPyConnection, table: str) -> int:
        """Delete and trim ``table``'s rows that concern an erased person; return the rows changed or deleted."""
        columns = [column for column, _ in table_columns(con, table)]
        changed = 0
        if subject := _about_erased(columns):
            changed += _count(con, f"delete from {table} where {subject}")
        if trimmed := _trimmed(columns):  # one statement: every new value is computed from the old row
            assignments = ", ".join(f'"{c}" = {kept}' for c, kept in trimmed.items())
            differs = " or ".join(f'{kept} is distinct from "{c}"' for c, kept in trimmed.items())
            changed += _count(con, f"update {table} set {assignments} where {differs}")
        return changed

    def filter_rows(self, con: duckdb.DuckDBPyConnection, rows: pa.Table) -> tuple[pa.Table, int]:
        """A page's rows without what concerns an erased person (one pass), and how many rows were dropped."""
        columns = rows.column_names
        subject, trimmed = _about_erased(columns), _trimmed(columns)
        select = ", ".join(f'{trimmed[c]} as "{c}"' if c in trimmed else f'"{c}"' for c in columns)
        con.register("_erasing_page", rows)
        try:
            kept = con.sql(f"select {select} from _erasing_page where not ({subject or 'false'})").to_arrow_table()
        finally:
            con.unregister("_erasing_page")
        return kept.cast(rows.schema), rows.num_rows - kept.num_rows


def _refuse_another_key(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Hashes made with another key would let the erased back in unnoticed: say so instead."""
    made_with = {row[0] for row in con.execute("select distinct key_check from ops.erasure_list").fetchall()}
    if made_with - {None, key_check(key)}:
        raise IdentityKeyError(
            f"the identity key ({_key_source(con)}) is not the one the erasure list was made with: give this machine "
            "the same key as the others, then run again"
        )


def _key_source(con: duckdb.DuckDBPyConnection) -> str:
    """Where the warehouse's identity key comes from, for a message."""
    home = database_home(con)
    return f"{KEY_FILE} in {home}" if home else f"the environment variable {SHARED_KEY_VARIABLE}"


def _about_erased(columns: list[str]) -> str:
    """SQL condition: the row is about an erased person (empty when the table names no one)."""
    return " or ".join(f'tp_erased("{c}")' for c in SUBJECT_COLUMNS if c in columns)


def _trimmed(columns: list[str]) -> dict[str, str]:
    """Per column, the SQL of its value without the erased people it mentions."""
    kept = {c: f'list_filter("{c}", lambda e: not tp_erased(e.address))' for c in _ENTRY_LISTS if c in columns}
    kept |= {
        c: f'list_filter("{c}", lambda e: not (tp_erased(e.address) or tp_erased(e.x500)))'
        for c in _PATH_LISTS
        if c in columns
    }
    kept |= {c: f'list_filter("{c}", lambda a: not tp_erased(a))' for c in _ADDRESS_LISTS if c in columns}
    kept |= {c: f'case when tp_erased("{c}") then null else "{c}" end' for c in _REFERENCES if c in columns}
    if "raw_excerpt" in columns and "detail" in columns:
        text = "lower(coalesce(raw_excerpt, '') || ' ' || coalesce(detail, ''))"
        found = f"len(list_filter(regexp_extract_all({text}, '{_ADDRESS_PATTERN}'), lambda a: tp_erased(trim(a, '.'))))"
        kept |= {c: f"case when {found} > 0 then null else {c} end" for c in ("raw_excerpt", "detail")}
    return kept


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
