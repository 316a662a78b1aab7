"""Communities of practice on hand-built list mail and a meeting series, every figure computed by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tiepulse.pipelines.analytics.common import UTC_TS
from tiepulse.pipelines.analytics.practice import PracticeInputs, communities_of_practice

AS_OF = dt.date(2026, 3, 31)
PEOPLE = ["a", "b", "c", "d", "e", "f", "g", "h", "o"]


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


# (list, key, sender, sent, replies to): a asks and follows up; b answers most; c asks once (answered late);
# d answers once; e and f only read; z's newsletter and a list only a posts to are no communities
POSTS = [
    ("l", "m1", "a", at(1, 5), None),
    ("l", "m2", "b", at(1, 5, 11), "m1"),
    ("l", "m3", "a", at(1, 6), "m2"),
    ("l", "m4", "c", at(2, 3, 10), None),
    ("l", "m5", "b", at(2, 10, 10), None),
    ("l", "m6", "d", at(2, 11, 10), "m5"),
    ("l", "m7", "b", at(3, 2, 10), "m4"),
    ("news", "n1", "z", at(1, 7), None),
    ("news", "n2", "z", at(2, 7), None),
    ("solo", "s1", "a", at(1, 8), None),
    ("solo", "s2", "a", at(1, 9), "s1"),
    ("l", "late", "c", at(4, 2), None),
]
READERS = ["a", "c", "d", "e", "f"]
# (event, start, person, response, organiser): o runs a weekly series; b came once; g declines; h never answers
SERIES = [
    (event, start, person, response, person == "o")
    for event, start, accepted in (("e1", at(1, 10), "oab"), ("e2", at(1, 17), "oa"), ("e3", at(2, 7), "oa"))
    for person, response in [(p, "accepted" if p in accepted else "declined") for p in "oabg"] + [("h", "needs_action")]
]


def inputs() -> PracticeInputs:
    roots = {k: (k if parent is None else None) for _, k, _, _, parent in POSTS}
    parents = {k: parent for _, k, _, _, parent in POSTS}
    for key in roots:
        root = key
        while parents[root] is not None:
            root = parents[root]  # type: ignore[assignment]
        roots[key] = root
    posts = pl.DataFrame(
        [
            {"list_id": lst, "message_key": k, "message_id": k, "sender_id": s, "sent_at": t, "in_reply_to": p}
            | {"root_id": roots[k]}
            for lst, k, s, t, p in POSTS
        ],
        schema_overrides={"sent_at": UTC_TS, "in_reply_to": pl.String},
    )
    receipts = pl.DataFrame(
        [{"list_id": lst, "message_key": k, "person_id": r} for lst, k, *_ in POSTS for r in READERS]
    )
    attendance = pl.DataFrame(
        [
            {"series_id": sid, "event_key": e, "start_at": t, "person_id": p, "response": r, "is_organizer": o}
            for sid in ("s",)
            for e, t, p, r, o in SERIES
        ]
        + [
            {"series_id": "pair", "event_key": f"x{n}", "start_at": at(1, n + 1), "person_id": p}
            | {"response": "accepted", "is_organizer": p == "a"}
            for n in range(3)
            for p in "ab"
        ],
        schema_overrides={"start_at": UTC_TS},
    )
    persons = pl.DataFrame({"person_id": PEOPLE, "display_name": [p.upper() for p in PEOPLE]}).with_columns(
        team=pl.lit("t"), department=pl.lit("d")
    )
    return PracticeInputs(posts, receipts, attendance, persons)


def test_members_and_roles() -> None:
    members = communities_of_practice(inputs(), AS_OF, 5).members
    got = {
        (r["community_id"], r["person_id"]): (r["role"], r["threads_started"], r["replies_to_others"])
        for r in members.iter_rows(named=True)
        if r["community_kind"] == "mailing_list"
    }
    # a: one thread and a follow-up to b (a reply to someone else): a tie goes to 'asks'
    assert got == {
        ("list:l", "a"): ("asks", 1, 1),
        ("list:l", "b"): ("answers", 1, 2),
        ("list:l", "c"): ("asks", 1, 0),
        ("list:l", "d"): ("answers", 0, 1),
        ("list:l", "e"): ("watches", 0, 0),
        ("list:l", "f"): ("watches", 0, 0),
    }
    received = dict(members.filter(pl.col("community_id") == "list:l").select("person_id", "messages_received").rows())
    assert received == {"a": 5, "b": 0, "c": 6, "d": 6, "e": 7, "f": 7}
    series = members.filter(pl.col("community_id") == "series:s")
    assert sorted(series.select("person_id", "role", "meetings_invited", "meetings_attended").rows()) == [
        ("a", "attends", 3, 3),
        ("b", "attends", 3, 1),
        ("g", "watches", 3, 0),
        ("h", "watches", 3, 0),
        ("o", "organises", 3, 3),
    ]
    assert set(members.get_column("members").unique().to_list()) == {6, 5}
    # every post is in the 90 days before the analysis date; reading is not being active
    active = dict(members.filter(pl.col("community_id") == "list:l").select("person_id", "is_active").rows())
    assert active == {"a": True, "b": True, "c": True, "d": True, "e": False, "f": False}
    later = communities_of_practice(inputs(), dt.date(2026, 4, 30), 5).members.filter(pl.col("is_active"))
    assert sorted(later.filter(pl.col("community_id") == "list:l").get_column("person_id").to_list()) == ["b", "c", "d"]
    assert members.get_column("as_of").unique().to_list() == [AS_OF]


def test_vitality_by_month() -> None:
    vitality = communities_of_practice(inputs(), AS_OF, 5).vitality
    lists = vitality.filter(pl.col("community_id") == "list:l").select(
        "month", "members", "active_members", "threads", "replies", "answered_share", "median_hours_to_answer"
    )
    assert lists.rows() == [
        (dt.date(2026, 1, 1), 6, 2, 1, 2, 1.0, pytest.approx(2.0)),
        (dt.date(2026, 2, 1), 6, 3, 2, 1, 1.0, pytest.approx((27 * 24 + 24) / 2)),
        (dt.date(2026, 3, 1), 6, 1, 0, 1, None, None),
    ]
    series = vitality.filter(pl.col("community_id") == "series:s").select(
        "month", "members", "active_members", "meetings", "mean_attendance", "threads", "is_suppressed"
    )
    assert series.rows() == [
        (dt.date(2026, 1, 1), 5, 3, 2, 2.5, None, False),
        (dt.date(2026, 2, 1), 5, 2, 1, 2.0, None, False),
        (dt.date(2026, 3, 1), 0, 0, 0, None, None, False),
    ]
    assert set(vitality.get_column("community_id").unique().to_list()) == {"list:l", "series:s"}


def test_groups_under_the_threshold_are_suppressed() -> None:
    practice = communities_of_practice(inputs(), AS_OF, 6)
    assert set(practice.members.get_column("community_id").unique().to_list()) == {"list:l"}
    series = practice.vitality.filter(pl.col("community_id") == "series:s")
    assert series.get_column("is_suppressed").all()
    assert series.select("members", "active_members", "meetings", "mean_attendance").null_count().row(0) == (3, 3, 3, 3)
    assert not practice.vitality.filter(pl.col("community_id") == "list:l").get_column("is_suppressed").any()
