"""Interactions: one row per ego, alter and contact, from mail, meetings and the manual log.

Every record that touches an ego but is not an interaction is counted under one exclusion reason (the first
that applies, in the order listed in ``EXCLUSION_REASONS``), so nothing disappears without a trace.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

import polars as pl

from tiepulse.core.params import CHANNELS, AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, lazy, weight_expr

INTERACTION_SCHEMA: dict[str, pl.DataType] = {
    "ego_id": pl.String(),
    "alter_id": pl.String(),
    "occurred_at": UTC_TS,
    "channel": pl.String(),
    "direction": pl.String(),
    "actor": pl.String(),
    "is_response": pl.Boolean(),
    "group_size": pl.Int32(),
    "minutes": pl.Float64(),
    "shared_minutes": pl.Float64(),
    "is_in_person": pl.Boolean(),
    "is_after_hours": pl.Boolean(),
    "source": pl.String(),
    "source_key": pl.String(),
    "weight": pl.Float64(),
}
"""Columns of ``marts.fct_interactions``."""

EXCLUSION_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "reason": pl.String(),
    "n_records": pl.Int64(),
    "n_pairs": pl.Int64(),
}

EXCLUSION_RECORD_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_key": pl.String(),
    "reason": pl.String(),
    "n_pairs": pl.Int64(),
}
"""One row per record left out and reason (``ops.interaction_exclusion_records``)."""

EXCLUSION_REASONS: dict[str, tuple[str, ...]] = {
    "email": ("automated", "self_addressed", "group_too_large", "automated_alter", "non_person_alter"),
    "calendar": (
        "all_day",
        "cancelled",
        "group_too_large",
        "declined",
        "not_accepted",
        "automated_alter",
        "non_person_alter",
    ),
    "manual": ("unknown_channel",),
}
"""Reasons per source, in the order they are tested."""

_ATTENDING = ("accepted", "tentative")
_NOT_ATTENDING = ("declined", "delegated")


def build_interaction_records(
    messages: Frame,
    recipients: Frame,
    events: Frame,
    attendees: Frame,
    manual: Frame,
    egos: Frame,
    persons: Frame,
    params: AnalyticsParams | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interactions of every ego, and the records left out, one row per record and reason
    (``EXCLUSION_RECORD_SCHEMA``; ``summarise_exclusions`` counts them per source and reason).

    Inputs are the marts' facts and dimensions (``fct_messages``, ``fct_message_recipients``, ``fct_events``,
    ``fct_event_attendees``, ``fct_manual_interactions``, ``dim_ego``) and ``dim_person``.

    The records' rows depend on their own inputs, the egos, the people's flags and, for mail, the messages they
    reference and the earlier messages of their thread: given those, a subset of the records gives the same rows
    for them as the whole (``pipelines.interaction_records`` rebuilds only the records whose inputs changed).
    """
    params = params or AnalyticsParams()
    ego_frame = lazy(egos).select("ego_id", "timezone", "work_start_hour", "work_end_hour", "work_days")
    ego_ids = ego_frame.select("ego_id")
    # addresses that are not people (automated senders, lists, role and group addresses) are never alters
    automated = (
        lazy(persons)
        .filter(pl.col("non_person_reason").is_not_null())
        .select(
            pl.col("person_id").alias("alter_id"),
            pl.when(pl.col("is_automated"))
            .then(pl.lit("automated_alter"))
            .otherwise(pl.lit("non_person_alter"))
            .alias("alter_reason"),
        )
    )

    mail, mail_self = _email_candidates(lazy(messages), lazy(recipients), ego_ids, automated, params)
    meetings = _meeting_candidates(lazy(events), lazy(attendees), ego_ids, automated, params)
    logged = _manual_candidates(lazy(manual), ego_ids)
    candidates = pl.concat([mail, meetings, logged], how="vertical")

    kept = (
        candidates.filter(pl.col("reason").is_null())
        .join(ego_frame, on="ego_id", how="left")
        .with_columns(
            is_after_hours=_after_hours_expr(ego_frame),
            weight=weight_expr(params),
        )
        .select([pl.col(c).cast(t) for c, t in INTERACTION_SCHEMA.items()])
        .sort("ego_id", "alter_id", "occurred_at", "source_key")
    )
    excluded = (
        candidates.filter(pl.col("reason").is_not_null())
        .group_by("source", "source_key", "reason")
        .agg(n_pairs=pl.len().cast(pl.Int64))
    )
    excluded = pl.concat([excluded, mail_self], how="vertical").select(
        [pl.col(c).cast(t) for c, t in EXCLUSION_RECORD_SCHEMA.items()]
    )
    interactions, records = pl.collect_all([kept, excluded])
    return interactions, records


def summarise_exclusions(records: Frame) -> pl.DataFrame:
    """Records left out per source and reason (``EXCLUSION_SCHEMA``), from their per-record rows."""
    return (
        lazy(records)
        .group_by("source", "reason")
        .agg(n_records=pl.len().cast(pl.Int64), n_pairs=pl.col("n_pairs").sum().cast(pl.Int64))
        .sort("source", "reason")
        .collect()
    )


def _email_candidates(
    messages: pl.LazyFrame,
    recipients: pl.LazyFrame,
    ego_ids: pl.LazyFrame,
    automated: pl.LazyFrame,
    params: AnalyticsParams,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Candidate ego-alter pairs from mail (with their exclusion reason), and the self-addressed messages."""
    msgs = messages.with_columns(
        thread_key=pl.coalesce(
            pl.lit("t:") + pl.col("thread_id"),
            pl.lit("s:") + pl.col("subject_hash"),
        ),
        msg_reason=pl.when(pl.col("is_automated"))
        .then(pl.lit("automated"))
        .when(pl.col("n_recipients") > params.max_group_size)
        .then(pl.lit("group_too_large")),
    )
    egos_as_sender = ego_ids.select(pl.col("ego_id").alias("sender_id"))
    outbound = (
        msgs.join(egos_as_sender, on="sender_id", how="semi")
        .join(recipients.select("message_key", pl.col("person_id").alias("alter_id")), on="message_key")
        .with_columns(ego_id=pl.col("sender_id"), actor=pl.lit("ego"), other_id=pl.col("alter_id"))
    )
    inbound = (
        recipients.select("message_key", pl.col("person_id").alias("ego_id"))
        .join(ego_ids, on="ego_id", how="semi")
        .join(msgs, on="message_key")
        .with_columns(alter_id=pl.col("sender_id"), actor=pl.lit("alter"), other_id=pl.col("ego_id"))
    )
    columns = [
        "message_key",
        "sent_at",
        "ego_id",
        "alter_id",
        "actor",
        "other_id",
        "n_recipients",
        "in_reply_to",
        "references",
        "is_reply",
        "thread_key",
        "msg_reason",
    ]
    pairs = pl.concat([outbound.select(columns), inbound.select(columns)], how="vertical")
    pairs = pairs.join(automated, on="alter_id", how="left")

    # Parents: messages named by In-Reply-To or References whose sender we know.
    senders = (
        msgs.filter(pl.col("message_id").is_not_null())
        .group_by("message_id")
        .agg(pl.col("sender_id").min().alias("ref_sender"))
    )
    parents = (
        msgs.select(
            "message_key",
            ref=pl.concat_list(
                pl.col("in_reply_to"), pl.col("references").fill_null(pl.lit([], dtype=pl.List(pl.String)))
            ),
        )
        .explode("ref")
        .filter(pl.col("ref").is_not_null())
        .join(senders, left_on="ref", right_on="message_id")
        .select("message_key", "ref_sender")
        .unique()
    )
    resolved = parents.select("message_key").unique().with_columns(ref_resolved=pl.lit(True))
    hits = parents.rename({"ref_sender": "other_id"}).with_columns(ref_hit=pl.lit(True))
    # Threads: when each person first wrote in a thread (thread id, else subject hash), and when it started.
    threaded = msgs.filter(pl.col("thread_key").is_not_null())
    first_by_sender = threaded.group_by("thread_key", "sender_id").agg(other_first_at=pl.col("sent_at").min())
    thread_start = threaded.group_by("thread_key").agg(thread_first_at=pl.col("sent_at").min())

    responds = (
        pl.when(pl.col("ref_hit"))
        .then(True)
        .when(pl.col("ref_resolved"))
        .then(False)
        .when(~pl.col("is_reply"))
        .then(False)
        .when(pl.col("other_first_at") < pl.col("sent_at"))
        .then(True)
        .when(pl.col("thread_first_at") < pl.col("sent_at"))
        .then(False)
        .otherwise(True)
    )
    pairs = (
        pairs.join(hits, on=["message_key", "other_id"], how="left")
        .join(resolved, on="message_key", how="left")
        .join(first_by_sender.rename({"sender_id": "other_id"}), on=["thread_key", "other_id"], how="left")
        .join(thread_start, on="thread_key", how="left")
        .with_columns(
            pl.col("ref_hit", "ref_resolved").fill_null(False),
            is_reply=pl.col("is_reply").fill_null(False),
        )
        .with_columns(is_response=responds)
    )
    ego_acts = pl.col("actor") == "ego"
    started_by_ego = ego_acts != pl.col("is_response")
    candidates = pairs.select(
        "ego_id",
        "alter_id",
        occurred_at=pl.col("sent_at"),
        channel=pl.lit("email"),
        direction=pl.when(started_by_ego).then(pl.lit("ego_initiated")).otherwise(pl.lit("alter_initiated")),
        actor="actor",
        is_response="is_response",
        group_size=pl.col("n_recipients").clip(lower_bound=1),
        minutes=pl.lit(None, dtype=pl.Float64),
        shared_minutes=pl.lit(None, dtype=pl.Float64),
        is_in_person=pl.lit(False),
        source=pl.lit("email"),
        source_key="message_key",
        reason=pl.coalesce("msg_reason", "alter_reason"),
    )
    self_addressed = (
        msgs.join(egos_as_sender, on="sender_id", how="semi")
        .filter(pl.col("n_recipients") == 0, ~pl.col("is_automated"))
        .select(
            source=pl.lit("email"),
            source_key="message_key",
            reason=pl.lit("self_addressed"),
            n_pairs=pl.lit(0, dtype=pl.Int64),
        )
    )
    return candidates, self_addressed


def _meeting_candidates(
    events: pl.LazyFrame,
    attendees: pl.LazyFrame,
    ego_ids: pl.LazyFrame,
    automated: pl.LazyFrame,
    params: AnalyticsParams,
) -> pl.LazyFrame:
    """Candidate pairs from calendars: each ego attending an event with each other participant."""
    present = attendees.group_by("event_key").agg(
        n_present=pl.col("response").is_in(list(_ATTENDING)).sum().cast(pl.Int32)
    )
    ev = events.join(present, on="event_key", how="left").with_columns(
        event_reason=pl.when(pl.col("is_all_day").fill_null(False))
        .then(pl.lit("all_day"))
        .when(pl.col("is_cancelled").fill_null(False) | (pl.col("status") == "cancelled"))
        .then(pl.lit("cancelled"))
        .when(pl.col("n_attendees") > params.max_group_size)
        .then(pl.lit("group_too_large"))
    )
    ego_rows = attendees.join(ego_ids.rename({"ego_id": "person_id"}), on="person_id", how="semi").select(
        "event_key", ego_id="person_id", ego_response="response"
    )
    alter_rows = attendees.select("event_key", alter_id="person_id", alter_response="response")
    pairs = (
        ego_rows.join(alter_rows, on="event_key")
        .filter(pl.col("ego_id") != pl.col("alter_id"))
        .join(ev, on="event_key")
        .join(automated, on="alter_id", how="left")
    )
    ego_present = pl.col("ego_response").is_in(list(_ATTENDING)).cast(pl.Int32)
    group_size = (pl.col("n_present").fill_null(0) - ego_present).clip(lower_bound=1)
    minutes = pl.col("duration_minutes").cast(pl.Float64).clip(0.0, params.meeting_minutes_cap)
    reason = pl.coalesce(
        "event_reason",
        pl.when(
            pl.col("ego_response").is_in(list(_NOT_ATTENDING)) | pl.col("alter_response").is_in(list(_NOT_ATTENDING))
        )
        .then(pl.lit("declined"))
        .when(~pl.col("alter_response").is_in(list(_ATTENDING)))
        .then(pl.lit("not_accepted"))
        .otherwise(pl.col("alter_reason")),
    )
    return pairs.select(
        "ego_id",
        "alter_id",
        occurred_at=pl.col("start_at"),
        channel=pl.lit("meeting"),
        direction=pl.when(pl.col("organizer_id") == pl.col("ego_id"))
        .then(pl.lit("ego_initiated"))
        .when(pl.col("organizer_id") == pl.col("alter_id"))
        .then(pl.lit("alter_initiated"))
        .otherwise(pl.lit("mutual")),
        actor=pl.lit("both"),
        is_response=pl.lit(False),
        group_size=group_size,
        minutes=minutes,
        shared_minutes=minutes / group_size,
        is_in_person=pl.col("has_location").fill_null(False) & ~pl.col("is_online").fill_null(False),
        source=pl.lit("calendar"),
        source_key="event_key",
        reason=reason,
    )


def _manual_candidates(manual: pl.LazyFrame, ego_ids: pl.LazyFrame) -> pl.LazyFrame:
    """The hand-kept log: calls, visits, video, chat are two-way; a note is something the ego did."""
    is_note = pl.col("channel") == "note"
    return (
        manual.join(ego_ids, on="ego_id", how="semi")
        .filter(pl.col("ego_id") != pl.col("person_id"))
        .select(
            "ego_id",
            alter_id="person_id",
            occurred_at="occurred_at",
            channel="channel",
            direction=pl.when(is_note).then(pl.lit("ego_initiated")).otherwise(pl.lit("mutual")),
            actor=pl.when(is_note).then(pl.lit("ego")).otherwise(pl.lit("both")),
            is_response=pl.lit(False),
            group_size=pl.lit(1, dtype=pl.Int32),
            minutes=pl.col("minutes").cast(pl.Float64),
            shared_minutes=pl.col("minutes").cast(pl.Float64),
            is_in_person=pl.col("channel") == "in_person",
            source=pl.lit("manual"),
            source_key="row_key",
            reason=pl.when(~pl.col("channel").is_in([c for c in CHANNELS if c not in ("email", "meeting")]))
            .then(pl.lit("unknown_channel"))
            .otherwise(pl.lit(None, dtype=pl.String)),
        )
    )


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _after_hours_expr(ego_frame: pl.LazyFrame) -> pl.Expr:
    """Outside the ego's working days and hours, in the ego's own time zone (unknown zones fall back to
    UTC)."""
    zones = sorted(
        z for z in ego_frame.select(pl.col("timezone").unique()).collect().to_series().drop_nulls() if z != "UTC"
    )
    local = pl.col("occurred_at").dt.replace_time_zone(None)
    for zone in zones:
        if zone in _known_zones():
            converted = pl.col("occurred_at").dt.convert_time_zone(zone).dt.replace_time_zone(None)
            local = pl.when(pl.col("timezone") == zone).then(converted).otherwise(local)
    hour = local.dt.hour().cast(pl.Float64) + local.dt.minute().cast(pl.Float64) / 60.0
    weekday = (local.dt.weekday() - 1).cast(pl.Int64)  # Polars counts Monday as 1, the config as 0
    work_days = pl.col("work_days").fill_null(pl.lit([0, 1, 2, 3, 4], dtype=pl.List(pl.Int64)))
    working = (
        work_days.cast(pl.List(pl.Int64)).list.contains(weekday)
        & (hour >= pl.col("work_start_hour").fill_null(8).cast(pl.Float64))
        & (hour < pl.col("work_end_hour").fill_null(17).cast(pl.Float64))
    )
    return ~working
