"""The sandbox around SQL a person types (`tiepulse sql`): the warehouse's tables, read-only, and nothing else.

DuckDB's SQL can reach far past the database: ``COPY ... TO`` and ``EXPORT DATABASE`` write files, ``read_blob``,
``read_csv`` and ``glob`` read any file the process can (``/proc/self/environ`` holds the pseudonym key and app
secrets), ``ATTACH`` opens other databases, ``INSTALL`` downloads extensions and ``SET`` could undo all of this.
``sandbox`` closes each door on an open connection (checked on DuckDB 1.4.4 by ``tests/test_sql_sandbox.py``);
the pipeline's own connections are never sandboxed. ``run_sandboxed`` runs only queries (``PRAGMA`` and ``CREATE
SECRET`` get past the lockdown on DuckDB 1.4). On a DuckLake the lake's data files stay reachable (DuckDB reads
the tables from them), so there it also refuses ``EXPLAIN`` (``EXPLAIN ANALYZE`` runs its statement) and the
catalog extensions' own functions (``sqlite_scan`` opens any SQLite file it is given, whatever the lockdown).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from tiepulse.core.ducklake import is_lake, lake_paths

LOCKDOWN = (
    "set enable_external_access = false",  # no file or network access outside the open database, no ATTACH
    "set autoinstall_known_extensions = false",
    "set autoload_known_extensions = false",
    "set allow_community_extensions = false",
    "set allow_unsigned_extensions = false",
    "set lock_configuration = true",  # last: no SET, RESET or PRAGMA can change any of the above afterwards
)

REFUSAL = (
    "refused: `tiepulse sql` reads the warehouse's tables only; files, the environment, other databases, "
    "extensions and settings are out of its reach (docs/operations.md, The SQL sandbox)"
)


def sandbox(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Lock ``con`` down for user SQL; this cannot be undone on the connection."""
    if is_lake(con):
        con.execute("set allowed_directories = ?", [lake_paths(con)]).fetchall()
    for statement in LOCKDOWN:
        con.execute(statement).fetchall()
    return con


_CATALOG_EXTENSION_FUNCTIONS = ("sqlite_", "postgres_")
_QUERIES = ("SELECT",)


def run_sandboxed(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyConnection:
    """Run user SQL on ``con`` locked down (``sandbox``): queries only, and on a DuckLake only those that stay
    inside the lake."""
    lake = is_lake(con)
    sandbox(con)
    allowed = _QUERIES if lake else (*_QUERIES, "EXPLAIN")
    if any(statement.type.name not in allowed for statement in duckdb.extract_statements(query)):
        raise duckdb.PermissionException("only read-only queries run here (select, from, describe, show, summarize)")
    if lake:
        _refuse_catalog_functions(con, query)
    return con.execute(query)


def _refuse_catalog_functions(con: duckdb.DuckDBPyConnection, query: str) -> None:
    tree = json.loads(con.execute("select json_serialize_sql(?)", [query]).fetchall()[0][0])
    for name in _function_names(tree.get("statements", [])):
        if name.startswith(_CATALOG_EXTENSION_FUNCTIONS):
            raise duckdb.PermissionException(f"{name} reads databases outside the warehouse")


def _function_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("function_name"), str):
            yield node["function_name"].lower()
        for value in node.values():
            yield from _function_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _function_names(value)


def is_refusal(exc: duckdb.Error) -> bool:
    """Whether ``exc`` is the sandbox saying no (rather than a mistake in the query)."""
    return isinstance(exc, duckdb.PermissionException) or "the configuration has been locked" in str(exc)
