"""What `tiepulse health | ties | alerts` show: published marts, or a fresh computation for another date.

The marts hold everything as of the date of the last refresh. Asking for another ``--as-of`` recomputes the ties,
health and alerts (of one ego, or of the organisation) in memory from ``marts.fct_interactions`` with the analysis
chain the refresh runs (``analyse_network``; nothing is written), so a look back in time never disturbs what BI
sees. Nothing here imports Dagster or Great Expectations: these are the everyday, quick commands.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from tiepulse.core.params import params_for
from tiepulse.core.settings import Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics import NetworkAnalysis, analyse_network
from tiepulse.pipelines.analytics.monthly import month_start
from tiepulse.pipelines.marts_io import read_table, table_exists
from tiepulse.pipelines.network_io import read_network_inputs, read_observation


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
    """Health by month (month, health_score), oldest first; the last point is the score at ``as_of``."""
    inbound_observed: bool = True
    """Whether mail sent to the ego is observed (an inbox, not only a sent folder): see analytics.coverage."""
    data_end: dt.datetime | None = None
    """The ego's last observed item at ``as_of`` (None: nothing observed)."""
    data_status: str = "current"
    """``current``; ``no_recent_data`` when the ego's data ends well before ``as_of``; ``not_observed`` when none of
    their own mailboxes, calendars or logs was read (not scored either way)."""


def published_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The analysis date of the last refresh (the marts' as_of), or None before the first one."""
    if not table_exists(con, tables.NETWORK_HEALTH):
        return None
    rows = con.execute(f"select max(as_of) from {tables.NETWORK_HEALTH} where period = 'current'").fetchall()
    value = rows[0][0] if rows else None
    return value.date() if isinstance(value, dt.datetime) else value


# Data ending this long before the analysis date makes every tie look neglected: worth a word to the user.
STALE_AFTER_DAYS = 30


def stale_data_note(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> str | None:
    """When the mail ends long before ``as_of`` (an old export analysed as of today), how to fix it.

    Calendars hold meetings planned ahead and exports a few misdated messages, so the end of the data is where the
    mail ends, ignoring its latest 0.1 %."""
    if not table_exists(con, tables.MESSAGES):
        return None
    newest = con.execute(f"select quantile_disc(sent_at, 0.999) from {tables.MESSAGES}").fetchall()[0][0]
    if newest is None:
        return None
    last_day = newest.date() if isinstance(newest, dt.datetime) else newest
    gap = (as_of - last_day).days
    if gap <= STALE_AFTER_DAYS:
        return None
    return (
        f"The mail ends on {last_day}, {gap} days before the analysis date {as_of}, so ties look neglected "
        f"only because the data ends. To analyse as of the end of the data: "
        f"TIEPULSE_AS_OF={last_day + dt.timedelta(days=1)} tiepulse refresh"
    )


def egos(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"select ego_id from {tables.EGOS} order by ego_id").fetchall()]


def resolve_person(con: duckdb.DuckDBPyConnection, address: str) -> str:
    """The person an address belongs to (any of their addresses or aliases, through identity resolution)."""
    row = con.execute(f"select person_id from {tables.ADDRESSES} where address = lower(trim(?))", [address]).fetchall()
    return row[0][0] if row else address.strip().lower()


def resolve_ego(con: duckdb.DuckDBPyConnection, settings: Settings, ego: str | None) -> str | None:
    """The ego asked for (by any of their addresses), the only ego, the config's only ego, or None (many)."""
    if not table_exists(con, tables.EGOS):
        raise InsightError(
            "The warehouse has no data yet: run `tiepulse import PATH` (or `tiepulse demo` to try the sample) first."
        )
    known = egos(con)
    if ego:
        person = resolve_person(con, ego)
        if person not in known:
            raise InsightError(f"{ego} is not an ego (a mailbox owner) here; {_closest(person, known)}")
        return person
    if len(known) == 1:
        return known[0]
    configured = settings.config.egos
    if len(configured) == 1:
        return resolve_ego(con, settings, configured[0].email)
    return None


def _closest(wanted: str, known: list[str]) -> str:
    """A hint for a mistyped ego: the nearest addresses by spelling, else how to list them all."""
    near = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    if near:
        return "did you mean " + " or ".join(near) + "?"
    return f'{len(known)} egos; list them with `tiepulse sql "select ego_id from marts.dim_ego"`.'


def _require_published(con: duckdb.DuckDBPyConnection) -> dt.date:
    published = published_as_of(con)
    if published is None:
        raise InsightError("No analytics yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
    return published


def _compute(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: dt.date,
    ego_id: str | None,
) -> NetworkAnalysis:
    """Health, ties and alerts at ``as_of``, in memory, for one ego (or all of them)."""
    return analyse_network(read_network_inputs(con, ego_id), as_of, params_for(settings))


def _history(monthly: pl.DataFrame, current: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Month scores before ``as_of``'s month, then the score at ``as_of`` itself: the line ends where the report
    does."""
    now = current.select(month=pl.lit(month_start(as_of)), health_score=pl.col("health_score"))
    earlier = monthly.filter(pl.col("month") < month_start(as_of)).select("month", "health_score")
    return pl.concat([earlier, now], how="vertical_relaxed").sort("month")


def ego_view(con: duckdb.DuckDBPyConnection, settings: Settings, ego_id: str, as_of: dt.date | None) -> EgoView:
    """The ego's health, ties and alerts at ``as_of`` (default: the published date)."""
    published = _require_published(con)
    where_ego = "where ego_id = ?"
    ego: list[object] = [ego_id]
    monthly = read_table(con, tables.NETWORK_HEALTH, f"{where_ego} and period = 'month'", ego)
    day = as_of or published
    seen = read_observation(con, day, params_for(settings), ego_id).filter(pl.col("ego_id") == ego_id)
    row = seen.row(0, named=True) if seen.height else {}
    inbound, data_end, status = bool(row.get("inbound_observed")), row.get("data_end"), row.get("data_status")
    observed: dict[str, Any] = {
        "inbound_observed": inbound,
        "data_end": data_end,
        "data_status": status or "not_observed",
    }
    if day == published:
        health = read_table(con, tables.NETWORK_HEALTH, f"{where_ego} and period = 'current'", ego)
        return EgoView(
            ego_id,
            published,
            health,
            read_table(con, tables.TIES, where_ego, ego),
            read_table(con, tables.ALERTS, where_ego, ego),
            _history(monthly, health, published),
            **observed,
        )
    computed = _compute(con, settings, day, ego_id)
    health, ties, alerts = computed.health, computed.ties, computed.alerts
    return EgoView(ego_id, day, health, ties, alerts, _history(monthly, health, day), **observed)


def organisation(
    con: duckdb.DuckDBPyConnection, settings: Settings | None = None, as_of: dt.date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every ego's health row and every open alert at ``as_of`` (default: the published date; another date is
    computed in memory with ``settings``' thresholds, which takes a few seconds on a large warehouse)."""
    published = _require_published(con)
    if as_of is None or as_of == published:
        return (
            read_table(con, tables.NETWORK_HEALTH, "where period = 'current'"),
            read_table(con, tables.ALERTS, "where status = 'open'"),
        )
    computed = _compute(con, settings or Settings(), as_of, None)
    return computed.health, computed.alerts.filter(pl.col("status") == "open")
