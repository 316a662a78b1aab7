"""The analytics layer as Dagster assets: interactions, ties, monthly history, network health and alerts.

Each asset reads staging (or upstream marts) from DuckDB as Arrow, calls a pure Polars transform from
``tiepulse.pipelines.analytics`` and publishes its table atomically. Everything is computed as of ``TIEPULSE_AS_OF``.
Monthly history (``mart_ties_monthly``, the monthly rows of ``mart_network_health``) is incremental: a month is
recomputed only when its fingerprint changed (the interactions up to its cut-off, the parameters, and for health
the people's attributes and the contacts: ``pipelines.analytics.fingerprint``), so a daily run does not rebuild all
history, and a changed threshold or directory rebuilds all of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl

from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.analytics import (
    HEALTH_COLUMNS,
    MONTHLY_COLUMNS,
    AnalyticsParams,
    build_interactions,
    compute_alerts,
    compute_network_health,
    compute_ties,
    compute_ties_monthly,
    cooccurrence_edges,
    observed_inboxes,
    record_participants,
)
from tiepulse.pipelines.analytics.fingerprint import (
    PERSON_ATTRIBUTES,
    history_context,
    history_months,
    month_fingerprints,
)
from tiepulse.pipelines.analytics.monthly import month_cutoff, month_start
from tiepulse.pipelines.marts_io import publish, read_table, replace_rows
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

STAGING_INPUTS = (
    "fct_messages",
    "fct_message_recipients",
    "fct_events",
    "fct_event_attendees",
    "fct_manual_interactions",
    "dim_ego",
    "dim_contact",
    "dim_person",
)


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def params_for(settings: Settings) -> AnalyticsParams:
    return AnalyticsParams.from_thresholds(settings.config.thresholds)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["marts", "fct_interactions"],
            deps=[_key(f"marts.{t}") for t in STAGING_INPUTS],
            description="One row per ego, alter and contact (mail, meetings, the manual log), with channel, "
            "direction, group size, minutes, in-person and after-hours flags.",
            group_name="marts",
            kinds={"polars", "duckdb"},
        ),
        dg.AssetSpec(
            ["marts", "mart_interaction_exclusions"],
            deps=[_key(f"marts.{t}") for t in STAGING_INPUTS],
            description="Records left out of interactions, counted by source and reason.",
            group_name="marts",
            kinds={"polars", "duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def interactions(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        staging = {t: read_table(con, f"marts.{t}") for t in STAGING_INPUTS}
        frame, excluded = build_interactions(
            staging["fct_messages"],
            staging["fct_message_recipients"],
            staging["fct_events"],
            staging["fct_event_attendees"],
            staging["fct_manual_interactions"],
            staging["dim_ego"],
            staging["dim_person"],
            params_for(settings),
        )
        publish(con, "marts.fct_interactions", frame)
        publish(con, "marts.mart_interaction_exclusions", excluded)
    yield dg.MaterializeResult(asset_key=["marts", "fct_interactions"], metadata={"rows": frame.height})
    reasons = {f"{r['source']}:{r['reason']}": int(r["n_records"]) for r in excluded.iter_rows(named=True)}
    yield dg.MaterializeResult(
        asset_key=["marts", "mart_interaction_exclusions"], metadata={"rows": excluded.height, **reasons}
    )


@dg.asset(
    key=["marts", "mart_ties"],
    deps=[_key("marts.fct_interactions"), _key("marts.dim_person"), _key("marts.dim_contact")],
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="One row per ego and alter as of the analysis date: strength, recency, cadence, channel mix, "
    "initiation, reply rate, trend, class and bucket (docs/metrics.md).",
)
def mart_ties(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        ties = compute_ties(
            read_table(con, "marts.fct_interactions"),
            read_table(con, "marts.dim_person"),
            read_table(con, "marts.dim_contact"),
            settings.as_of,
            params_for(settings),
        )
        publish(con, "marts.mart_ties", ties)
    classes = dict(ties.group_by("tie_class").len().iter_rows()) if ties.height else {}
    return dg.MaterializeResult(metadata={"rows": ties.height, "as_of": str(settings.as_of), **classes})


def _reset_if_changed(con: duckdb.DuckDBPyConnection, table: str, history_key: str, columns: list[str]) -> None:
    """Drop an incremental table (and forget its months) when this version of tiepulse writes other columns."""
    schema, name = table.split(".")
    found = [
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
    ]
    if found and found != columns:
        con.execute(f"drop table {table}").fetchall()
        con.execute("delete from ops.history_state where table_name = ?", [history_key]).fetchall()


def _stale_months(con: duckdb.DuckDBPyConnection, table: str, fingerprints: dict[dt.date, str]) -> list[dt.date]:
    stored = dict(
        con.execute("select month, fingerprint from ops.history_state where table_name = ?", [table]).fetchall()
    )
    return [m for m, fp in fingerprints.items() if stored.get(m) != fp]


def _record_history(
    con: duckdb.DuckDBPyConnection, table: str, fingerprints: dict[dt.date, str], months: list[dt.date]
) -> None:
    if not months:
        return
    con.executemany(
        "insert or replace into ops.history_state (table_name, month, fingerprint, computed_at) "
        "values (?, ?, ?, now())",
        [[table, m, fingerprints[m]] for m in months],
    )


@dg.asset(
    key=["marts", "mart_ties_monthly"],
    deps=[_key("marts.fct_interactions")],
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Each tie at the end of each month (the month still running: at the analysis date; strength, "
    "class, volume of the month): the history for trend charts. Incremental: only months whose inputs or "
    "parameters changed are recomputed.",
)
def mart_ties_monthly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    table = "marts.mart_ties_monthly"
    with warehouse.connect() as con:
        inter = read_table(con, "marts.fct_interactions")
        _reset_if_changed(con, table, table, MONTHLY_COLUMNS)
        params = params_for(settings)
        fingerprints = month_fingerprints(
            inter, history_months(inter, settings.as_of), settings.as_of, history_context(params)
        )
        stale = _stale_months(con, table, fingerprints)
        history = compute_ties_monthly(inter, stale, params, settings.as_of)
        replace_rows(con, table, history, where="month in (select unnest(?::date[]))", params=[stale])
        _record_history(con, table, fingerprints, stale)
        rows = con.execute(f"select count(*) from {table}").fetchone()
    return dg.MaterializeResult(
        metadata={"rows": int(rows[0]) if rows else 0, "months_recomputed": len(stale), "months": len(fingerprints)}
    )


def _health_at(
    day: dt.date,
    inter: pl.DataFrame,
    persons: pl.DataFrame,
    contacts: pl.DataFrame,
    participants: pl.DataFrame,
    params: AnalyticsParams,
    ties: pl.DataFrame | None = None,
) -> pl.DataFrame:
    ties = ties if ties is not None else compute_ties(inter, persons, contacts, day, params)
    edges = cooccurrence_edges(inter, participants, day, params)
    return compute_network_health(ties, inter, persons, contacts, day, params, edges)


@dg.asset(
    key=["marts", "mart_network_health"],
    deps=[
        _key("marts.mart_ties"),
        _key("marts.fct_interactions"),
        _key("marts.dim_person"),
        _key("marts.dim_contact"),
        _key("marts.fct_messages"),
        _key("marts.fct_message_recipients"),
        _key("marts.fct_event_attendees"),
    ],
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="One row per ego as of the analysis date (period 'current') and per month end (period "
    "'month'): size, tie classes, diversity, brokerage, reciprocity, concentration, channel mix, bucket "
    "allocation, the 0-100 health score and its sub-scores. Month rows are incremental.",
)
def mart_network_health(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    params = params_for(settings)
    table, history_key = "marts.mart_network_health", "marts.mart_network_health#month"
    with warehouse.connect() as con:
        inter = read_table(con, "marts.fct_interactions")
        persons = read_table(con, "marts.dim_person")
        contacts = read_table(con, "marts.dim_contact")
        participants = record_participants(
            read_table(con, "marts.fct_messages"),
            read_table(con, "marts.fct_message_recipients"),
            read_table(con, "marts.fct_event_attendees"),
        )
        current = _health_at(
            settings.as_of, inter, persons, contacts, participants, params, read_table(con, "marts.mart_ties")
        ).with_columns(period=pl.lit("current"), month=pl.lit(month_start(settings.as_of)))
        _reset_if_changed(con, table, history_key, [*HEALTH_COLUMNS, "period", "month"])
        context = history_context(params, persons.select(PERSON_ATTRIBUTES), contacts)
        fingerprints = month_fingerprints(inter, history_months(inter, settings.as_of), settings.as_of, context)
        stale = _stale_months(con, history_key, fingerprints)
        monthly = [
            _health_at(month_cutoff(m, settings.as_of), inter, persons, contacts, participants, params).with_columns(
                period=pl.lit("month"), month=pl.lit(m)
            )
            for m in stale
        ]
        replace_rows(
            con,
            table,
            pl.concat([current, *monthly], how="vertical_relaxed"),
            where="period = 'current' or month in (select unnest(?::date[]))",
            params=[stale],
        )
        _record_history(con, history_key, fingerprints, stale)
    return dg.MaterializeResult(
        metadata={
            "rows": current.height,
            "egos": current.height,
            "median_health_score": float(current.select(pl.col("health_score").median()).item() or 0.0),
            "months_recomputed": len(stale),
        }
    )


def read_observed_inboxes(con: duckdb.DuckDBPyConnection, as_of: dt.date, params: AnalyticsParams) -> pl.DataFrame:
    """The egos whose inbound mail the warehouse sees at ``as_of`` (only they get one-sided alerts)."""
    sightings = read_table(
        con, "(select message_key, mailbox_owner, from_address, sent_at from staging.stg_mail_sightings) s"
    )
    recipients = read_table(con, "(select message_key, person_id from marts.fct_message_recipients) r")
    addresses = read_table(con, "(select address, person_id from intermediate.int_addresses_resolved) a")
    return observed_inboxes(sightings, recipients, addresses, as_of, params)


@dg.asset(
    key=["marts", "mart_alerts"],
    deps=[
        _key("marts.mart_ties"),
        _key("marts.mart_network_health"),
        _key("marts.dim_person"),
        _key("staging.stg_mail_sightings"),
        _key("marts.fct_message_recipients"),
        _key("intermediate.int_addresses_resolved"),
    ],
    group_name="marts",
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="Every alert condition holding at the analysis date (neglected tie, one-sided tie, overload, "
    "narrowing) with its status (open, snoozed or dismissed), severity, a plain-language reason and a "
    "suggested action; the life-cycle lives in ops.alert_state. Notify on status = 'open'.",
)
def mart_alerts(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    params = params_for(settings)
    with warehouse.connect() as con:
        alerts, state = compute_alerts(
            read_table(con, "marts.mart_ties"),
            read_table(con, "marts.mart_network_health", "where period = 'current'"),
            read_table(con, "marts.dim_person"),
            settings.as_of,
            params,
            read_table(con, "ops.alert_state"),
            read_observed_inboxes(con, settings.as_of, params),
        )
        con.register("_alerts", alerts.to_arrow())
        con.register("_state", state.to_arrow())
        try:
            with transaction(con):
                con.execute("create or replace table marts.mart_alerts as select * from _alerts").fetchall()
                con.execute("delete from ops.alert_state").fetchall()
                con.execute("insert into ops.alert_state by name select * from _state").fetchall()
        finally:
            con.unregister("_alerts")
            con.unregister("_state")
    counts = dict(alerts.group_by("kind").len().iter_rows()) if alerts.height else {}
    return dg.MaterializeResult(
        metadata={
            "rows": alerts.height,
            "new": int(alerts.get_column("is_new").sum()) if alerts.height else 0,
            **counts,
        }
    )


analytics_assets = [interactions, mart_ties, mart_ties_monthly, mart_network_health, mart_alerts]


@dg.op(pool=WAREHOUSE_POOL)
def record_new_alerts(warehouse: WarehouseResource) -> int:
    """Copy alerts opened in the latest run into ops.alert_log (the feed for digests and notifications)."""
    with warehouse.connect() as con:
        row = con.execute(
            "insert or ignore into ops.alert_log (alert_id, as_of, kind, ego_id, alter_id, severity, reason) "
            "select alert_id, as_of, kind, ego_id, alter_id, severity, reason from marts.mart_alerts "
            "where is_new and status = 'open'"
        ).fetchone()
    return int(row[0]) if row else 0


@dg.job(description="Record newly opened alerts in ops.alert_log.")
def record_alerts_job() -> None:
    record_new_alerts()


@dg.asset_sensor(asset_key=dg.AssetKey(["marts", "mart_alerts"]), job=record_alerts_job)
def new_alerts_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    """After each refresh of mart_alerts, record the alerts it opened."""
    return dg.RunRequest(run_key=asset_event.run_id)
