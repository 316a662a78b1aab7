"""Ego shards: the interactions cut into ranges of egos of bounded size, so the analytics hold one range at a time.

Every analytics result is per ego (a tie, an ego's health, its monthly history), so a range of egos can be
analysed on its own and the ranges' results put side by side equal the whole table's. ``fct_interactions`` is
written sorted by ego, so DuckDB reads a range through its min/max zone maps without scanning the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

SHARD_INTERACTIONS = 1_000_000
"""Interactions per shard by default: about 0.7 GB of working set for the heaviest stage (docs/architecture.md,
"Memory model")."""


@dataclass(frozen=True)
class EgoShard:
    """The egos from ``first`` to ``last`` (inclusive, in sort order) and how many interactions they have."""

    first: str
    last: str
    interactions: int = 0

    def where(self, column: str = "ego_id") -> tuple[str, list[object]]:
        """The ``where`` clause and its parameters selecting this range of egos by ``column``."""
        return f"where {column} between ? and ?", [self.first, self.last]

    @classmethod
    def one(cls, ego_id: str) -> EgoShard:
        return cls(ego_id, ego_id)


def ego_shards(
    con: duckdb.DuckDBPyConnection, table: str, max_interactions: int = SHARD_INTERACTIONS
) -> list[EgoShard]:
    """Consecutive ranges of the egos of ``table`` by interactions: an ego joins the shard in which its first row
    falls when all rows are laid out in ego order, so a shard holds ``max_interactions`` rows plus at most the
    rest of its last ego's."""
    return ego_ranges(con, f"select ego_id, count(*)::bigint as n from {table} group by ego_id", max_interactions)


def ego_ranges(con: duckdb.DuckDBPyConnection, counts: str, max_rows: int) -> list[EgoShard]:
    """Consecutive ranges of egos of about ``max_rows`` rows each, from ``counts``: a query giving ``ego_id`` and its
    rows ``n`` (an ego with more is a range of its own)."""
    sizes = pl.DataFrame(con.sql(f"select ego_id, n from ({counts}) c order by ego_id"))
    ranges = (
        sizes.with_columns(shard=(pl.col("n").cum_sum() - pl.col("n")) // max_rows)
        .group_by("shard", maintain_order=True)
        .agg(first=pl.col("ego_id").first(), last=pl.col("ego_id").last(), n=pl.col("n").sum())
    )
    return [EgoShard(first, last, int(n)) for _, first, last, n in ranges.iter_rows()]
