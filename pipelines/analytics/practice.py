"""Communities of practice: mailing lists (by List-Id) and recurring meeting series, their members and vitality.

List mail is automated for ties (it never becomes an interaction); here it is the point. A list is a community
when at least two people post to it (a newsletter, where nobody answers, is not); a meeting series when at least
three people are invited to two or more of its occurrences (a 1:1 is not).

Members of a list are the people who post to it and the owners of the imported mailboxes that received it (only
observed mailboxes show who reads without posting). Roles, per member over the history up to the analysis date:

- ``asks``: starts threads (a post that answers nothing) at least as often as they answer others;
- ``answers``: replies to someone else's post more often than they start threads;
- ``watches``: only receives; for a meeting series, invited but never accepted;
- ``organises`` / ``attends``: organises the series / accepted at least one occurrence.

Privacy: a community with fewer than ``min_group_size`` members has no member rows and its months are suppressed;
a month whose members are fewer than the threshold (but not none) is suppressed (its figures null).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from tiepulse.pipelines.analytics.common import UTC_TS, as_of_instant

LIST = "mailing_list"
SERIES = "meeting_series"
ACTIVE_DAYS = 90
"""A member is active when they posted or attended in this many days up to the analysis date."""
MIN_LIST_POSTERS = 2
MIN_SERIES_PEOPLE = 3
MIN_SERIES_OCCURRENCES = 2

MEMBER_SCHEMA: dict[str, pl.DataType] = {
    "community_id": pl.String(),
    "community_kind": pl.String(),
    "community_name": pl.String(),
    "members": pl.Int64(),
    "person_id": pl.String(),
    "display_name": pl.String(),
    "team": pl.String(),
    "department": pl.String(),
    "role": pl.String(),
    "threads_started": pl.Int64(),
    "replies_to_others": pl.Int64(),
    "messages_received": pl.Int64(),
    "meetings_invited": pl.Int64(),
    "meetings_attended": pl.Int64(),
    "first_seen": pl.Date(),
    "last_seen": pl.Date(),
    "is_active": pl.Boolean(),
    "as_of": pl.Date(),
}
VITALITY_SCHEMA: dict[str, pl.DataType] = {
    "community_id": pl.String(),
    "community_kind": pl.String(),
    "community_name": pl.String(),
    "month": pl.Date(),
    "members": pl.Int64(),
    "active_members": pl.Int64(),
    "threads": pl.Int64(),
    "replies": pl.Int64(),
    "answered_share": pl.Float64(),
    "median_hours_to_answer": pl.Float64(),
    "meetings": pl.Int64(),
    "mean_attendance": pl.Float64(),
    "is_suppressed": pl.Boolean(),
    "min_group_size": pl.Int64(),
}


@dataclass(frozen=True)
class PracticeInputs:
    posts: pl.DataFrame
    """List posts by people: ``list_id``, ``message_key``, ``message_id``, ``sender_id``, ``sent_at``,
    ``in_reply_to``, ``root_id`` (first reference, else the message replied to, else itself)."""
    receipts: pl.DataFrame
    """``list_id``, ``message_key``, ``person_id``: an imported mailbox of that person holds the list post."""
    attendance: pl.DataFrame
    """Recurring series occurrences by person: ``series_id``, ``event_key``, ``start_at``, ``person_id``,
    ``response``, ``is_organizer``."""
    persons: pl.DataFrame
    """``person_id``, ``display_name``, ``team``, ``department`` (people only, no automated or list addresses)."""


@dataclass(frozen=True)
class Practice:
    members: pl.DataFrame
    vitality: pl.DataFrame


def _upto(frame: pl.DataFrame, column: str, as_of: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col(column) <= pl.lit(as_of_instant(as_of), dtype=UTC_TS))


def list_activity(inputs: PracticeInputs, as_of: dt.date) -> pl.DataFrame:
    """One row per person and list event: ``community_id``, ``person_id``, ``at``, ``started`` (a thread),
    ``answered`` (a reply to someone else), ``received``, ``thread`` (the post's root), ``month``.

    Only lists at least ``MIN_LIST_POSTERS`` people post to; posts by people (persons) only."""
    people = inputs.persons.select("person_id")
    posts = _upto(inputs.posts, "sent_at", as_of).join(people, left_on="sender_id", right_on="person_id", how="semi")
    posters = posts.group_by("list_id").agg(pl.col("sender_id").n_unique().alias("posters"))
    lists = posters.filter(pl.col("posters") >= MIN_LIST_POSTERS).select("list_id")
    posts = posts.join(lists, on="list_id", how="semi")
    parents = posts.select(in_reply_to="message_id", parent_sender="sender_id")
    written = posts.join(parents, on="in_reply_to", how="left").select(
        "list_id",
        "message_key",
        "root_id",
        person_id="sender_id",
        at="sent_at",
        started=pl.col("in_reply_to").is_null(),
        # a reply whose parent was not imported counts as an answer to someone else
        answered=pl.col("in_reply_to").is_not_null()
        & (pl.col("parent_sender").is_null() | (pl.col("parent_sender") != pl.col("sender_id"))),
        received=pl.lit(False),
    )
    received = (
        inputs.receipts.join(people, on="person_id", how="semi")
        .join(posts.select("message_key", "sender_id", "sent_at", "root_id"), on="message_key")
        .filter(pl.col("person_id") != pl.col("sender_id"))
        .unique(["message_key", "person_id"])
        .select(
            "list_id",
            "message_key",
            "root_id",
            "person_id",
            at="sent_at",
            started=pl.lit(False),
            answered=pl.lit(False),
            received=pl.lit(True),
        )
    )
    return pl.concat([written, received]).with_columns(community_id=pl.lit("list:") + pl.col("list_id"))


def series_activity(inputs: PracticeInputs, as_of: dt.date) -> pl.DataFrame:
    """One row per person and occurrence of a series that qualifies: ``community_id``, ``series_id``,
    ``event_key``, ``person_id``, ``at``, ``attended``, ``is_organizer``."""
    held = _upto(inputs.attendance, "start_at", as_of).join(
        inputs.persons.select("person_id"), on="person_id", how="semi"
    )
    sizes = held.group_by("series_id").agg(
        people=pl.col("person_id").n_unique(), occurrences=pl.col("event_key").n_unique()
    )
    kept = sizes.filter(
        (pl.col("people") >= MIN_SERIES_PEOPLE) & (pl.col("occurrences") >= MIN_SERIES_OCCURRENCES)
    ).select("series_id")
    return held.join(kept, on="series_id", how="semi").select(
        "series_id",
        "event_key",
        "person_id",
        "is_organizer",
        at="start_at",
        attended=pl.col("response") == "accepted",
        community_id=pl.lit("series:") + pl.col("series_id"),
    )


def _list_members(activity: pl.DataFrame, since: pl.Expr) -> pl.DataFrame:
    counts = activity.group_by("community_id", "person_id").agg(
        community_name=pl.col("list_id").first(),
        threads_started=pl.col("started").sum().cast(pl.Int64),
        replies_to_others=pl.col("answered").sum().cast(pl.Int64),
        messages_received=pl.col("received").sum().cast(pl.Int64),
        first_seen=pl.col("at").min(),
        last_seen=pl.col("at").max(),
        is_active=(~pl.col("received") & (pl.col("at") > since)).any(),
    )
    role = (
        pl.when(pl.col("replies_to_others") > pl.col("threads_started"))
        .then(pl.lit("answers"))
        .when(pl.col("threads_started") > 0)
        .then(pl.lit("asks"))
        .otherwise(pl.lit("watches"))
    )
    return counts.with_columns(
        community_kind=pl.lit(LIST), role=role, meetings_invited=pl.lit(None), meetings_attended=pl.lit(None)
    )


def _series_members(activity: pl.DataFrame, since: pl.Expr) -> pl.DataFrame:
    counts = activity.group_by("community_id", "person_id").agg(
        community_name=pl.col("series_id").first(),
        meetings_invited=pl.col("event_key").n_unique().cast(pl.Int64),
        meetings_attended=pl.col("event_key").filter(pl.col("attended")).n_unique().cast(pl.Int64),
        organises=pl.col("is_organizer").any(),
        first_seen=pl.col("at").min(),
        last_seen=pl.col("at").max(),
        is_active=(pl.col("attended") & (pl.col("at") > since)).any(),
    )
    role = (
        pl.when(pl.col("organises"))
        .then(pl.lit("organises"))
        .when(pl.col("meetings_attended") > 0)
        .then(pl.lit("attends"))
        .otherwise(pl.lit("watches"))
    )
    return counts.with_columns(
        community_kind=pl.lit(SERIES),
        role=role,
        threads_started=pl.lit(None),
        replies_to_others=pl.lit(None),
        messages_received=pl.lit(None),
    ).drop("organises")


def _month(at: str) -> pl.Expr:
    return pl.col(at).dt.date().dt.truncate("1mo").alias("month")


def _list_months(activity: pl.DataFrame) -> pl.DataFrame:
    posts = activity.filter(~pl.col("received"))
    threads = posts.filter(pl.col("started")).select("community_id", "root_id", "person_id", "at")
    # a thread is answered when someone other than its starter replies to it (by the analysis date)
    first_answer = (
        threads.join(
            posts.filter(~pl.col("started")).select("root_id", replier="person_id", answer_at="at"), on="root_id"
        )
        .filter((pl.col("replier") != pl.col("person_id")) & (pl.col("answer_at") >= pl.col("at")))
        .group_by("community_id", "root_id")
        .agg(hours=(pl.col("answer_at").min() - pl.col("at").first()).dt.total_seconds() / 3600)
    )
    answered = (
        threads.join(first_answer, on=["community_id", "root_id"], how="left")
        .with_columns(_month("at"))
        .group_by("community_id", "month")
        .agg(
            answered_share=pl.col("hours").is_not_null().mean(),
            median_hours_to_answer=pl.col("hours").median(),
        )
    )
    monthly = (
        activity.with_columns(_month("at"))
        .group_by("community_id", "month")
        .agg(
            members=pl.col("person_id").n_unique().cast(pl.Int64),
            active_members=pl.col("person_id").filter(~pl.col("received")).n_unique().cast(pl.Int64),
            threads=pl.col("started").sum().cast(pl.Int64),
            replies=(~pl.col("received") & ~pl.col("started")).sum().cast(pl.Int64),
        )
    )
    return monthly.join(answered, on=["community_id", "month"], how="left").with_columns(
        community_kind=pl.lit(LIST), meetings=pl.lit(None), mean_attendance=pl.lit(None)
    )


def _series_months(activity: pl.DataFrame) -> pl.DataFrame:
    per_meeting = activity.group_by("community_id", "event_key").agg(
        at=pl.col("at").min(), attended=pl.col("person_id").filter(pl.col("attended")).n_unique()
    )
    meetings = (
        per_meeting.with_columns(_month("at"))
        .group_by("community_id", "month")
        .agg(meetings=pl.len().cast(pl.Int64), mean_attendance=pl.col("attended").mean())
    )
    people = (
        activity.with_columns(_month("at"))
        .group_by("community_id", "month")
        .agg(
            members=pl.col("person_id").n_unique().cast(pl.Int64),
            active_members=pl.col("person_id").filter(pl.col("attended")).n_unique().cast(pl.Int64),
        )
    )
    return people.join(meetings, on=["community_id", "month"], how="left").with_columns(
        community_kind=pl.lit(SERIES),
        threads=pl.lit(None),
        replies=pl.lit(None),
        answered_share=pl.lit(None),
        median_hours_to_answer=pl.lit(None),
    )


def communities_of_practice(inputs: PracticeInputs, as_of: dt.date, min_group_size: int) -> Practice:
    """The member mart (``MEMBER_SCHEMA``) and the monthly vitality mart (``VITALITY_SCHEMA``) at ``as_of``."""
    lists = list_activity(inputs, as_of)
    series = series_activity(inputs, as_of)
    since = pl.lit(as_of_instant(as_of) - dt.timedelta(days=ACTIVE_DAYS), dtype=UTC_TS)
    members = pl.concat(
        [_list_members(lists, since), _series_members(series, since)], how="diagonal_relaxed"
    ).with_columns(members=pl.len().over("community_id").cast(pl.Int64))
    names = members.select("community_id", "community_name", "members").unique("community_id")
    shown = (
        members.filter(pl.col("members") >= min_group_size)
        .join(inputs.persons, on="person_id", how="left")
        .with_columns(pl.col("first_seen").dt.date(), pl.col("last_seen").dt.date(), as_of=pl.lit(as_of, dtype=pl.Date))
        .select(list(MEMBER_SCHEMA))
        .cast(MEMBER_SCHEMA)  # type: ignore[arg-type]
        .sort("community_id", "person_id")
    )
    vitality = pl.concat([_list_months(lists), _series_months(series)], how="diagonal_relaxed")
    return Practice(shown, _every_month(vitality, names, as_of, min_group_size))


def _every_month(vitality: pl.DataFrame, names: pl.DataFrame, as_of: dt.date, min_group_size: int) -> pl.DataFrame:
    """Each community's months from its first to the analysis date's (a silent month is a row of zeros), with
    the privacy rule applied."""
    if vitality.is_empty():
        return pl.DataFrame(schema=VITALITY_SCHEMA)
    last = as_of.replace(day=1)
    spans = (
        vitality.group_by("community_id")
        .agg(first=pl.col("month").min(), community_kind=pl.col("community_kind").first())
        .with_columns(month=pl.date_ranges("first", pl.lit(last), interval="1mo"))
        .explode("month")
        .drop("first")
    )
    filled = spans.join(vitality.drop("community_kind"), on=["community_id", "month"], how="left").join(
        names.select("community_id", "community_name", total="members"), on="community_id"
    )
    counts = ("members", "active_members")
    zero_if_kind = {
        "threads": LIST,
        "replies": LIST,
        "meetings": SERIES,
    }
    filled = filled.with_columns(*[pl.col(c).fill_null(0) for c in counts]).with_columns(
        pl.when(pl.col("community_kind") == kind).then(pl.col(c).fill_null(0)).otherwise(pl.col(c)).alias(c)
        for c, kind in zero_if_kind.items()
    )
    hide = (pl.col("total") < min_group_size) | ((pl.col("members") > 0) & (pl.col("members") < min_group_size))
    figures = [c for c in VITALITY_SCHEMA if c not in ("community_id", "community_kind", "community_name", "month")]
    figures = [c for c in figures if c not in ("is_suppressed", "min_group_size")]
    return (
        filled.with_columns(is_suppressed=hide, min_group_size=pl.lit(min_group_size, dtype=pl.Int64))
        .with_columns(pl.when(pl.col("is_suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in figures)
        .select(list(VITALITY_SCHEMA))
        .cast(VITALITY_SCHEMA)  # type: ignore[arg-type]
        .sort("community_id", "month")
    )
