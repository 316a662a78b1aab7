"""The sandbox around SQL a person types (`tiepulse sql`): the warehouse's tables, read-only, and nothing else.

DuckDB's SQL can reach far past the database: ``COPY ... TO`` and ``EXPORT DATABASE`` write files, ``read_blob``,
``read_csv`` and ``glob`` read any file the process can (``/proc/self/environ`` holds the pseudonym key and app
secrets), ``ATTACH`` opens other databases, ``INSTALL`` downloads extensions and ``SET`` could undo all of this.
``sandbox`` closes each door on an open connection (checked on DuckDB 2.0.1 by ``tests/test_sql_sandbox.py``);
the pipeline's own connections are never sandboxed.
"""

from __future__ import annotations

import duckdb

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
    for statement in LOCKDOWN:
        con.execute(statement).fetchall()
    return con


def is_refusal(exc: duckdb.Error) -> bool:
    """Whether ``exc`` is the sandbox saying no (rather than a mistake in the query)."""
    return isinstance(exc, duckdb.PermissionException) or "the configuration has been locked" in str(exc)
