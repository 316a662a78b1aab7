"""Whether a refresh would find nothing to do: then the CLI's refresh does not start Dagster at all.

After a refresh in which every asset was built and every quality check passed, ``remember`` records one fingerprint
of everything a refresh reads and writes (``ops.build_state``, target ``refresh/everything``):

- every table of the warehouse (row count and the sum of its rows' hashes, as ``build_state.table_fingerprint``),
  raw and derived alike, except the run log and the build records themselves;
- what the refresh writes beside it: the BI snapshot and the HTML reports (each file's path, size and time);
- what it is computed with: the settings and the parsed config, the pseudonym key, the analysis date and today's
  date (the checks' date bounds), tiepulse's and its engines' versions, and every source file of the package
  (path, size and time: the migrations and the models' SQL and checks are among them).

A refresh whose fingerprint is the same finds the warehouse exactly as the last refresh left it, with nothing new
to read: every table would be rebuilt from the same inputs, and every quality check would run on the same rows,
with the same checks, as when all of them passed. So it records a run in ``ops.runs`` (``unchanged_since``) and
stops there. Any change (a new row anywhere, a table edited or dropped, the BI file or a report removed, a new day,
another config, code or engine) runs the whole refresh as before. ``--full`` forgets the record first.

What the run is computed with (``computed_with``: code, settings, dates, versions) is taken when the run starts, and
compared again at its end: a run during which the code changed (an editable install edited) or the day turned
records nothing, so the next refresh runs in full rather than trust a mix.

The record is two digests: the outline (``_outline``: the tables' names and row counts and everything but the rows)
and the contents (``_contents``: each table's row count and hash sum). The question before a run compares the outline
first, so a day with new rows or a new date reads no table's rows; after a passed run the contents take the tables
the run's builds counted (``_written_since``) and scan the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import duckdb

from tiepulse.core.keyed_writes import replace_keyed
from tiepulse.core.runlog import RunSummary, note_blocked_run, record_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import WarehouseBusy, connect

# Light on purpose (no Polars, no Dagster): the CLI asks here before it spawns Great Expectations' worker and loads
# the pipelines.
STATE_TABLE = "ops.build_state"
"""``build_state.STATE_TABLE``, where ``tiepulse refresh --full`` forgets this record with the others."""
TARGET = "refresh/everything"
SEPARATOR = "/"
"""Between the outline's digest and the contents' in the recorded fingerprint."""
BOOKKEEPING = ("ops.runs", STATE_TABLE)
"""Written by every run (the run log, each build's time): what they hold does not feed a refresh's results."""
ENGINES = ("dagster", "great_expectations", "duckdb", "polars", "pyarrow")
SOURCE_SUFFIXES = (".py", ".sql", ".yml", ".yaml")
PACKAGE = Path(__file__).parents[1]
"""The installed ``tiepulse`` package (this file is ``tiepulse/pipelines/refresh_gate.py``; its folders linked in the
source tree are walked through their links)."""


def unchanged_since(con: duckdb.DuckDBPyConnection, settings: Settings) -> dt.datetime | None:
    """When the last fully passed refresh ended, if nothing a refresh reads or writes has changed since; else None.

    The outline is compared first: a new day, a new row or another config is seen without reading any table's rows.
    Only when it is the same are the tables' rows hashed and compared."""
    rows = con.execute(f"select fingerprint, built_at from {STATE_TABLE} where target = ?", [TARGET]).fetchall()
    if not rows:
        return None
    (recorded, since), names = rows[0], _table_names(con)
    outline, _, contents = recorded.partition(SEPARATOR)
    if _outline(con, settings, names, computed_with(settings)) != outline or _contents(con, names, {}) != contents:
        return None
    return since


def log_unchanged(summary: RunSummary, since: dt.datetime) -> None:
    summary.update(tables=0, failed_checks=[], unchanged_since=since)
    summary.status = "success"


def logged_if_unchanged(settings: Settings) -> dt.datetime | None:
    """The CLI's question before a refresh: when nothing changed, log the refresh as done and say since when."""
    try:
        opened = connect(settings.warehouse_path)
    except WarehouseBusy as exc:  # kept for `tiepulse status`, as a refresh's own open does
        note_blocked_run(settings.home, "refresh", dt.datetime.now(dt.UTC), str(exc))
        raise
    with closing(opened) as con:
        since = unchanged_since(con, settings)
        if since is not None:
            with record_run(con, "refresh") as summary:
                log_unchanged(summary, since)
        return since


def remember(con: duckdb.DuckDBPyConnection, settings: Settings, run_started: dt.datetime, started_with: str) -> None:
    """Record the state a refresh that built everything and passed every check has left; nothing (and the last
    record forgotten) when what it is computed with (``computed_with``) is no longer ``started_with``, as the run
    began.

    The tables this run (started at ``run_started``) has counted are not read again (``_written_since``: what a SQL
    model's build left, and the raw tables as the models read them): nothing else writes them in a run, so that is
    what a scan would give. The other tables are scanned."""
    if computed_with(settings) != started_with:
        forget(con)
        return
    fp = fingerprint(con, settings, _written_since(con, run_started), started_with)
    rows = "select ?::varchar as target, ?::varchar as fingerprint, null::timestamptz as watermark, now() as built_at"
    replace_keyed(con, STATE_TABLE, rows, ["target"], [TARGET, fp])


def forget(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"delete from {STATE_TABLE} where target = ?", [TARGET]).fetchall()


def fingerprint(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    known: Mapping[str, str] | None = None,
    started_with: str | None = None,
) -> str:
    """The outline (``_outline``) and the digest of every table's rows, ``known``: tables' fingerprints already
    counted (``build_state.table_fingerprint``'s form), the others are scanned. ``started_with``: ``computed_with``
    as the run began (taken now when not given)."""
    names = _table_names(con)
    environment = computed_with(settings) if started_with is None else started_with
    return f"{_outline(con, settings, names, environment)}{SEPARATOR}{_contents(con, names, known or {})}"


def computed_with(settings: Settings) -> str:
    """A digest of what a refresh is computed with: the package's code (the migrations and models are among its
    files), the settings and the config, the pseudonym key, today's date (the checks' date bounds) and the engines'
    versions."""
    parts = [
        *_files([PACKAGE], SOURCE_SUFFIXES),
        settings.model_dump_json(),
        settings.config.model_dump_json(),
        hashlib.sha256(settings.hmac_key or b"").hexdigest(),
        dt.date.today().isoformat(),
        *(f"{name}={version(name)}" for name in ("tiepulse", *ENGINES)),
    ]
    return _digest(parts)


def _outline(con: duckdb.DuckDBPyConnection, settings: Settings, names: list[str], environment: str) -> str:
    """A digest of what is cheap to read: the tables' names and row counts, the files beside them, and what the
    refresh is computed with (``computed_with``'s digest, ``environment``)."""
    counts = " union all ".join(f"select '{name}', count(*) from {name}" for name in names)
    parts = [
        *(f"{name}:{rows}" for name, rows in (con.execute(f"{counts} order by 1").fetchall() if names else [])),
        *_files([settings.home / "bi.duckdb", settings.home / "reports"]),
        environment,
    ]
    return _digest(parts)


def _contents(con: duckdb.DuckDBPyConnection, names: list[str], known: Mapping[str, str]) -> str:
    """A digest of every table's row count and sum of its rows' hashes; ``known`` ones are taken, not scanned."""
    scan = [name for name in names if name not in known]
    each = " union all ".join(
        f"select '{name}' as name, count(*) || ':' || coalesce(sum(hash(t)::hugeint), 0) as fp from {name} t"
        for name in scan
    )
    found = {**known, **(dict(con.execute(each).fetchall()) if scan else {})}
    return _digest([f"{name}:{found[name]}" for name in names])


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of the warehouse but the bookkeeping ones (``BOOKKEEPING``), in order."""
    return [
        name
        for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1"
        ).fetchall()
        if name not in BOOKKEEPING
    ]


def _written_since(con: duckdb.DuckDBPyConnection, started: dt.datetime) -> dict[str, str]:
    """Table -> its fingerprint as a build recorded since ``started`` counted it: what a SQL model's build left
    (``BuildState.output``), and each raw table it read (``BuildState.inputs``; a refresh writes raw tables only
    before the models that read them run)."""
    rows = con.execute(f"select target, output, inputs from {STATE_TABLE} where built_at >= ?", [started]).fetchall()
    known: dict[str, str] = {}
    for _, _, inputs in rows:
        read = json.loads(inputs) if inputs else {}
        known.update({t: fp for t, fp in read.items() if t.startswith("raw.") and ":" in fp})  # not "absent"
    known.update({target: output for target, output, _ in rows if output is not None})
    return known


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
