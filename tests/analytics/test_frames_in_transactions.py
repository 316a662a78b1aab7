"""Frames inserted batch after batch inside one transaction are not all held until the commit.

A full build of the interactions, and the per-ego marts, insert one frame per range or shard inside one
transaction. DuckDB keeps a *registered* frame (a view in its catalog) and its Arrow data until the transaction
ends, so such a build held every batch at once (11 GB for an organisation-year's interactions);
``marts_io.execute_with_frame`` lets DuckDB read the frame without a catalog entry.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import polars as pl

from tiepulse.core.warehouse import connect, transaction
from tiepulse.pipelines.marts_io import execute_with_frame

BATCHES = 12
ROWS = 400_000
CAP = 200 * 2**20
"""DuckDB's memory cap in the test (one thread: its working set per insert stays well under it)."""


def _batch(i: int) -> pl.DataFrame:
    """A batch of its own (no buffer shared with another): ids and address-like strings."""
    ids = pl.int_range(i * ROWS, (i + 1) * ROWS, eager=True)
    return pl.DataFrame({"n": ids}).with_columns(
        a=pl.format("person.{}@example.org", pl.col("n")),
        b=pl.format("{}-thread-{}", pl.col("n") * 7, pl.lit(i)),
        c=pl.format("subject digest {}", pl.col("n") * 13),
    )


def _rss() -> int:
    """This process's resident memory in bytes (Linux's /proc, as the benchmarks read it)."""
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_batches_inserted_in_one_transaction_are_not_held_until_the_commit(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute(f"set memory_limit = '{CAP // 2**20}MB'").fetchall()
    con.execute("set threads = 1").fetchall()
    inserted = 0
    with transaction(con):
        execute_with_frame(con, "create table main.batches as select * from _frame limit 0", _batch(0))
        before = _rss()
        for i in range(BATCHES):
            batch = _batch(i)
            inserted += batch.estimated_size()
            execute_with_frame(con, "insert into main.batches select * from _frame", batch)
            del batch
        grown = _rss() - before
    assert con.execute("select count(*), count(distinct n) from main.batches").fetchall() == [
        (BATCHES * ROWS, BATCHES * ROWS)
    ]
    # DuckDB may fill its cap; held until the commit, the batches would add about their whole size on top.
    assert grown < CAP + inserted / 2, f"grew {grown / 2**20:.0f} MB for {inserted / 2**20:.0f} MB inserted"
