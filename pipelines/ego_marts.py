"""The per-ego marts (ties, monthly tie history, network health) refreshed shard by shard and incrementally
(``pipelines.ego_refresh``); no Dagster, so the assets, the benchmark and the tests call the same code."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.brokerage import activity_window
from tiepulse.pipelines.analytics.chain import NetworkInputs, network_health
from tiepulse.pipelines.analytics.common import UTC_TS, as_of_instant
from tiepulse.pipelines.analytics.coverage import observe_egos
from tiepulse.pipelines.analytics.fingerprint import (
    PERSON_ATTRIBUTES,
    checksum,
    history_context,
    history_months,
    rules_digest,
)
from tiepulse.pipelines.analytics.health import (
    HEALTH_COLUMNS,
    OBSERVED_COLUMNS,
    SCORE_COLUMNS,
    observation_as_read,
    scored_health,
)
from tiepulse.pipelines.analytics.monthly import MONTHLY_COLUMNS, compute_ties_monthly, month_cutoff, month_start
from tiepulse.pipelines.analytics.ties import TIE_COLUMNS, compute_ties
from tiepulse.pipelines.ego_refresh import Compute, EgoRefresh, EgoTable, refresh_by_ego
from tiepulse.pipelines.ego_shards import SHARD_INTERACTIONS, EgoShard, ego_shards
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.record_window import copied


@cache
def rules() -> str:
    """The analysis rules these marts run: a change to a module they do not import (the ONA's, the introductions')
    leaves their history as it is."""
    return rules_digest(Path(__file__))


TIE_PERSON_ATTRIBUTES = (*PERSON_ATTRIBUTES, "display_name")
"""The columns of ``dim_person`` a tie carries (the alter's name and groups)."""


@dataclass(frozen=True)
class EgoRun:
    """One refresh of the per-ego marts: the warehouse, the analysis date and parameters, the ego shards, and
    whether to rebuild everything."""

    con: duckdb.DuckDBPyConnection
    as_of: dt.date
    params: AnalyticsParams
    shards: list[EgoShard]
    full: bool = False

    def refresh(
        self,
        spec: EgoTable,
        context: str,
        compute: Compute,
        extra: pl.DataFrame | None = None,
        month_context: pl.DataFrame | None = None,
    ) -> EgoRefresh:
        return refresh_by_ego(
            self.con,
            spec,
            self.shards,
            self.as_of,
            context,
            compute,
            extra=extra,
            month_context=month_context,
            full=self.full,
        )


def shards_of(con: duckdb.DuckDBPyConnection, max_interactions: int = SHARD_INTERACTIONS) -> list[EgoShard]:
    return ego_shards(con, tables.INTERACTIONS, max_interactions)


def refresh_ties(run: EgoRun) -> EgoRefresh:
    """``mart_ties`` as of ``as_of``: the ties of the egos whose interactions, contacts or alters changed."""
    con, as_of, params = run.con, run.as_of, run.params
    persons = read_table(con, tables.PERSONS)
    contacts = read_table(con, tables.CONTACTS)
    context = history_context(rules(), params, persons.select(TIE_PERSON_ATTRIBUTES), contacts)
    spec = EgoTable(tables.TIES, tables.TIES, TIE_COLUMNS, history=False)

    def compute(inter: pl.DataFrame, _stale: pl.DataFrame, shard: EgoShard) -> pl.DataFrame:
        return compute_ties(inter, persons, contacts.filter(_in(shard)), as_of, params)

    return run.refresh(spec, context, compute)


def refresh_ties_monthly(run: EgoRun) -> EgoRefresh:
    """``mart_ties_monthly``: the months of the egos whose interactions up to the month's end changed."""
    spec = EgoTable(
        tables.TIES_MONTHLY, tables.TIES_MONTHLY, MONTHLY_COLUMNS, history=True, matches="t.month = s.month"
    )

    def compute(inter: pl.DataFrame, stale: pl.DataFrame, _shard: EgoShard) -> pl.DataFrame:
        return compute_ties_monthly(inter, stale.get_column("month").unique().to_list(), run.params, run.as_of)

    return run.refresh(spec, history_context(rules(), run.params), compute)


HEALTH_TABLE_COLUMNS = [*HEALTH_COLUMNS, "period", "month"]


def refresh_network_health(run: EgoRun) -> EgoRefresh:
    """``mart_network_health``: each ego's row as of ``as_of`` (period 'current') and at each month end (period
    'month'), from the published ``mart_ties``; recomputed for the (ego, month) whose inputs changed."""
    con, as_of, params = run.con, run.as_of, run.params
    persons = read_table(con, tables.PERSONS)
    context = history_context(rules(), params, read_table(con, tables.CONTACTS))
    running = month_start(as_of)
    observation = _Observation.read(con, as_of, params)

    def rescore(pairs: pl.DataFrame, shard: EgoShard) -> pl.DataFrame:
        months = read_table(con, f"(select * from {tables.NETWORK_HEALTH} where period = 'month') h", *shard.where())
        return observation.rescored(months.join(pairs, on=["ego_id", "month"], how="semi"))

    spec = EgoTable(
        tables.NETWORK_HEALTH,
        f"{tables.NETWORK_HEALTH}#month",
        HEALTH_TABLE_COLUMNS,
        history=True,
        matches=f"(t.period = 'month' and t.month = s.month) or (t.period = 'current' and s.month = DATE '{running}')",
        rescore=rescore,
    )

    def compute(inter: pl.DataFrame, stale: pl.DataFrame, shard: EgoShard) -> pl.DataFrame:
        months = sorted(stale.get_column("month").unique().to_list())
        # brokerage reads the messages and meetings of the activity window before each cut-off only
        after = activity_window(min(month_cutoff(m, as_of) for m in months), params)[0]
        # a day's refresh recomputes every ego's running month: its records are read from one copy of the window
        records = recent.records_of(inter, after) if recent.covers(after) else None
        inputs = tables.read_network_inputs(con, shard, inter, records_after=after, records=records)
        frames = [
            network_health(
                _of_egos(inputs, stale.filter(pl.col("month") == m)), month_cutoff(m, as_of), params
            ).with_columns(period=pl.lit("month"), month=pl.lit(m))
            for m in months
            if m != running
        ]
        if running in months:
            # The running month is evaluated at the analysis date: its row is the current one (computed once).
            ties = read_table(con, tables.TIES, *shard.where()).filter(
                pl.col("ego_id").is_in(inter["ego_id"].implode())
            )
            current = network_health(inputs, as_of, params, ties)
            frames[:0] = [current.with_columns(period=pl.lit(p), month=pl.lit(running)) for p in ("current", "month")]
        return pl.concat(frames, how="vertical_relaxed").select(HEALTH_TABLE_COLUMNS)

    people = people_seen_by_month(con, persons.select(PERSON_ATTRIBUTES), as_of)
    with copied(con, activity_window(as_of, params)[0]) as recent:
        return run.refresh(spec, context, compute, observation.by_month(con), people)


def people_seen_by_month(con: duckdb.DuckDBPyConnection, persons: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per month of history (``month``), a digest (``context``) of the people an ego's month can read: those seen as
    an ego or an alter in an interaction up to the month's cut-off, with their attributes. Health reads a person only
    as the ego or an alter of the interactions it is given, so a person first seen later (a new outside address in
    today's mail) leaves the closed months as they were, while a changed team or domain of anyone seen by then
    redoes them."""
    first_seen = read_table(
        con,
        f"(select person_id, min(occurred_at) as first_seen from (select unnest([ego_id, alter_id]) as person_id, "
        f"occurred_at from {tables.INTERACTIONS}) group by person_id) s",
    )
    seen = persons.join(first_seen, on="person_id")
    months = history_months(first_seen.select(occurred_at="first_seen"), as_of)
    digests = [
        checksum(
            seen.filter(pl.col("first_seen") <= pl.lit(as_of_instant(month_cutoff(m, as_of)), dtype=UTC_TS)).drop(
                "first_seen"
            )
        )
        for m in months
    ]
    return pl.DataFrame({"month": months, "context": digests}, schema={"month": pl.Date, "context": pl.String})


@dataclass(frozen=True)
class _Observation:
    """What was observed of each ego (the observation windows and the addresses that resolve their owners), as the
    health reads it at a month's cut-off."""

    windows: pl.DataFrame
    addresses: pl.DataFrame
    as_of: dt.date
    params: AnalyticsParams

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: dt.date, params: AnalyticsParams) -> _Observation:
        addresses = read_table(con, f"(select address, person_id from {tables.ADDRESSES}) a")
        return cls(read_table(con, tables.OBSERVATION_WINDOWS), addresses, as_of, params)

    def at(self, month: dt.date) -> pl.LazyFrame:
        cutoff = month_cutoff(month, self.as_of)
        return observation_as_read(observe_egos(self.windows, self.addresses, cutoff, self.params), cutoff, self.params)

    def by_month(self, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        """A digest of it per ego and month (``extra``)."""
        first = read_table(
            con,
            f"(select min(occurred_at) as occurred_at from {tables.INTERACTIONS}) f",
            "where occurred_at <= ?",
            [as_of_instant(self.as_of)],
        )
        frames = [
            self.at(m)
            .select("ego_id", month=pl.lit(m), extra=pl.struct(pl.exclude("ego_id")).hash().cast(pl.String))
            .collect()
            for m in history_months(first, self.as_of)
        ]
        return (
            pl.concat(frames)
            if frames
            else pl.DataFrame(schema={"ego_id": pl.String, "month": pl.Date, "extra": pl.String})
        )

    def rescored(self, stored: pl.DataFrame) -> pl.DataFrame:
        """Stored month rows of ``mart_network_health`` scored again against the observation at their cut-off: a
        month whose interactions and context are as they were and whose observation changed."""
        kept = [c for c in stored.columns if c not in {*OBSERVED_COLUMNS, *SCORE_COLUMNS, "as_of", "period", "month"}]
        frames = [
            scored_health(
                stored.filter(pl.col("month") == m).select(kept), self.at(m), month_cutoff(m, self.as_of), self.params
            ).with_columns(period=pl.lit("month"), month=pl.lit(m))
            for m in sorted(stored.get_column("month").unique().to_list())
        ]
        return pl.concat(frames, how="vertical_relaxed").select(HEALTH_TABLE_COLUMNS)


def _of_egos(inputs: NetworkInputs, stale: pl.DataFrame) -> NetworkInputs:
    """``inputs`` narrowed to the interactions of the egos of ``stale`` (a past month is redone for those only)."""
    return inputs.of_egos(stale.get_column("ego_id"))


def _in(shard: EgoShard) -> pl.Expr:
    return pl.col("ego_id").is_between(pl.lit(shard.first), pl.lit(shard.last))
