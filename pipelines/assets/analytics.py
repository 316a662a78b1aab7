"""The analytics layer as Dagster assets: interactions, ties, monthly history, network health and alerts.

Each asset reads staging (or upstream marts) from DuckDB as Arrow (the tables named in ``pipelines.network_io``),
calls a pure Polars transform from ``tiepulse.pipelines.analytics`` (ties, health and alerts: the steps of
``analytics.chain``) and publishes its table atomically. Everything is computed as of ``TIEPULSE_AS_OF``.
Ties, their monthly history and network health (current and monthly rows) run ego shard by ego shard and only for
the (ego, month) whose fingerprint changed (the ego's interactions up to the month's cut-off, the parameters, and
what else the table depends on: ``pipelines.ego_marts``), so the memory is bounded by a shard, a daily run does not
rebuild all history, and a changed threshold or directory rebuilds all of it.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb

from tiepulse.core.keyed_writes import insert_missing
from tiepulse.core.params import params_for
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics import compute_alerts
from tiepulse.pipelines.assets.table_metadata import table_metadata
from tiepulse.pipelines.checks import PendingChecks, check_specs, polars_table_checks, start_checks
from tiepulse.pipelines.ego_marts import EgoRun, refresh_network_health, refresh_ties, refresh_ties_monthly, shards_of
from tiepulse.pipelines.ego_refresh import EgoRefresh
from tiepulse.pipelines.ego_shards import bound_duckdb
from tiepulse.pipelines.marts_io import publish, read_table
from tiepulse.pipelines.network_io import interactions_from_staging, read_observation
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _keys(*tables: str) -> list[dg.AssetKey]:
    return [_key(t) for t in tables]


def _check_specs(table: str) -> list[dg.AssetCheckSpec]:
    return check_specs(polars_table_checks(table))


def _start_checks(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, table: str, as_of: dt.date
) -> PendingChecks:
    """The table's checks, started as soon as it is published (Great Expectations validates it in its worker while
    the asset finishes); the step returns their results, so a failed blocking check stops what reads the table."""
    return start_checks(con, polars_table_checks(table), as_of, context)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key(tables.INTERACTIONS),
            deps=_keys(*tables.INTERACTION_INPUTS),
            description="One row per ego, alter and contact (mail, meetings, the manual log), with channel, "
            "direction, group size, minutes, in-person and after-hours flags.",
            group_name="marts",
            kinds={"polars", "duckdb"},
        ),
        dg.AssetSpec(
            _key(tables.INTERACTION_EXCLUSIONS),
            deps=_keys(*tables.INTERACTION_INPUTS),
            description="Records left out of interactions, counted by source and reason.",
            group_name="marts",
            kinds={"polars", "duckdb"},
        ),
    ],
    check_specs=_check_specs(tables.INTERACTIONS),
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def interactions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        frame, excluded = interactions_from_staging(con, params_for(settings))
        publish(con, tables.INTERACTIONS, frame)
        checks = _start_checks(context, con, tables.INTERACTIONS, settings.as_of)
        publish(con, tables.INTERACTION_EXCLUSIONS, excluded)
        built = {table: table_metadata(con, table) for table in (tables.INTERACTIONS, tables.INTERACTION_EXCLUSIONS)}
    yield dg.MaterializeResult(
        asset_key=_key(tables.INTERACTIONS), metadata=built[tables.INTERACTIONS], check_results=checks.results()
    )
    reasons = {f"{r['source']}:{r['reason']}": int(r["n_records"]) for r in excluded.iter_rows(named=True)}
    yield dg.MaterializeResult(
        asset_key=_key(tables.INTERACTION_EXCLUSIONS), metadata={**built[tables.INTERACTION_EXCLUSIONS], **reasons}
    )


@dg.asset(
    key=_key(tables.TIES),
    deps=_keys(tables.INTERACTIONS, tables.PERSONS, tables.CONTACTS),
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=_check_specs(tables.TIES),
    description="One row per ego and alter as of the analysis date: strength, recency, cadence, channel mix, "
    "initiation, reply rate, trend, class and bucket (docs/metrics.md).",
)
def mart_ties(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        bound_duckdb(con)
        done = refresh_ties(EgoRun(con, settings.as_of, params_for(settings), shards_of(con)))
        checks = _start_checks(context, con, tables.TIES, settings.as_of)
        built = table_metadata(con, tables.TIES)
        classes = dict(con.execute(f"select tie_class, count(*) from {tables.TIES} group by all").fetchall())
    return dg.MaterializeResult(
        metadata={**built, "as_of": str(settings.as_of), **classes, "egos_recomputed": done.egos_recomputed},
        check_results=checks.results(),
    )


@dg.asset(
    key=_key(tables.TIES_MONTHLY),
    deps=[_key(tables.INTERACTIONS)],
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Each tie at the end of each month (the month still running: at the analysis date; strength, "
    "class, volume of the month): the history for trend charts. Incremental: only months whose inputs or "
    "parameters changed are recomputed.",
    check_specs=_check_specs(tables.TIES_MONTHLY),
)
def mart_ties_monthly(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        bound_duckdb(con)
        done = refresh_ties_monthly(EgoRun(con, settings.as_of, params_for(settings), shards_of(con)))
        checks = _start_checks(context, con, tables.TIES_MONTHLY, settings.as_of)
        built = table_metadata(con, tables.TIES_MONTHLY)
    return dg.MaterializeResult(metadata={**built, **_recomputed(done)}, check_results=checks.results())


def _recomputed(done: EgoRefresh) -> dict[str, int]:
    return {"months_recomputed": done.months_recomputed, "months": done.months, "egos_recomputed": done.egos_recomputed}


@dg.asset(
    key=_key(tables.NETWORK_HEALTH),
    deps=_keys(
        tables.TIES,
        tables.INTERACTIONS,
        tables.PERSONS,
        tables.CONTACTS,
        *tables.PARTICIPANT_INPUTS,
        *tables.COVERAGE_INPUTS,
    ),
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="One row per ego as of the analysis date (period 'current') and per month end (period "
    "'month'): size, tie classes, diversity, brokerage, reciprocity, concentration, channel mix, bucket "
    "allocation, the 0-100 health score and its sub-scores. Month rows are incremental.",
    check_specs=_check_specs(tables.NETWORK_HEALTH),
)
def mart_network_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    table = tables.NETWORK_HEALTH
    with warehouse.connect() as con:
        bound_duckdb(con)
        done = refresh_network_health(EgoRun(con, settings.as_of, params_for(settings), shards_of(con)))
        checks = _start_checks(context, con, table, settings.as_of)
        built = table_metadata(con, table)
        egos, median = con.execute(
            f"select count(*), coalesce(median(health_score), 0) from {table} where period = 'current'"
        ).fetchall()[0]
    return dg.MaterializeResult(
        metadata={**built, **_recomputed(done), "rows": egos, "egos": egos, "median_health_score": float(median)},
        check_results=checks.results(),
    )


@dg.asset(
    key=_key(tables.ALERTS),
    deps=_keys(tables.TIES, tables.NETWORK_HEALTH, tables.PERSONS, *tables.COVERAGE_INPUTS),
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Every alert condition holding at the analysis date (neglected tie, one-sided tie, overload, "
    "narrowing) with its status (open, snoozed or dismissed), severity, a plain-language reason and a "
    "suggested action; the life-cycle lives in ops.alert_state. Notify on status = 'open'.",
    check_specs=_check_specs(tables.ALERTS),
)
def mart_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    params = params_for(settings)
    with warehouse.connect() as con:
        alerts, state = compute_alerts(
            read_table(con, tables.TIES),
            read_table(con, tables.NETWORK_HEALTH, "where period = 'current'"),
            read_table(con, tables.PERSONS),
            settings.as_of,
            params,
            read_table(con, tables.ALERT_STATE),
            read_observation(con, settings.as_of, params),
        )
        con.register("_alerts", alerts.to_arrow())
        con.register("_state", state.to_arrow())
        try:
            with transaction(con):
                con.execute(f"create or replace table {tables.ALERTS} as select * from _alerts").fetchall()
                con.execute(f"delete from {tables.ALERT_STATE}").fetchall()
                con.execute(f"insert into {tables.ALERT_STATE} by name select * from _state").fetchall()
        finally:
            con.unregister("_alerts")
            con.unregister("_state")
        checks = _start_checks(context, con, tables.ALERTS, settings.as_of)
        built = table_metadata(con, tables.ALERTS)
    counts = dict(alerts.group_by("kind").len().iter_rows()) if alerts.height else {}
    return dg.MaterializeResult(
        metadata={
            **built,
            "new": int(alerts.get_column("is_new").sum()) if alerts.height else 0,
            **counts,
        },
        check_results=checks.results(),
    )


analytics_assets = [interactions, mart_ties, mart_ties_monthly, mart_network_health, mart_alerts]


@dg.op(pool=WAREHOUSE_POOL)
def record_new_alerts(warehouse: WarehouseResource) -> int:
    """Copy alerts opened in the latest run into ops.alert_log (the feed for digests and notifications)."""
    with warehouse.connect() as con:
        return insert_missing(
            con,
            "ops.alert_log",
            "select alert_id, as_of, kind, ego_id, alter_id, severity, reason, now() as recorded_at "
            f"from {tables.ALERTS} where is_new and status = 'open'",
            ["alert_id", "as_of"],
        )


@dg.job(description="Record newly opened alerts in ops.alert_log.")
def record_alerts_job() -> None:
    record_new_alerts()


@dg.asset_sensor(asset_key=_key(tables.ALERTS), job=record_alerts_job)
def new_alerts_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    """After each refresh of mart_alerts, record the alerts it opened."""
    return dg.RunRequest(run_key=asset_event.run_id)
