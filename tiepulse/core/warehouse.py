"""The DuckDB warehouse: opening it, and forward migrations from ``sql/migrations``.

Migrations are numbered SQL files (``NNN_name.sql``). ``ops.schema_version`` records each one applied; an older
warehouse is upgraded on open, a warehouse written by a newer tiepulse is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import duckdb

# The SQL ships inside the package (sql/ and dbt_like_models/ are linked into tiepulse/ and installed with it).
PACKAGE_ROOT = Path(str(files("tiepulse")))
MIGRATIONS_DIR = PACKAGE_ROOT / "sql" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as it is; the message says what to do."""


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise WarehouseError(f"{path}: migration files are named NNN_description.sql")
        found.append((int(match.group(1)), path))
    return found


def latest_version() -> int:
    return max(v for v, _ in migrations())


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations in order, each in its own transaction; return the versions applied."""
    con.execute("create schema if not exists ops").fetchall()
    con.execute(
        "create table if not exists ops.schema_version ("
        " version integer primary key, name varchar not null, applied_at timestamptz not null default now())"
    ).fetchall()
    current = int(con.execute("select coalesce(max(version), 0) from ops.schema_version").fetchall()[0][0])
    newest = latest_version()
    if current > newest:
        raise WarehouseError(_newer_message(current))
    applied = []
    for version, path in migrations():
        if version <= current:
            continue
        with transaction(con):
            con.execute(path.read_text(encoding="utf-8")).fetchall()
            con.execute("insert into ops.schema_version (version, name) values (?, ?)", [version, path.stem]).fetchall()
        applied.append(version)
    return applied


def _newer_message(current: int) -> str:
    return (
        f"This warehouse is at schema version {current}, newer than this tiepulse understands ({latest_version()}). "
        "Upgrade tiepulse, or point TIEPULSE_HOME at another folder."
    )


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writable open also brings the schema up to date."""
    if read_only:
        if not path.exists():
            raise WarehouseError(
                f"No warehouse at {path}. Run `tiepulse import PATH` first (or `tiepulse demo` to try the sample "
                "organisation)."
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            raise WarehouseError(
                f"Cannot read {path} now: {exc}. A tiepulse import, sync or refresh, or a Dagster run, is writing "
                "it (DuckDB lets no reader in while another process writes); try again when it has finished."
            ) from None
        _refuse_newer(con)
        return _utc(con)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"Cannot open {path} for writing: {exc}. Another process has it open: a tiepulse or Dagster run, "
            "or a reader (`tiepulse sql`, a BI tool, a DuckDB shell). Wait for the run to finish or close the reader; "
            "runs launched from Dagster queue by themselves (docs/operations.md)."
        ) from None
    migrate(_utc(con))
    return con


def session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to the database ``con`` has open (no second open of the file), in UTC like ``con``."""
    return _utc(con.cursor())


def _refuse_newer(con: duckdb.DuckDBPyConnection) -> None:
    """A reader must not misread a warehouse written by a newer tiepulse either."""
    found = con.execute(
        "select 1 from information_schema.tables where table_schema = 'ops' and table_name = 'schema_version'"
    ).fetchall()
    if not found:
        return
    current = int(con.execute("select coalesce(max(version), 0) from ops.schema_version").fetchall()[0][0])
    if current > latest_version():
        con.close()
        raise WarehouseError(_newer_message(current))


def _utc(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Every session works in UTC, so timestamps reach Arrow and Polars as UTC whatever the machine's zone."""
    con.execute("set TimeZone = 'UTC'").fetchall()
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together, or none do (the error is re-raised after the rollback)."""
    con.execute("begin transaction").fetchall()
    try:
        yield con
    except BaseException:
        con.execute("rollback").fetchall()
        raise
    con.execute("commit").fetchall()


@contextmanager
def open_warehouse(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
