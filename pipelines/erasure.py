"""Erase one person (every address merged into their person id) from the warehouse and what tiepulse derived from it.

One transaction puts the person's addresses on the erasure list (keyed hashes), opens the audit record (no address),
scrubs the raw layer and the ops tables, and drops the derived layers; then the derived files under the home are
deleted, the derived layers are rebuilt by a refresh, and the warehouse is copied into a fresh file that replaces
it, because DuckDB keeps deleted bytes in free blocks. Every step can run again: a run killed anywhere is finished
by running the same erasure again (its addresses are found on the list, so the scrub repeats until the audit record
says complete).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tiepulse.core.keyed_hash import key_check, keyed_hash
from tiepulse.core.keyed_writes import insert_missing
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.erasure_list import ErasureFilter
from tiepulse.pipelines.marts_io import table_columns

DERIVED_SCHEMAS = ("staging", "intermediate", "marts")
"""Rebuilt from raw by a refresh: dropped by an erasure, so nothing of the person survives in them."""
_NAME_COLUMNS = ("from_name", "organizer_name", "person_name", "name")
_NAMED_ENTRY_LISTS = ("recipients", "attendees")
_NAMED_ADDRESSES = (
    ("from_name", "from_address"),
    ("organizer_name", "organizer_address"),
    ("person_name", "person_address"),
    ("name", "email"),
    ("name", "address"),
)
"""(name column, address column) pairs of the raw tables: where a person's display names are found."""


@dataclass(frozen=True, slots=True)
class DerivedArtefact:
    """A file or folder under the home that tiepulse writes from the warehouse: deleted by an erasure, written
    again from the scrubbed warehouse (``regenerated`` says when)."""

    path: str
    regenerated: str
    keep: tuple[str, ...] = ()
    """Names inside a folder that hold no data (configuration) and stay."""


DERIVED_ARTEFACTS = (
    DerivedArtefact("bi.duckdb", "by the next refresh or BI publish"),
    DerivedArtefact("reports", "when a report is written again"),
    DerivedArtefact("exports", "when an export is written again"),
    DerivedArtefact("dagster", "run and event history starts afresh", keep=("dagster.yaml", "workspace.yaml")),
    DerivedArtefact("warehouse.duckdb.tmp", "DuckDB's spill folder, recreated when needed"),
)


@dataclass(slots=True)
class Person:
    """Whom to erase: every normalised address of theirs (clear, or pseudonyms) and the display names seen."""

    addresses: list[str]
    names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ErasureOutcome:
    erasure_id: str
    resumed: bool
    already_complete: bool
    rows_removed: dict[str, int]


def _tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = con.execute(
        "select schema_name || '.' || table_name, 'table' from duckdb_tables() "
        "where database_name = current_database() and list_contains(?, schema_name) "
        "union all select schema_name || '.' || view_name, 'view' from duckdb_views() "
        "where database_name = current_database() and not internal and list_contains(?, schema_name) order by 1",
        [list(schemas), list(schemas)],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return any(name == table for name, _ in _tables(con, (table.split(".")[0],)))


def find_person(con: duckdb.DuckDBPyConnection, address: str) -> Person:
    """The person ``address`` belongs to: every address resolved to the same person id, and their display names."""
    addresses = {address}
    if _exists(con, "intermediate.int_addresses_resolved"):
        rows = con.execute(
            "select address, person_id from intermediate.int_addresses_resolved where person_id = "
            "(select person_id from intermediate.int_addresses_resolved where address = ?)",
            [address],
        ).fetchall()
        addresses |= {a for row in rows for a in row if a}
    names: set[str] = set()
    listed = sorted(addresses)
    for table, _ in _tables(con, ("raw",)):
        columns = {column for column, _ in table_columns(con, table)}
        for name, address_column in _NAMED_ADDRESSES:
            if {name, address_column} <= columns:
                names |= _names(con, f"select {name} from {table} where list_contains(?, {address_column})", listed)
        for column in (c for c in _NAMED_ENTRY_LISTS if c in columns):
            names |= _names(
                con,
                f"select e.name from (select unnest({column}) as e from {table}) where list_contains(?, e.address)",
                listed,
            )
    return Person(listed, sorted(n for n in names if len(n) >= 3))


def _names(con: duckdb.DuckDBPyConnection, sql: str, addresses: list[str]) -> set[str]:
    return {row[0].strip() for row in con.execute(f"select distinct * from ({sql})", [addresses]).fetchall() if row[0]}


def _changed(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def erase_from_warehouse(con: duckdb.DuckDBPyConnection, person: Person, key: bytes) -> ErasureOutcome:
    """List the person, open (or reopen) the audit record, scrub raw and ops, drop the derived layers: one
    transaction."""
    hashes = sorted({keyed_hash(key, a) for a in person.addresses})
    listed = con.execute(
        "select l.erasure_id, e.status from ops.erasure_list l left join ops.erasures e using (erasure_id) "
        "where list_contains(?, l.address_hash) order by e.requested_at desc nulls last limit 1",
        [hashes],
    ).fetchone()
    erasure_id, status = listed if listed else (uuid.uuid4().hex, None)
    removed: dict[str, int] = {}
    with transaction(con):
        insert_missing(
            con,
            "ops.erasure_list",
            "select unnest(?::varchar[]) as address_hash, ?::varchar as erasure_id, now() as listed_at, "
            "?::varchar as key_check",
            ["address_hash"],
            [hashes, erasure_id, key_check(key)],
        )
        insert_missing(
            con,
            "ops.erasures",
            "select ?::varchar as erasure_id, now() as requested_at, 'pending' as status, ?::integer as addresses",
            ["erasure_id"],
            [erasure_id, len(hashes)],
        )
        erased = ErasureFilter.install(con, key)
        assert erased is not None  # the person's hashes were just listed
        for table, kind in _tables(con, ("raw",)):
            if kind == "table":
                removed[table] = erased.scrub(con, table) + _drop_names(con, table, person.names)
        for table in ("ops.item_copies", "ops.sync_state", "ops.quarantine"):
            removed[table] = erased.scrub(con, table)
        for table, n in _scrub_ops_text(con, person).items():
            removed[table] = removed.get(table, 0) + n
        already_complete = status == "complete" and not any(removed.values())
        if not already_complete:  # monthly history and every derived table are rebuilt from the scrubbed raw layer
            con.execute("delete from ops.history_state").fetchall()
            con.execute("delete from ops.build_state").fetchall()
            con.execute("delete from ops.build_keys").fetchall()
            con.execute("delete from ops.validated_rows").fetchall()
            con.execute("delete from ops.interaction_exclusion_records").fetchall()
            con.execute("delete from ops.ego_history_state").fetchall()
            for table, kind in _tables(con, DERIVED_SCHEMAS):
                con.execute(f"drop {kind} if exists {table}").fetchall()
        con.execute(
            "update ops.erasures set rows_removed = json_merge_patch(coalesce(rows_removed, '{}'), ?) "
            "where erasure_id = ?",
            [json.dumps({t: n for t, n in removed.items() if n}), erasure_id],
        ).fetchall()
    return ErasureOutcome(erasure_id, listed is not None, already_complete, removed)


def _drop_names(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> int:
    """The person's display names, where they stand beside another address (an alias not merged), go too."""
    if not names:
        return 0
    lowered = [n.lower() for n in names]
    columns = {column for column, _ in table_columns(con, table)}
    changed = 0
    for column in (c for c in _NAME_COLUMNS if c in columns):
        changed += _changed(
            con, f"update {table} set {column} = null where list_contains(?, lower(trim({column})))", [lowered]
        )
    for column in (c for c in _NAMED_ENTRY_LISTS if c in columns):
        named = "list_contains($names, lower(trim(e.name)))"
        rebuilt = (
            f"list_transform({column}, lambda e: case when {named} then struct_update(e, name := null) else e end)"
        )
        changed += _changed(
            con,
            f"update {table} set {column} = {rebuilt} where len(list_filter({column}, lambda e: {named})) > 0",
            {"names": lowered},  # type: ignore[arg-type]
        )
    return changed


def _scrub_ops_text(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, int]:
    """Alerts about the person, quarantined records and run summaries that mention an address or name of theirs."""
    words = [w.lower() for w in [*person.addresses, *person.names]]
    mentions = "len(list_filter(?, lambda w: contains(lower({text}), w))) > 0"
    found = {
        "ops.alert_state": _changed(con, "delete from ops.alert_state where tp_erased(ego_id) or tp_erased(alter_id)"),
        "ops.alert_log": _changed(
            con,
            "delete from ops.alert_log where tp_erased(ego_id) or tp_erased(alter_id) or "
            + mentions.format(text="coalesce(reason, '')"),
            [words],
        ),
        "ops.quarantine": _changed(
            con,
            "delete from ops.quarantine where "
            + mentions.format(text="concat_ws(' ', source_file, source_position, detail, raw_excerpt)"),
            [words],
        ),
    }
    pattern = "(?i)(" + "|".join(re.escape(w) for w in words) + ")"
    found["ops.runs"] = _changed(
        con,
        "update ops.runs set summary = regexp_replace(summary::varchar, ?, '[erased]', 'g')::json "
        "where regexp_matches(summary::varchar, ?)",
        [pattern, pattern],
    )
    return found


def delete_artefacts(home: Path) -> list[str]:
    """Delete the derived files and folders under ``home`` (keeping configuration files); return what went."""
    gone = []
    for artefact in DERIVED_ARTEFACTS:
        path = home / artefact.path
        if path.is_dir() and artefact.keep:
            doomed = [p for p in path.iterdir() if p.name not in artefact.keep]
        else:
            doomed = [path] if path.exists() or path.is_symlink() else []
        for item in doomed:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
        if doomed:
            gone.append(artefact.path)
    return gone


def complete_erasure(con: duckdb.DuckDBPyConnection, erasure_id: str, artefacts: list[str]) -> None:
    con.execute(
        "update ops.erasures set status = 'complete', completed_at = now(), artefacts_removed = ? where erasure_id = ?",
        [json.dumps(artefacts), erasure_id],
    ).fetchall()


def rewrite_database(path: Path) -> None:
    """Copy the database into a fresh file and put it in place atomically: free blocks (deleted rows) stay behind."""
    fresh = path.with_name(path.name + ".rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):  # from a rewrite killed half-way
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        name = con.execute("select current_database()").fetchall()[0][0]
        con.execute(f"attach '{_quoted(fresh)}' as tp_rewrite").fetchall()
        con.execute(f'copy from database "{name}" to tp_rewrite').fetchall()
        con.execute("checkpoint tp_rewrite").fetchall()
        con.execute("detach tp_rewrite").fetchall()
    finally:
        con.close()
    os.chmod(fresh, path.stat().st_mode & 0o777)
    with open(fresh, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
