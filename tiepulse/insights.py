"""What `tiepulse health | ties | alerts` show: published marts, or a fresh computation for another date.

The marts hold everything as of the date of the last refresh. Asking for another ``--as-of`` recomputes the ego's
ties, health and alerts in memory from ``marts.int_interactions`` with the same pure transforms (nothing is
written), so a look back in time never disturbs what BI sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.analytics import (
    compute_alerts,
    compute_network_health,
    compute_ties,
    cooccurrence_edges,
    record_participants,
)
from pipelines.assets.analytics import params_for
from pipelines.marts_io import read_table
from tiepulse.settings import Settings


class InsightError(ValueError):
    """The warehouse cannot answer the question yet; the message says what to run."""


@dataclass(frozen=True)
class EgoView:
    ego_id: str
    as_of: dt.date
    health: pl.DataFrame
    """One row (mart_network_health's columns), or empty when the ego has no ties yet."""
    ties: pl.DataFrame
    alerts: pl.DataFrame
    history: pl.DataFrame
    """Monthly health rows (month, health_score), oldest first."""


def _published_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    if not _exists(con, "marts.mart_network_health"):
        return None
    rows = con.execute("select max(as_of) from marts.mart_network_health where period = 'current'").fetchall()
    value = rows[0][0] if rows else None
    return value.date() if isinstance(value, dt.datetime) else value


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


def egos(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select ego_id from staging.stg_egos order by ego_id").fetchall()]


def resolve_ego(con: duckdb.DuckDBPyConnection, settings: Settings, ego: str | None) -> str | None:
    """The ego asked for (by any of their addresses), the only ego, the config's only ego, or None (many)."""
    if not _exists(con, "staging.stg_egos"):
        raise InsightError("The warehouse has no data yet: run `tiepulse import PATH` or `make demo` first.")
    known = egos(con)
    if ego:
        row = con.execute(
            "select person_id from staging.int_addresses_resolved where address = lower(trim(?))", [ego]
        ).fetchall()
        person = row[0][0] if row else ego.strip().lower()
        if person not in known:
            raise InsightError(f"{ego} is not an ego (a mailbox owner) here; egos: {', '.join(known[:5])} ...")
        return person
    if len(known) == 1:
        return known[0]
    configured = settings.config.egos
    if len(configured) == 1:
        return resolve_ego(con, settings, configured[0].email)
    return None


def ego_view(con: duckdb.DuckDBPyConnection, settings: Settings, ego_id: str, as_of: dt.date | None) -> EgoView:
    """The ego's health, ties and alerts at ``as_of`` (default: the published date)."""
    published = _published_as_of(con)
    if published is None:
        raise InsightError("No analytics yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
    where_ego = "where ego_id = ?"
    ego: list[object] = [ego_id]
    history = (
        read_table(con, "marts.mart_network_health", f"{where_ego} and period = 'month'", ego)
        .select("month", "health_score")
        .sort("month")
    )
    if as_of is None or as_of == published:
        return EgoView(
            ego_id,
            published,
            read_table(con, "marts.mart_network_health", f"{where_ego} and period = 'current'", ego),
            read_table(con, "marts.mart_ties", where_ego, ego),
            read_table(con, "marts.mart_alerts", where_ego, ego),
            history,
        )
    params = params_for(settings)
    inter = read_table(con, "marts.int_interactions", where_ego, ego)
    persons = read_table(con, "staging.dim_person")
    contacts = read_table(con, "staging.stg_contacts", where_ego, ego)
    ties = compute_ties(inter, persons, contacts, as_of, params)
    participants = record_participants(
        read_table(con, "staging.stg_messages"),
        read_table(con, "staging.stg_message_recipients"),
        read_table(con, "staging.stg_event_attendees"),
    )
    edges = cooccurrence_edges(inter, participants, as_of, params)
    health = compute_network_health(ties, inter, persons, contacts, as_of, params, edges)
    state = read_table(con, "ops.alert_state", where_ego, ego)
    alerts, _ = compute_alerts(ties, health, persons, as_of, params, state)
    return EgoView(ego_id, as_of, health, ties, alerts, history.filter(pl.col("month") <= as_of))


def organisation(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every ego's current health row and every open alert, for the organisation summary."""
    if _published_as_of(con) is None:
        raise InsightError("No analytics yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
    return (
        read_table(con, "marts.mart_network_health", "where period = 'current'"),
        read_table(con, "marts.mart_alerts", "where status = 'open'"),
    )
