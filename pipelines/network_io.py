"""The analysis and the warehouse: every table it reads or publishes, named once, and its inputs read as frames.

The Dagster assets (their keys and dependencies follow from these names) and the CLI's read commands both use
this module, which imports no Dagster: a renamed staging table is a change here only.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import duckdb
import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics import NetworkInputs, build_interaction_records, observe_egos, summarise_exclusions
from tiepulse.pipelines.ego_shards import EgoShard
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.org_ties import WindowTies

# built by the SQL models (staging sightings, intermediate identity, marts facts and dimensions)
MESSAGES = "marts.fct_messages"
MESSAGE_RECIPIENTS = "marts.fct_message_recipients"
EVENTS = "marts.fct_events"
EVENT_ATTENDEES = "marts.fct_event_attendees"
MANUAL_INTERACTIONS = "marts.fct_manual_interactions"
EGOS = "marts.dim_ego"
CONTACTS = "marts.dim_contact"
PERSONS = "marts.dim_person"
OBSERVATION_WINDOWS = "intermediate.int_observation_windows"
ADDRESSES = "intermediate.int_addresses_resolved"

# marts: published by the analytics assets
INTERACTIONS = "marts.fct_interactions"
INTERACTION_EXCLUSIONS = "marts.mart_interaction_exclusions"
TIES = "marts.mart_ties"
TIES_MONTHLY = "marts.mart_ties_monthly"
NETWORK_HEALTH = "marts.mart_network_health"
ALERTS = "marts.mart_alerts"
ORG_PEOPLE = "marts.mart_org_people"
ORG_GROUPS = "marts.mart_org_groups"
GROUP_MATRIX = "marts.mart_group_matrix"
ORG_SUMMARY = "marts.mart_org_summary"
INTRODUCTIONS = "marts.mart_introductions"
COMMUNITIES_OF_PRACTICE = "marts.mart_communities_of_practice"
COMMUNITY_VITALITY = "marts.mart_community_vitality"

ALERT_STATE = "ops.alert_state"
"""The alert life-cycle (open, snoozed, dismissed), kept by the alerts asset and the CLI."""

INTERACTION_INPUTS = (
    MESSAGES,
    MESSAGE_RECIPIENTS,
    EVENTS,
    EVENT_ATTENDEES,
    MANUAL_INTERACTIONS,
    EGOS,
    CONTACTS,
    PERSONS,
)
"""The staging tables ``build_interaction_records`` reads."""

PARTICIPANT_INPUTS = (MESSAGES, MESSAGE_RECIPIENTS, EVENT_ATTENDEES)
"""The staging tables ``record_participants`` reads (who took part in each message and meeting)."""

COVERAGE_INPUTS = (OBSERVATION_WINDOWS, ADDRESSES)
"""The tables ``observe_egos`` reads."""


_INTERACTION_COLUMNS = {
    MESSAGES: (
        'message_key, message_id, sender_id, sent_at, n_recipients, in_reply_to, "references", is_reply, '
        "thread_id, subject_hash, is_automated"
    ),
    MESSAGE_RECIPIENTS: "message_key, person_id",
}
"""The columns of the big inputs ``build_interaction_records`` reads (the others are read whole)."""


_PARTICIPANT_MESSAGE_COLUMNS = "message_key, sender_id"
"""The columns of ``MESSAGES`` ``record_participants`` reads: the others (references, folded keys) are a third of the
bytes read per shard and unused by the chain."""


def interaction_input(table: str) -> str:
    """What ``read_table`` reads of one of ``INTERACTION_INPUTS``: only the columns the interactions use."""
    return f"(select {_INTERACTION_COLUMNS[table]} from {table}) t" if table in _INTERACTION_COLUMNS else table


def _interaction_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """``build_interaction_records``'s arguments by name, in its order."""
    tables = {
        "messages": MESSAGES,
        "recipients": MESSAGE_RECIPIENTS,
        "events": EVENTS,
        "attendees": EVENT_ATTENDEES,
        "manual": MANUAL_INTERACTIONS,
        "egos": EGOS,
        "persons": PERSONS,
    }
    return {arg: read_table(con, interaction_input(t)) for arg, t in tables.items()}


def interactions_from_staging(
    con: duckdb.DuckDBPyConnection, params: AnalyticsParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The interactions and the records left out of them, built from the staging tables (not published)."""
    interactions, records = build_interaction_records(**_interaction_inputs(con), params=params)
    return interactions, summarise_exclusions(records)


class Records(NamedTuple):
    """The messages (key and sender), their recipients and the meetings' attendees of some interactions."""

    messages: pl.DataFrame
    message_recipients: pl.DataFrame
    event_attendees: pl.DataFrame


def read_network_inputs(
    con: duckdb.DuckDBPyConnection,
    egos: str | EgoShard | None = None,
    interactions: pl.DataFrame | None = None,
    records_after: dt.datetime | None = None,
    records: Records | None = None,
) -> NetworkInputs:
    """The chain's inputs: every ego's, or those of one ego or a shard of egos (their interactions, contacts, alert
    state and observation, and the messages and meetings of their interactions). ``interactions``: those already
    read (of the same egos), instead of reading them again. ``records_after``: only the messages and meetings
    with an interaction after that instant (brokerage reads those of the activity window before a date only).
    ``records``: those messages and meetings already read (``pipelines.record_window``)."""
    where, args = _shard(egos).where() if egos is not None else ("", [])
    if records is None:
        email, record_args = _records(egos, records_after, "message_key", "email")
        calendar, _ = _records(egos, records_after, "event_key", "calendar")
        records = Records(
            read_table(con, f"(select {_PARTICIPANT_MESSAGE_COLUMNS} from {MESSAGES}) m", email, record_args),
            read_table(con, MESSAGE_RECIPIENTS, email, record_args),
            read_table(con, EVENT_ATTENDEES, calendar, record_args),
        )
    return NetworkInputs(
        interactions=read_table(con, INTERACTIONS, where, args) if interactions is None else interactions,
        persons=read_table(con, PERSONS),
        contacts=read_table(con, CONTACTS, where, args),
        **records._asdict(),
        observation_windows=_observation_windows(con, egos),
        addresses=read_table(con, f"(select address, person_id from {ADDRESSES}) a"),
        alert_state=read_table(con, ALERT_STATE, where, args),
        records_after=records_after,
    )


def _records(egos: str | EgoShard | None, after: dt.datetime | None, key: str, source: str) -> tuple[str, list[object]]:
    """The ``where`` clause (and its parameters) keeping the records (``key``) of ``source`` with an interaction of
    the egos asked for, after ``after`` when given; everything when neither narrows."""
    conditions: list[str] = [f"source = '{source}'"]
    args: list[object] = []
    if egos is not None:
        where, args = _shard(egos).where()
        conditions.append(where.removeprefix("where "))
    if after is not None:
        conditions.append("occurred_at > ?")
        args = [*args, after]
    if len(conditions) == 1:
        return "", []
    return f"where {key} in (select source_key from {INTERACTIONS} where {' and '.join(conditions)})", args


def _observation_windows(con: duckdb.DuckDBPyConnection, egos: str | EgoShard | None) -> pl.DataFrame:
    """The observation windows of every owner, or of the owners that resolve to the egos asked for."""
    windows = f"select w.* from {OBSERVATION_WINDOWS} w"
    if egos is None:
        return read_table(con, f"({windows}) w")
    where, args = _shard(egos).where("coalesce(a.person_id, w.owner)")
    return read_table(con, f"({windows} left join {ADDRESSES} a on a.address = w.owner {where}) w", params=args)


def _shard(egos: str | EgoShard) -> EgoShard:
    return EgoShard.one(egos) if isinstance(egos, str) else egos


def read_observation(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, params: AnalyticsParams, ego_id: str | None = None
) -> pl.DataFrame:
    """What was observed of every ego (or of ``ego_id``) at ``as_of``: ``observe_egos`` on the warehouse."""
    return observe_egos(
        _observation_windows(con, ego_id),
        read_table(con, f"(select address, person_id from {ADDRESSES}) a"),
        as_of,
        params,
    )


ORG_INPUTS = (INTERACTIONS, PERSONS, EGOS)
"""The tables the organisation graph is built from (``read_org_inputs``)."""


def read_org_inputs(con: duckdb.DuckDBPyConnection) -> tuple[WindowTies, pl.DataFrame, list[str]]:
    """The ties of the organisation graph (each window's read, folded and summed by DuckDB when asked: never the
    interactions whole), the people and the egos (whose mailboxes are observed)."""
    egos = [r[0] for r in con.execute(f"select ego_id from {EGOS} order by ego_id").fetchall()]
    return WindowTies(con, INTERACTIONS), read_table(con, PERSONS), egos
