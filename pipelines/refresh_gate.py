"""Whether a refresh would find nothing to do: then the CLI's refresh does not start Dagster at all.

After a refresh in which every asset was built and every quality check passed, ``remember`` records one fingerprint
of everything a refresh reads and writes (``ops.build_state``, target ``refresh/everything``):

- every table of the warehouse (row count and the sum of its rows' hashes, as ``build_state.table_fingerprint``),
  raw and derived alike, except the run log and the build records themselves;
- what the refresh writes beside it: the BI snapshot and the HTML reports (each file's path, size and time);
- what it is computed with: the settings and the parsed config, the pseudonym key, the analysis date and today's
  date (the checks' date bounds), tiepulse's and its engines' versions, the migrations and every source file of
  the package (path, size and time).

A refresh whose fingerprint is the same finds the warehouse exactly as the last refresh left it, with nothing new
to read: every table would be rebuilt from the same inputs, and every quality check would run on the same rows,
with the same checks, as when all of them passed. So it records a run in ``ops.runs`` (``unchanged_since``) and
stops there. Any change (a new row anywhere, a table edited or dropped, the BI file or a report removed, a new day,
another config, code or engine) runs the whole refresh as before. ``--full`` forgets the record first.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import duckdb

import tiepulse
from tiepulse.core.settings import Settings
from tiepulse.pipelines import build_state
from tiepulse.pipelines.analytics.fingerprint import digest

TARGET = "refresh/everything"
BOOKKEEPING = ("ops.runs", build_state.STATE_TABLE)
"""Written by every run (the run log, each build's time): what they hold does not feed a refresh's results."""
ENGINES = ("dagster", "great_expectations", "duckdb", "polars", "pyarrow")
SOURCE_SUFFIXES = (".py", ".sql", ".yml", ".yaml")


def unchanged_since(con: duckdb.DuckDBPyConnection, settings: Settings) -> dt.datetime | None:
    """When the last fully passed refresh ended, if nothing a refresh reads or writes has changed since; else None."""
    row = con.execute(
        f"select built_at from {build_state.STATE_TABLE} where target = ? and fingerprint = ?",
        [TARGET, fingerprint(con, settings)],
    ).fetchone()
    return row[0] if row else None


def remember(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Record the state a refresh that built everything and passed every check has left."""
    build_state.record(con, TARGET, fingerprint(con, settings))


def forget(con: duckdb.DuckDBPyConnection) -> None:
    build_state.forget(con, TARGET)


def fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    return digest(
        *_tables(con),
        *_files([settings.home / "bi.duckdb", settings.home / "reports"]),
        *_files([Path(tiepulse.__file__).parent], SOURCE_SUFFIXES),
        settings.model_dump_json(),
        settings.config.model_dump_json(),
        digest((settings.hmac_key or b"").hex()),
        dt.date.today().isoformat(),
        build_state.code_version(),
        *(f"{name}={version(name)}" for name in ENGINES),
    )


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = [
        name
        for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1"
        ).fetchall()
        if name not in BOOKKEEPING
    ]
    if not names:
        return []
    each = " union all ".join(
        f"select '{name}' as name, count(*) as n, coalesce(sum(hash(t)::hugeint), 0) as h from {name} t"
        for name in names
    )
    return [f"{name}:{rows}:{hashes}" for name, rows, hashes in con.execute(f"{each} order by 1").fetchall()]


def _files(roots: list[Path], suffixes: tuple[str, ...] = ("",)) -> Iterator[str]:
    """Path, size and modification time of each file under ``roots`` whose name ends with one of ``suffixes`` (a
    root may be a file, or absent)."""
    for root in roots:
        if root.is_file():
            yield _stat(root)
            continue
        for folder, dirs, files in os.walk(root, followlinks=True):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            yield from (_stat(Path(folder) / name) for name in sorted(files) if name.endswith(suffixes))


def _stat(path: Path) -> str:
    info = path.stat()
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"
