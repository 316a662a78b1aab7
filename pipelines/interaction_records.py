"""``marts.fct_interactions`` rebuilt record by record: only the source records (messages, meetings, log rows)
whose inputs changed since the last refresh.

Every record gets a digest of what its rows are built from (``DIGESTS``): its fact row, its recipients or attendees
with the people's flags (an automated or non-person alter is left out), and for mail the senders of the messages
it references. A mail's rows also depend on the earlier messages of its thread (is it a response?), so a thread
is a *part*: a change to a message rebuilds the messages of its thread sent at or after it (``since``), and a new
message of the day rebuilds itself and the few later ones. The digests are kept in ``ops.build_keys`` and the
records left out, one row per record and reason, in ``ops.interaction_exclusion_records`` (the exclusion mart
counts them). What weighs on every record alike (the egos and their working hours, the analytics parameters, the
code) is the fingerprint in ``ops.build_state``: when it changes, or with ``full``, everything is rebuilt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines import build_state
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.fingerprint import digest, rules_digest
from tiepulse.pipelines.analytics.interactions import (
    EXCLUSION_RECORD_SCHEMA,
    INTERACTION_SCHEMA,
    build_interaction_records,
    summarise_exclusions,
)
from tiepulse.pipelines.interaction_chunks import CHUNK_PAIRS, chunk_records, ego_chunks
from tiepulse.pipelines.marts_io import execute_with_frame, read_table, table_exists

EXCLUSION_RECORDS = "ops.interaction_exclusion_records"
KEYS = f"{tables.INTERACTIONS}/"
"""The records' targets in ``ops.build_keys``: ``marts.fct_interactions/<source>``."""
RECORD_DIGEST = "hash(d)::varchar"
"""A record's digest: DuckDB's 64-bit hash of its ``DIGESTS`` row (its part and since included), compared key by key
with the stored one (a text cast and an MD5 of the row cost twice as much at 8.7 M records). Part of the context, so
a new form rebuilds everything at once, not record by record."""
_FLAGS = f"(select person_id, non_person_reason, is_automated from {tables.PERSONS})"

DIGESTS = {
    "email": f"""
        with recipients as (
            select r.message_key, count(*) as n,
                sum(hash(r.message_key, r.person_id, r.kind, f.non_person_reason, f.is_automated)::hugeint) as h
            from {tables.MESSAGE_RECIPIENTS} r left join {_FLAGS} f on f.person_id = r.person_id
            group by r.message_key
        ),
        senders as (
            select message_id, min(sender_id) as sender_id from {tables.MESSAGES}
            where message_id is not null group by message_id
        ),
        parents as (
            select x.message_key, sum(hash(x.ref, s.sender_id)::hugeint) as h
            from (select message_key, unnest(list_concat([in_reply_to], "references")) as ref
                  from {tables.MESSAGES}) x
            join senders s on s.message_id = x.ref
            group by x.message_key
        )
        select m.message_key as key,
            coalesce('t:' || m.thread_id, 's:' || m.subject_hash, 'm:' || m.message_key) as part,
            m.sent_at as since,
            hash(m) as h, hash(f.non_person_reason, f.is_automated) as sender, r.n, r.h as rh, p.h as ph
        from {tables.MESSAGES} m
        left join {_FLAGS} f on f.person_id = m.sender_id
        left join recipients r on r.message_key = m.message_key
        left join parents p on p.message_key = m.message_key""",
    "calendar": f"""
        with attendees as (
            select a.event_key, count(*) as n,
                sum(hash(a.event_key, a.person_id, a.response, a.is_organizer, a.is_optional,
                         f.non_person_reason, f.is_automated)::hugeint) as h
            from {tables.EVENT_ATTENDEES} a left join {_FLAGS} f on f.person_id = a.person_id
            group by a.event_key
        )
        select e.event_key as key, 'e:' || e.event_key as part, null::timestamptz as since, hash(e) as h, a.n, a.h as ah
        from {tables.EVENTS} e left join attendees a on a.event_key = e.event_key""",
    "manual": f"""
        select m.row_key as key, 'r:' || m.row_key as part, null::timestamptz as since, hash(m) as h
        from {tables.MANUAL_INTERACTIONS} m""",
}
"""Per source: one row per record, its ``key`` (the interactions' ``source_key``), ``part``, ``since`` and the
columns whose digest stands for its inputs."""


@dataclass(frozen=True)
class InteractionRefresh:
    """What a refresh did: everything rebuilt, or the records (of all sources) rebuilt, and rows written."""

    whole: bool
    records_rebuilt: int
    rows_written: int


def refresh_interactions(
    con: duckdb.DuckDBPyConnection, params: AnalyticsParams, *, full: bool = False, chunk_pairs: int = CHUNK_PAIRS
) -> InteractionRefresh:
    """Bring ``fct_interactions``, the per-record exclusions and ``mart_interaction_exclusions`` up to date with the
    marts they are built from, in one transaction (a whole build by ranges of about ``chunk_pairs`` pairs)."""
    context = _context(con, params)
    state = build_state.stored(con, tables.INTERACTIONS)
    whole = full or state is None or state.fingerprint != context or not table_exists(con, tables.INTERACTIONS)
    with transaction(con):
        _digest_records(con)
        if whole:
            con.execute("create temp table _redo as select source, key from _records").fetchall()
        else:
            _changed_records(con)
        done = _rebuild(con, params, whole, chunk_pairs)
        _remember(con, whole)
        build_state.record(con, tables.INTERACTIONS, context)
        for temp in ("_records", "_parts", "_redo", "_drop"):
            con.execute(f"drop table if exists {temp}").fetchall()
    return done


def _remember(con: duckdb.DuckDBPyConnection, whole: bool) -> None:
    """Keep the digests of the records just rebuilt in place of those of the records whose rows were dropped."""
    if whole:
        con.execute("delete from ops.build_keys where starts_with(target, ?)", [KEYS]).fetchall()
    else:
        con.execute(
            f"delete from ops.build_keys b using _drop d where b.target = '{KEYS}' || d.source and b.key = d.key"
        ).fetchall()
    con.execute(
        f"insert into ops.build_keys (target, key, part, since, digest) "
        f"select '{KEYS}' || source, key, part, since, digest from _records semi join _redo using (source, key)"
    ).fetchall()


@cache
def rules() -> str:
    """The rules the interactions are built by (``analytics.interactions`` and what it imports)."""
    return rules_digest(Path(__file__))


def _context(con: duckdb.DuckDBPyConnection, params: AnalyticsParams) -> str:
    """What weighs on every record alike: the code (the release and the rules it runs), the parameters and the
    egos (their working hours)."""
    egos = build_state.table_fingerprint(con, tables.EGOS) if table_exists(con, tables.EGOS) else "absent"
    return digest(
        build_state.code_version(), rules(), RECORD_DIGEST, json.dumps(params.model_dump(), sort_keys=True), egos
    )


def _digest_records(con: duckdb.DuckDBPyConnection) -> None:
    """``_records``: every record now, with its part, since and digest (the part and since included)."""
    selects = [
        f"select '{source}' as source, key, part, since, {RECORD_DIGEST} as digest from ({sql}) d"
        for source, sql in DIGESTS.items()
    ]
    con.execute("create temp table _records as " + " union all ".join(selects)).fetchall()


def _changed_records(con: duckdb.DuckDBPyConnection) -> None:
    """``_redo``: the records to rebuild (of a part that changed, at or after its earliest change); ``_drop``:
    those and the records of those parts at the last build, whose rows are deleted first."""
    stored = (
        f"(select split_part(target, '/', 2) as source, key, part, since, digest from ops.build_keys "
        f"where starts_with(target, '{KEYS}')) b"
    )
    con.execute(
        f"""create temp table _parts as
        select source, part, min(since) as since, bool_or(since is null) as from_start from (
            select source, part, since from _records r anti join {stored} using (source, key, digest)
            union all
            select b.source, b.part, b.since from {stored} anti join _records r using (source, key, digest)
        ) group by source, part"""
    ).fetchall()
    after = "(p.from_start or {t}.since is null or {t}.since >= p.since)"
    con.execute(
        "create temp table _redo as select r.source, r.key from _records r "
        f"join _parts p using (source, part) where {after.format(t='r')}"
    ).fetchall()
    con.execute(
        f"create temp table _drop as select source, key from _redo union "
        f"select b.source, b.key from {stored} join _parts p using (source, part) where {after.format(t='b')}"
    ).fetchall()


def _rebuild(
    con: duckdb.DuckDBPyConnection, params: AnalyticsParams, whole: bool, chunk_pairs: int
) -> InteractionRefresh:
    """Build the rows of the records in ``_redo`` and put them in place of those of the records in ``_drop``."""
    written = _rebuild_whole(con, params, chunk_pairs) if whole else _rebuild_records(con, params)
    summary = summarise_exclusions(read_table(con, EXCLUSION_RECORDS))
    execute_with_frame(con, f"create or replace table {tables.INTERACTION_EXCLUSIONS} as select * from _frame", summary)
    redone = con.execute("select count(*) from _redo").fetchall()[0][0]
    return InteractionRefresh(whole, int(redone), written)


def _rebuild_whole(con: duckdb.DuckDBPyConnection, params: AnalyticsParams, chunk_pairs: int) -> int:
    """Every record's rows, range of egos by range (``interaction_chunks``): Polars holds one range at a time."""
    _insert(con, f"create or replace table {tables.INTERACTIONS} as", pl.DataFrame(schema=INTERACTION_SCHEMA))
    _insert(con, "create temp table _excluded_by_range as", pl.DataFrame(schema=EXCLUSION_RECORD_SCHEMA))
    written = 0
    for kept, excluded in chunk_records(con, params, ego_chunks(con, chunk_pairs)):
        _insert(con, f"insert into {tables.INTERACTIONS} by name", kept)
        _insert(con, "insert into _excluded_by_range by name", excluded)
        written += kept.height
    con.execute(f"delete from {EXCLUSION_RECORDS}").fetchall()
    # a record left out for egos of several ranges: its pairs summed over them
    con.execute(
        f"insert into {EXCLUSION_RECORDS} by name select source, source_key, reason, sum(n_pairs)::bigint as n_pairs "
        "from _excluded_by_range group by source, source_key, reason"
    ).fetchall()
    con.execute("drop table _excluded_by_range").fetchall()
    return written


def _rebuild_records(con: duckdb.DuckDBPyConnection, params: AnalyticsParams) -> int:
    """The rows of the records in ``_redo`` (with the messages they depend on), in place of those in ``_drop``."""
    redo = "where {key} in (select key from _redo where source = '{source}')"
    email, calendar = redo.format(key="message_key", source="email"), redo.format(key="event_key", source="calendar")
    # the messages a rebuilt mail's rows depend on: its thread (the parts) and the messages it references
    context = (
        "where message_key in (select r.key from _records r semi join _parts p using (source, part) "
        "where r.source = 'email') or message_id in (select unnest(list_concat([in_reply_to], \"references\")) "
        f"from {tables.MESSAGES} {email})"
    )
    kept, excluded = build_interaction_records(
        read_table(con, tables.interaction_input(tables.MESSAGES), context),
        read_table(con, tables.interaction_input(tables.MESSAGE_RECIPIENTS), email),
        read_table(con, tables.EVENTS, calendar),
        read_table(con, tables.EVENT_ATTENDEES, calendar),
        read_table(con, tables.MANUAL_INTERACTIONS, redo.format(key="row_key", source="manual")),
        read_table(con, tables.EGOS),
        read_table(con, tables.PERSONS),
        params,
    )
    keys = read_table(con, "_redo").rename({"key": "source_key"})
    kept = kept.join(keys, on=["source", "source_key"], how="semi")
    excluded = excluded.join(keys, on=["source", "source_key"], how="semi")
    for table in (tables.INTERACTIONS, EXCLUSION_RECORDS):
        con.execute(
            f"delete from {table} t using _drop d where t.source = d.source and t.source_key = d.key"
        ).fetchall()
    _insert(con, f"insert into {tables.INTERACTIONS} by name", kept)
    _insert(con, f"insert into {EXCLUSION_RECORDS} by name", excluded)
    return kept.height


def _insert(con: duckdb.DuckDBPyConnection, statement: str, frame: pl.DataFrame) -> None:
    """``statement`` (an insert or a create ... as) followed by ``select * from`` the frame."""
    execute_with_frame(con, f"{statement} select * from _frame", frame)
