"""The warehouse: opening it, and forward migrations from ``sql/migrations``.

Two backends sit behind ``connect``: a DuckDB file (``warehouse.duckdb``, one writer at a time) and a DuckLake
(``warehouse.ducklake``: a catalog database plus Parquet files, many writers; ``tiepulse.core.ducklake``), chosen by
``warehouse.backend`` in the config. Migrations are numbered SQL files (``NNN_name.sql``). ``ops.schema_version``
records each one applied; an older warehouse is upgraded on open, a warehouse written by a newer tiepulse is refused.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

import duckdb

from tiepulse.core.ducklake import (
    LakeError,
    LakeLocation,
    data_unreachable,
    for_lake,
    is_lake,
    lake_location,
    open_lake,
    retrying,
)
from tiepulse.core.private_files import PrivatePathError, make_private, private_home
from tiepulse.core.runlog import log_blocked_runs

# The SQL ships inside the package (sql/ and dbt_like_models/ are linked into tiepulse/ and installed with it).
PACKAGE_ROOT = Path(str(files("tiepulse")))
MIGRATIONS_DIR = PACKAGE_ROOT / "sql" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_DAMAGE = re.compile(r"Corrupt database file|checksum|Could not read enough bytes|not a valid DuckDB database")
# Another writer committed first, or held the lake's SQLite catalog: the whole transaction is run again.
LOCK_POLL_SECONDS = 0.2
LAKE_SUFFIX = ".ducklake"
_T = TypeVar("_T")


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as it is; the message says what to do."""


class WarehouseBusy(WarehouseError):
    """Another process held the warehouse for longer than a writer waits."""

    def __init__(self, path: Path, holder: str, waited: float) -> None:
        super().__init__(
            f"{path} is held by another process, {holder}; waited {waited:g} s for it. Close that program (a BI "
            "tool or DuckDB shell must not hold the working warehouse: point it at bi.duckdb) or let its run finish, "
            "then run again; TIEPULSE_LOCK_WAIT_SECONDS sets the wait (docs/operations.md)."
        )


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
    """Apply pending migrations in order, each in its own transaction; return the versions applied.

    Each step reads the version again inside its transaction, so workers opening a new lake at once each apply a
    migration only if no other one has (the loser of a commit race retries and finds it done).
    """
    lake = is_lake(con)
    table = "create table if not exists ops.schema_version (version integer primary key, name varchar not null, "
    table += "applied_at timestamptz not null default now())"

    def prepare() -> int:
        con.execute("create schema if not exists ops").fetchall()
        con.execute(for_lake(table) if lake else table).fetchall()
        return _schema_version(con)

    current = write_retrying(con, prepare)
    if current > latest_version():
        raise WarehouseError(_newer_message(current))
    applied = []
    for version, path in migrations():
        if version <= current:
            continue

        def step(version: int = version, path: Path = path) -> bool:
            if _schema_version(con) >= version:
                return False
            con.execute(_migration_sql(path, lake)).fetchall()
            con.execute(
                "insert into ops.schema_version (version, name, applied_at) values (?, ?, now())", [version, path.stem]
            ).fetchall()
            return True

        if write_retrying(con, step):
            applied.append(version)
    if applied and not lake:
        # DuckDB 1.4.4 cannot replay `alter column ... set default now()` from the WAL (an internal error on the next
        # open after a crash): the schema goes into the file before any import can be killed.
        con.execute("checkpoint").fetchall()
    return applied


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select coalesce(max(version), 0) from ops.schema_version").fetchall()[0][0])


def _migration_sql(path: Path, lake: bool) -> str:
    """The migration's SQL; on a lake its own version from ``ducklake/`` when there is one, else ``for_lake``."""
    if not lake:
        return path.read_text(encoding="utf-8")
    own = path.parent / "ducklake" / path.name
    return own.read_text(encoding="utf-8") if own.is_file() else for_lake(path.read_text(encoding="utf-8"))


def write_retrying(con: duckdb.DuckDBPyConnection, work: Callable[[], _T], attempts: int | None = None) -> _T:
    """``work()`` inside one transaction. On a DuckLake, a commit that collides with another writer's (or finds the
    SQLite catalog locked) rolls back and runs ``work`` again, up to ``warehouse.ducklake.commit_attempts`` times,
    after a random wait that grows with each attempt (so racing writers spread out); a DuckDB file has one writer."""
    attempts = attempts or (commit_attempts() if is_lake(con) else 1)

    def once() -> _T:
        with transaction(con):
            return work()

    return retrying(once, attempts)


def _newer_message(current: int) -> str:
    return (
        f"This warehouse is at schema version {current}, newer than this tiepulse understands ({latest_version()}). "
        "Upgrade tiepulse, or point TIEPULSE_HOME at another folder."
    )


def connect(path: Path, *, read_only: bool = False, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writable open also brings the schema up to date.

    ``path`` ending in ``.ducklake`` opens a DuckLake (``Settings.warehouse_path`` names one when the config's
    ``warehouse.backend`` is ``ducklake``). A writable open that finds another process holding a DuckDB file waits
    for it up to ``wait`` seconds (default: the ``lock_wait_seconds`` setting), then raises ``WarehouseBusy`` naming
    that process. The home and the files are made private (``private_files``).
    """
    if path.suffix == LAKE_SUFFIX:
        return _connect_lake(path, read_only=read_only)
    if read_only:
        if not path.exists():
            raise WarehouseError(
                f"No warehouse at {path}. Run `tiepulse import PATH` first (or `tiepulse demo` to try the sample "
                "organisation)."
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise _unusable(path, exc, reading=True) from None
        _refuse_newer(con)
        return bound_memory(_utc(con), path)
    try:
        private_home(path.parent)
    except PrivatePathError as exc:
        raise WarehouseError(str(exc)) from None
    con = _open_writable(path, wait)
    make_private(path, path.with_name(path.name + ".wal"))
    migrate(bound_memory(_utc(con), path))
    log_blocked_runs(con, path.parent)
    return con


def _connect_lake(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    location = _lake_location(path)
    catalog = location.catalog_file
    if read_only and catalog is not None and not catalog.exists():
        raise WarehouseError(
            f"No warehouse at {catalog}. Run `tiepulse import PATH` first (or `tiepulse demo` to try the sample "
            "organisation)."
        )
    if not read_only:
        folders = [path.parent] + ([] if location.in_object_storage else [Path(location.data_path)])
        try:
            for folder in folders:
                private_home(folder)
        except PrivatePathError as exc:
            raise WarehouseError(str(exc)) from None
    try:
        con = open_lake(location, read_only=read_only)
    except LakeError as exc:
        raise WarehouseError(str(exc)) from None
    try:  # the first reads and writes of data files: an object store out of reach shows here
        if read_only:
            _refuse_newer(con)
            return _utc(con)
        if catalog is not None:
            make_private(catalog)
        # a read outside the migrations' transactions can find another opener's commit holding the catalog
        retrying(lambda: migrate(_utc(con)), commit_attempts())
    except (duckdb.IOException, duckdb.HTTPException) as exc:
        con.close()
        raise WarehouseError(data_unreachable(location, exc)) from None
    log_blocked_runs(con, path.parent)
    return con


def _lake_location(path: Path) -> LakeLocation:
    from tiepulse.core.settings import Settings

    return lake_location(path, Settings().config.warehouse.ducklake)


def commit_attempts() -> int:
    from tiepulse.core.settings import Settings

    return Settings().config.warehouse.ducklake.commit_attempts


def _open_writable(path: Path, wait: float | None) -> duckdb.DuckDBPyConnection:
    deadline: float | None = None
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            if _holder(exc) is None:
                raise _unusable(path, exc, reading=False) from None
            if deadline is None:
                wait = lock_wait_seconds() if wait is None else wait
                deadline = time.monotonic() + wait
            if time.monotonic() >= deadline:
                raise WarehouseBusy(path, _holder(exc) or "", wait or 0.0) from None
            time.sleep(min(LOCK_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))


def lock_wait_seconds() -> float:
    from tiepulse.core.settings import Settings

    return Settings().lock_wait


AUTOMATIC_MEMORY_CAP = 3 * 1024**3
"""The automatic DuckDB memory limit never goes above this (a quarter of the machine below it)."""


def automatic_memory_limit() -> int:
    """A quarter of this machine's memory, at most ``AUTOMATIC_MEMORY_CAP``, in bytes."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(total // 4, AUTOMATIC_MEMORY_CAP)


def bound_memory(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    """Cap the memory of the database ``con`` opened (the cap is the database's, shared by all its sessions) and
    let it spill beyond the cap to ``<warehouse>.tmp`` in the home; threads as many as the cores this process may
    use. Order is kept only where a query asks for it (``order by``), which lets DuckDB stream big inserts."""
    from tiepulse.core.settings import Settings

    limit, threads = Settings().duckdb_limits
    con.execute(f"set memory_limit = '{limit or f'{automatic_memory_limit() // 1024**2}MB'}'").fetchall()
    con.execute(f"set threads = {threads or len(os.sched_getaffinity(0))}").fetchall()
    con.execute("set temp_directory = ?", [str(path.with_name(path.name + ".tmp"))]).fetchall()
    con.execute("set preserve_insertion_order = false").fetchall()
    return con


def session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to the database ``con`` has open (no second open of the file), in UTC like ``con``, working
    in the same catalog (the lake, on DuckLake)."""
    database = con.execute("select current_database()").fetchall()[0][0]
    cursor = con.cursor()
    cursor.execute(f'use "{database}"').fetchall()
    return _utc(cursor)


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
    con.execute("commit").fetchall()  # a failed commit ends the transaction too: nothing is left to roll back


@contextmanager
def open_warehouse(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """``connect``, closed at the end; damage found only when a block is read is reported like damage found
    on open (a ``WarehouseError``), not as DuckDB's internal error."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    except duckdb.Error as exc:
        if not _DAMAGE.search(str(exc)):
            raise
        raise _damaged(path, exc) from None
    finally:
        con.close()


def _holder(exc: duckdb.Error) -> str | None:
    """The process named by DuckDB's lock error, with its command line where /proc shows it; None: not a lock."""
    found = _LOCK_HOLDER.search(str(exc))
    if found is None:
        return None
    pid = found.group("pid")
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        program = " ".join(w.decode("utf-8", "replace") for w in words) or found.group("program")
    except OSError:
        program = found.group("program")
    return f"PID {pid} ({program[:160]})"


def _unusable(path: Path, exc: duckdb.Error, *, reading: bool) -> WarehouseError:
    """Why the file cannot be opened, told apart: busy, a folder, unreadable, or damaged."""
    holder = _holder(exc)
    if holder is not None and reading:
        return WarehouseError(
            f"Cannot read {path} now: {holder} is writing it (DuckDB lets no reader in while another process "
            "writes); try again when its run has finished."
        )
    if path.is_dir():
        return WarehouseError(f"{path} is a folder, not a warehouse file; move it aside (the warehouse is a file).")
    if not os.access(path, os.R_OK | (0 if reading else os.W_OK)):
        need = "read" if reading else "read and write"
        return WarehouseError(f"{path}: permission denied; this user must be able to {need} it (chmod 600, chown).")
    return _damaged(path, exc)


def _damaged(path: Path, exc: duckdb.Error) -> WarehouseError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WarehouseError(
        f"{path} is damaged or not a tiepulse warehouse ({first}). Restore it from a backup, or move it aside and "
        "import again into a fresh one."
    )
