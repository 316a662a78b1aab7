"""Analytics tables refreshed ego shard by ego shard, and only for the egos (and months) whose inputs changed.

For each shard (``pipelines.ego_shards``) the interactions of its egos are read, every (ego, month) is
fingerprinted (``analytics.fingerprint.ego_month_fingerprints``: the ego's interactions up to the month's cut-off
and a context digest of what weighs on every ego alike, optionally preceded by a digest per month of what weighs on
every ego's month alike: the people seen up to its cut-off), and the rows of the stale pairs (new or changed
fingerprint) are recomputed and replaced; rows of pairs that no longer exist are deleted. The fingerprints are
kept in ``ops.ego_history_state``. The whole refresh is one transaction: readers see the table before or after it.
``full=True`` forgets the fingerprints and rebuilds everything; so does a missing table or one whose columns this
version does not write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.analytics import INTERACTION_SCHEMA
from tiepulse.pipelines.analytics.fingerprint import ego_month_fingerprints, ego_month_sums
from tiepulse.pipelines.analytics.monthly import month_start
from tiepulse.pipelines.ego_shards import EgoShard
from tiepulse.pipelines.marts_io import execute_with_frame, read_table, table_columns
from tiepulse.pipelines.network_io import INTERACTIONS

STATE = "ops.ego_history_state"

Compute = Callable[[pl.DataFrame, pl.DataFrame, EgoShard], pl.DataFrame]
"""``(interactions of the egos to recompute, their stale (ego_id, month) pairs, the shard) -> rows``; the rows may
cover more (ego, month) pairs than asked: only the stale ones are kept."""

Rescore = Callable[[pl.DataFrame, EgoShard], pl.DataFrame]
"""``((ego_id, month) pairs whose ``extra`` digest alone changed, the shard) -> their rows``, from the rows stored."""


@dataclass(frozen=True)
class EgoTable:
    """A table refreshed by ego: its name, its key in the state, its columns, and how its rows match the state."""

    table: str
    key: str
    columns: list[str]
    history: bool
    """True: one row set per (ego, month) of history; False: one per ego, as of the analysis date."""
    matches: str = "true"
    """SQL over the table's row ``t`` and a stale (ego, month) ``s`` of the same ego: the rows ``s`` replaces."""
    rescore: Rescore | None = None
    """How to redo a closed (ego, month) whose interactions and context are as they were and whose ``extra`` digest
    changed, from its stored rows; None: recompute it."""


@dataclass(frozen=True)
class EgoRefresh:
    """What a refresh did: egos and months recomputed (months: distinct stale months over all egos)."""

    egos: int
    egos_recomputed: int
    months: int
    months_recomputed: int
    rows_written: int


def refresh_by_ego(
    con: duckdb.DuckDBPyConnection,
    spec: EgoTable,
    shards: list[EgoShard],
    as_of: dt.date,
    context: str,
    compute: Compute,
    *,
    extra: pl.DataFrame | None = None,
    month_context: pl.DataFrame | None = None,
    full: bool = False,
) -> EgoRefresh:
    """Bring ``spec.table`` up to date shard by shard (see the module's docstring). ``extra``: per ego and month,
    a digest of other inputs of that ego (``ego_month_fingerprints``); ``month_context``: per ``month``, a
    ``context`` digest of what every ego's month depends on (a change recomputes the month, never only rescores)."""
    with transaction(con):
        fresh = full or _reset_if_changed(con, spec)
        if fresh:
            con.execute(f"delete from {STATE} where table_name = ?", [spec.key]).fetchall()
        egos, all_months, stale_months = [], set(), set()
        stale_egos = written = 0
        for shard in shards:
            inter = read_table(con, INTERACTIONS, *shard.where())
            prints = ego_month_fingerprints(ego_month_sums(inter, as_of), as_of, context, extra)
            if month_context is not None:  # first: the last part stays ``extra`` (see ``_extra_only``)
                prints = prints.join(month_context, on="month", how="left").select(
                    "ego_id",
                    "month",
                    fingerprint=pl.concat_str(pl.col("context").fill_null(""), "fingerprint", separator="|"),
                )
            if not spec.history:
                prints = prints.filter(pl.col("month") == month_start(as_of))
            stored = _stored(con, spec.key, shard)
            changed = prints.join(stored, on=["ego_id", "month", "fingerprint"], how="anti")
            stale = changed.select("ego_id", "month")
            rescored = _extra_only(changed, stored, as_of) if spec.rescore is not None else stale.clear()
            gone = stored.join(prints, on=["ego_id", "month"], how="anti").select("ego_id", "month")
            egos.extend(prints.get_column("ego_id").unique().to_list())
            all_months.update(prints.get_column("month").to_list())
            if stale.is_empty() and gone.is_empty():
                continue
            recompute = stale.join(rescored, on=["ego_id", "month"], how="anti")
            redo = recompute.get_column("ego_id").unique()
            stale_egos += stale.get_column("ego_id").n_unique()
            stale_months.update(stale.get_column("month").to_list())
            parts = []
            if not recompute.is_empty():
                computed = compute(inter.filter(pl.col("ego_id").is_in(redo.implode())), recompute, shard)
                on = ["ego_id", "month"] if spec.history else ["ego_id"]
                parts.append(computed.join(recompute, on=on, how="semi"))
            if spec.rescore is not None and not rescored.is_empty():
                parts.append(spec.rescore(rescored, shard))
            rows = pl.concat([part.select(spec.columns) for part in parts], how="vertical_relaxed") if parts else None
            _replace(con, spec, shard, pl.concat([stale, gone]), rows)
            _remember(con, spec.key, prints.join(stale, on=["ego_id", "month"], how="semi"), gone)
            written += rows.height if rows is not None else 0
        if not table_columns(con, spec.table):  # no ego at all: an empty table with the right columns
            nobody = pl.DataFrame({"ego_id": [""], "month": [month_start(as_of)]})
            empty = compute(pl.DataFrame(schema=INTERACTION_SCHEMA), nobody, EgoShard("", ""))
            nothing = pl.DataFrame(schema={"ego_id": pl.String, "month": pl.Date})
            _replace(con, spec, EgoShard("", ""), nothing, empty.clear())
        _forget_other_egos(con, spec, egos)
    return EgoRefresh(len(egos), stale_egos, len(all_months), len(stale_months), written)


def _extra_only(changed: pl.DataFrame, stored: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The closed (ego, month) of ``changed`` whose fingerprint differs from the stored one in its last part (the
    ``extra`` digest) only. Not the running month: its fingerprint stands for the ego's rows as of ``as_of`` too."""
    base = pl.col("fingerprint").str.replace(r"\|[^|]*$", "")
    return (
        changed.filter(pl.col("month") != month_start(as_of))
        .with_columns(base=base)
        .join(stored.with_columns(base=base), on=["ego_id", "month", "base"], how="semi")
        .select("ego_id", "month")
    )


def _reset_if_changed(con: duckdb.DuckDBPyConnection, spec: EgoTable) -> bool:
    """True when the table must be built from nothing: missing, or written with other columns (then dropped)."""
    found = [column for column, _ in table_columns(con, spec.table)]
    if found and found != spec.columns:
        con.execute(f"drop table {spec.table}").fetchall()
    return found != spec.columns


def _stored(con: duckdb.DuckDBPyConnection, key: str, shard: EgoShard) -> pl.DataFrame:
    where, params = shard.where()
    return read_table(
        con, f"(select ego_id, month, fingerprint from {STATE} where table_name = ?) s", where, [key, *params]
    )


def _replace(
    con: duckdb.DuckDBPyConnection, spec: EgoTable, shard: EgoShard, keys: pl.DataFrame, rows: pl.DataFrame | None
) -> None:
    """Delete the table's rows of the (ego, month) ``keys`` (of egos of ``shard``) and insert ``rows`` (None: none,
    and the table exists or has nothing to delete)."""
    if rows is None and not table_columns(con, spec.table):
        return
    if rows is not None:
        execute_with_frame(con, f"create table if not exists {spec.table} as select * from _frame limit 0", rows)
    # The shard's range lets DuckDB skip, by their zone maps, the row groups of other egos (rows are written in
    # ego order, shard after shard): without it every shard's delete scanned the whole table.
    where, params = shard.where("t.ego_id")
    execute_with_frame(
        con,
        f"delete from {spec.table} t using _frame s {where} and t.ego_id = s.ego_id and ({spec.matches})",
        keys,
        params,
    )
    if rows is not None:
        execute_with_frame(con, f"insert into {spec.table} by name select * from _frame", rows)


def _remember(con: duckdb.DuckDBPyConnection, key: str, computed: pl.DataFrame, gone: pl.DataFrame) -> None:
    replaced = pl.concat([computed.select("ego_id", "month"), gone])
    execute_with_frame(
        con,
        f"delete from {STATE} t using _frame g where t.table_name = ? and t.ego_id = g.ego_id and t.month = g.month",
        replaced,
        [key],
    )
    execute_with_frame(
        con,
        f"insert into {STATE} (table_name, ego_id, month, fingerprint, computed_at) "
        "select ?, ego_id, month, fingerprint, now() from _frame",
        computed,
        [key],
    )


def _forget_other_egos(con: duckdb.DuckDBPyConnection, spec: EgoTable, egos: list[str]) -> None:
    """Rows and fingerprints of egos no shard holds any more (their interactions are gone)."""
    kept = pl.DataFrame({"ego_id": egos}, schema={"ego_id": pl.String})
    for table, extra in ((spec.table, ""), (STATE, f" and table_name = '{spec.key}'")):
        execute_with_frame(con, f"delete from {table} where ego_id not in (select ego_id from _frame){extra}", kept)


def recomputed_egos(con: duckdb.DuckDBPyConnection, table: str, since: dt.datetime) -> list[str]:
    """The egos whose rows of ``table`` were recomputed at or after ``since`` (e.g. the start of a refresh): what a
    later step (reports, notifications) needs to redo."""
    rows = con.execute(
        f"select distinct ego_id from {STATE} where table_name = ? and computed_at >= ? order by ego_id",
        [table, since],
    ).fetchall()
    return [r[0] for r in rows]
