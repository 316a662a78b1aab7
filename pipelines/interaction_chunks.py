"""A full build of ``marts.fct_interactions`` by ranges of egos, so that Polars holds one range's inputs and rows.

An interaction row belongs to one ego, and a record's rows for an ego depend on the record, its thread (the
``part`` of ``pipelines.interaction_records``), the messages it references, the egos and the people's flags. So
the egos are cut into consecutive ranges of about ``CHUNK_PAIRS`` candidate pairs (an ego's sent mails times their
recipients, its received mails, its meetings' attendees, its log rows; ``pipelines.ego_shards``), and each range is
built from the records that touch its egos, with their threads and referenced messages: the ranges' rows side by
side equal the whole build's, and a record left out for several egos has its pairs summed over the ranges.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.interactions import build_interaction_records
from tiepulse.pipelines.ego_shards import EgoShard, ego_ranges
from tiepulse.pipelines.marts_io import read_table

CHUNK_PAIRS = 2_000_000
"""Candidate pairs (interactions and pairs left out) per range of egos on a full build: about 1.5 GB of Polars
working set at its peak (docs/architecture.md, "Memory model")."""

_RANGE = "between $1 and $2"
_PAIRS_PER_EGO = f"""
    select e.ego_id, coalesce(sum(p.n), 0)::bigint as n from {tables.EGOS} e left join (
        select m.sender_id as ego_id, count(*) as n
        from {tables.MESSAGE_RECIPIENTS} r join {tables.MESSAGES} m using (message_key) group by all
        union all select person_id, count(*) from {tables.MESSAGE_RECIPIENTS} group by all
        union all select m.sender_id, count(*) from {tables.MESSAGES} m group by all
        union all select a.person_id, sum(c.n) from {tables.EVENT_ATTENDEES} a
            join (select event_key, count(*) as n from {tables.EVENT_ATTENDEES} group by all) c using (event_key)
            group by all
        union all select ego_id, count(*) from {tables.MANUAL_INTERACTIONS} group by all
    ) p using (ego_id) group by e.ego_id"""
"""Per ego, about how many candidate pairs a build gives it (an upper bound: every attendee of its meetings)."""

_MAIL = (
    f"select message_key from {tables.MESSAGES} where sender_id {_RANGE} "
    f"union select message_key from {tables.MESSAGE_RECIPIENTS} where person_id {_RANGE}"
)
"""The mails of a range's egos: sent or received."""
_RANGE_MAIL = "_range_mail"
"""The temporary table of ``_MAIL``, made once per range: its three readers below would each evaluate the union
(a tenth of a range's two mail reads at 1,000 people x 12 months)."""
_OF_RANGE = f"(select message_key from {_RANGE_MAIL})"
_MEETINGS = f"(select event_key from {tables.EVENT_ATTENDEES} where person_id {_RANGE})"
_THREADS_AND_REFERENCES = (
    "where message_key in (select key from _records where source = 'email' and part in "
    f"(select part from _records where source = 'email' and key in {_OF_RANGE})) "
    'or message_id in (select unnest(list_concat([in_reply_to], "references")) '
    f"from {tables.MESSAGES} where message_key in {_OF_RANGE})"
)
"""The messages a range's mails depend on: their threads (``_records``' parts) and the messages they reference."""


def ego_chunks(con: duckdb.DuckDBPyConnection, max_pairs: int = CHUNK_PAIRS) -> list[EgoShard]:
    """Every ego of ``dim_ego`` in consecutive ranges of about ``max_pairs`` candidate pairs."""
    return ego_ranges(con, _PAIRS_PER_EGO, max_pairs)


def chunk_records(
    con: duckdb.DuckDBPyConnection, params: AnalyticsParams, chunks: list[EgoShard]
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Per range of egos, in order: its interactions (sorted) and its records left out (``n_pairs`` of its egos
    only). Needs ``_records`` (``interaction_records``: every record's ``part``)."""
    for chunk in chunks:
        bounds: list[object] = [chunk.first, chunk.last]
        con.execute(f"create or replace temp table {_RANGE_MAIL} as {_MAIL}", bounds).fetchall()
        yield build_interaction_records(
            read_table(con, tables.interaction_input(tables.MESSAGES), _THREADS_AND_REFERENCES),
            read_table(con, tables.interaction_input(tables.MESSAGE_RECIPIENTS), f"where message_key in {_OF_RANGE}"),
            read_table(con, tables.EVENTS, f"where event_key in {_MEETINGS}", bounds),
            read_table(con, tables.EVENT_ATTENDEES, f"where event_key in {_MEETINGS}", bounds),
            read_table(con, tables.MANUAL_INTERACTIONS, f"where ego_id {_RANGE}", bounds),
            read_table(con, tables.EGOS, f"where ego_id {_RANGE}", bounds),
            read_table(con, tables.PERSONS),
            params,
        )
    con.execute(f"drop table if exists {_RANGE_MAIL}").fetchall()
