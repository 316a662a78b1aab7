"""What the reports read from the warehouse: the published marts, for every ego at once or for one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import duckdb
import polars as pl
import pyarrow as pa

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.brokerage import activity_window, cooccurrence_edges, record_participants
from tiepulse.pipelines.analytics.monthly import month_start
from tiepulse.pipelines.marts_io import read_table, table_exists
from tiepulse.pipelines.network_io import Records, read_observation
from tiepulse.pipelines.record_window import RecordWindow

ORG_PEOPLE = "marts.mart_org_people"
ORG_GROUPS = "marts.mart_org_groups"
GROUP_MATRIX = "marts.mart_group_matrix"
ORG_SUMMARY = "marts.mart_org_summary"
ONA_TABLES = (ORG_PEOPLE, ORG_GROUPS, GROUP_MATRIX, ORG_SUMMARY)
"""The organisational network analysis marts; the organisation report draws them when they are there."""


@dataclass(frozen=True)
class PersonalInputs:
    """Everything a personal report shows, for one ego or (before ``for_ego``) for all of them."""

    as_of: dt.date
    health: pl.DataFrame
    """mart_network_health's current rows (one per ego)."""
    monthly_health: pl.DataFrame
    """mart_network_health's month rows."""
    ties: pl.DataFrame
    ties_monthly: pl.DataFrame
    alerts: pl.DataFrame
    alter_edges: pl.DataFrame
    """Alter-alter ties per ego (``ego_id``, ``alter_a``, ``alter_b``, ``weight``): who the ego's contacts know."""
    names: pl.DataFrame
    """``person_id``, ``display_name``."""
    observed_egos: frozenset[str]
    """Egos whose inbound mail is observed (see analytics.coverage)."""

    def for_ego(self, ego_id: str) -> PersonalInputs:
        def mine(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("ego_id") == ego_id)

        return replace(
            self,
            health=mine(self.health),
            monthly_health=mine(self.monthly_health),
            ties=mine(self.ties),
            ties_monthly=mine(self.ties_monthly),
            alerts=mine(self.alerts),
            alter_edges=mine(self.alter_edges),
        )

    def history(self) -> pl.DataFrame:
        """Health by month: the month rows before the analysis date's month, then the current row (so the line
        ends where the report does, also for an ``--as-of`` computed in memory)."""
        cut = month_start(self.as_of)
        now = self.health.with_columns(month=pl.lit(cut))
        earlier = self.monthly_health.filter(pl.col("month") < cut)
        return pl.concat([earlier.select(now.columns), now], how="vertical_relaxed").sort("month")


def read_personal_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    params: AnalyticsParams,
    egos: Sequence[str] | None = None,
    window_copy: RecordWindow | None = None,
) -> PersonalInputs:
    """The published marts (every ego's, or those of ``egos``) and the alter-alter ties at ``as_of``. With ``egos``,
    only their interactions and the messages and meetings those name are read: memory follows the egos asked for,
    not the organisation. ``window_copy``: a copy of the activity window's messages and meetings to read those from
    (for many batches of egos), instead of the fact tables."""
    if egos is None:
        return _read_personal(con, as_of, params, "true", window_copy)
    con.register("_report_egos", pa.table({"ego_id": pa.array(list(egos), pa.string())}))
    try:
        return _read_personal(con, as_of, params, "ego_id in (select ego_id from _report_egos)", window_copy)
    finally:
        con.unregister("_report_egos")


def _read_personal(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    params: AnalyticsParams,
    mine: str,
    window_copy: RecordWindow | None,
) -> PersonalInputs:
    """``read_personal_inputs`` for the egos that match the SQL condition ``mine``."""
    # The alter-alter ties see only the activity window: the rest of the history (most of it) is not read.
    start, end = activity_window(as_of, params)
    window: list[object] = [start, end]
    recent = f"{mine} and occurred_at > ? and occurred_at <= ?"
    interactions = read_table(con, tables.INTERACTIONS, f"where {recent}", window)

    def named(table: str, source: str, key: str) -> pl.DataFrame:
        took_part = f"select source_key from {tables.INTERACTIONS} where source = '{source}' and {recent}"
        return read_table(con, table, f"where {key} in ({took_part})", window)

    if window_copy is not None:
        records = window_copy.records_of(interactions, start)
    else:
        records = Records(
            named(tables.MESSAGES, "email", "message_key"),
            named(tables.MESSAGE_RECIPIENTS, "email", "message_key"),
            named(tables.EVENT_ATTENDEES, "calendar", "event_key"),
        )
    participants = record_participants(*records)
    observed = read_observation(con, as_of, params).filter(pl.col("inbound_observed"))
    return PersonalInputs(
        as_of=as_of,
        health=read_table(con, tables.NETWORK_HEALTH, f"where period = 'current' and {mine}"),
        monthly_health=read_table(con, tables.NETWORK_HEALTH, f"where period = 'month' and {mine}"),
        ties=read_table(con, tables.TIES, f"where {mine}"),
        ties_monthly=read_table(
            con,
            f"(select ego_id, alter_id, month, strength, n_email, n_meeting, n_other from {tables.TIES_MONTHLY}) t",
            f"where {mine}",
        ),
        alerts=read_table(con, tables.ALERTS, f"where status = 'open' and {mine}"),
        alter_edges=cooccurrence_edges(interactions, participants, as_of, params),
        names=read_table(con, f"(select person_id, display_name from {tables.PERSONS}) p"),
        observed_egos=frozenset(observed.get_column("ego_id").to_list()),
    )


@dataclass(frozen=True)
class OrganisationInputs:
    as_of: dt.date
    health: pl.DataFrame
    monthly_health: pl.DataFrame
    alerts: pl.DataFrame
    ona: dict[str, pl.DataFrame]
    """The ONA marts present, by table name (``period = 'current'`` rows; the summary: every month)."""
    ties: pl.DataFrame
    """Internal ties between people of the network picture (``source``, ``target``, ``weight``)."""


def read_organisation_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> OrganisationInputs:
    ona = {
        table: read_table(con, table, "" if table == ORG_SUMMARY else "where period = 'current'")
        for table in ONA_TABLES
        if table_exists(con, table)
    }
    people = ona.get(ORG_PEOPLE)
    ties = pl.DataFrame(schema={"source": pl.String, "target": pl.String, "weight": pl.Float64})
    if people is not None:
        con.register("_people", people.select("person_id").to_arrow())
        try:
            ties = read_table(
                con,
                f"""(select least(ego_id, alter_id) as source, greatest(ego_id, alter_id) as target,
                        max(strength) as weight
                     from {tables.TIES}
                     where tie_class <> 'dormant'
                       and ego_id in (select person_id from _people) and alter_id in (select person_id from _people)
                     group by all) t""",
            )
        finally:
            con.unregister("_people")
    return OrganisationInputs(
        as_of=as_of,
        health=read_table(con, tables.NETWORK_HEALTH, "where period = 'current'"),
        monthly_health=read_table(con, tables.NETWORK_HEALTH, "where period = 'month'"),
        alerts=read_table(con, tables.ALERTS, "where status = 'open'"),
        ona=ona,
        ties=ties,
    )
