"""Forget a DuckLake's past, so that rows deleted for good (an erasure) leave no byte behind.

A delete on a lake writes a delete file beside the data file that still holds the row, older snapshots keep reading
both, and the catalog keeps each column's smallest and largest value per data file and per table. ``forget_history``
takes them all away, in DuckLake's own maintenance order: rows inlined in the catalog are flushed to data files,
every data file with deletes is rewritten without them, every snapshot but the current one is expired, the files no
snapshot reads any more are deleted, and the tables' text bounds are computed again from the live files (a table's
bounds only ever widen as rows come in, so an erased address could stay as a bound). Last the catalog frees the
space that held deleted catalog rows: a SQLite file is vacuumed; a PostgreSQL catalog database has its statistics
taken again and every table rewritten without its dead rows (``analyze`` then ``vacuum full``, which its owner may
run on all its tables). Time travel to before the erasure is gone with it, as it must.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb

from tiepulse.core.ducklake import EXTENSION_CONFIG, LAKE, lake_location
from tiepulse.core.settings import DuckLakeOptions
from tiepulse.core.warehouse import connect

Bound = tuple[int, int, str | None, str | None]
"""A text column's (table id, column id, smallest value, largest value) in the catalog's table statistics."""
RESTATE = "update ducklake_table_column_stats set min_value = ?, max_value = ? where table_id = ? and column_id = ?"


def purge_lake(path: Path, options: DuckLakeOptions) -> None:
    """``forget_history`` of the lake named by ``path``, its text bounds restated and its catalog vacuumed. Both
    happen once the lake is closed: DuckLake's own connection would hold the SQLite file's lock, or PostgreSQL's
    locks on the tables ``vacuum full`` rewrites."""
    location = lake_location(path, options)
    with closing(connect(path)) as con:
        forget_history(con)
        bounds = [[smallest, largest, table, column] for table, column, smallest, largest in text_bounds(con)]
    if location.catalog_file is None:
        _restate_and_vacuum_postgres(location.catalog.removeprefix("postgres:"), bounds)
        return
    with closing(sqlite3.connect(location.catalog_file)) as sqlite:
        with sqlite:
            sqlite.executemany(RESTATE, bounds)
        sqlite.execute("vacuum")


def _restate_and_vacuum_postgres(dsn: str, bounds: list[list[int | str | None]]) -> None:
    with closing(duckdb.connect(config=EXTENSION_CONFIG)) as con:
        con.execute("load postgres_scanner").fetchall()
        quoted = dsn.replace("'", "''")
        con.execute(f"attach '{quoted}' as catalog (type postgres)").fetchall()
        con.execute("use catalog").fetchall()
        con.executemany(RESTATE, bounds)
        for statement in ("analyze", "vacuum full"):  # statistics first: `analyze` leaves its old rows dead too
            con.execute(f"call postgres_execute('catalog', '{statement}', use_transaction = false)").fetchall()


def forget_history(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite, expire and clean up the lake ``con`` uses."""
    con.execute(f"call ducklake_flush_inlined_data('{LAKE}')").fetchall()
    con.execute(f"call ducklake_rewrite_data_files('{LAKE}', delete_threshold => 0)").fetchall()
    con.execute(f"call ducklake_expire_snapshots('{LAKE}', older_than => now())").fetchall()
    con.execute(f"call ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)").fetchall()


def text_bounds(con: duckdb.DuckDBPyConnection) -> list[Bound]:
    """Each text column's bounds as the smallest and largest of its live data files' bounds (none when the table has
    no live file). Text compares byte-wise in DuckDB, so the bounds of the bounds are the bounds."""
    meta = f"__ducklake_metadata_{LAKE}"
    return con.execute(
        f"""
        select c.table_id, c.column_id, min(f.min_value), max(f.max_value)
        from {meta}.ducklake_column c
        left join ({meta}.ducklake_file_column_stats f
                   join {meta}.ducklake_data_file d on d.data_file_id = f.data_file_id and d.end_snapshot is null)
          on f.table_id = c.table_id and f.column_id = c.column_id
        where c.end_snapshot is null and c.column_type = 'varchar'
        group by all
        """
    ).fetchall()
