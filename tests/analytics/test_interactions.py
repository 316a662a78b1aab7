"""build_interaction_records: pairs from mail, meetings and the log; direction; exclusions counted per reason."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from tests.analytics import builders as b
from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.interactions import (
    INTERACTION_SCHEMA,
    build_interaction_records,
    summarise_exclusions,
)

EGO = "ego@acme.com"
PEOPLE = ["ego@acme.com", "ana@acme.com", "bob@other.org", "cy@acme.com", "dee@acme.com"]


def run(
    msgs: list[dict[str, Any]] | None = None,
    rcpts: list[tuple[str, str]] | None = None,
    evs: list[dict[str, Any]] | None = None,
    atts: list[tuple[Any, ...]] | None = None,
    logged: list[dict[str, Any]] | None = None,
    egos: list[dict[str, Any]] | None = None,
    people: list[dict[str, Any]] | None = None,
    params: AnalyticsParams | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    interactions, records = build_interaction_records(
        b.messages(msgs or []),
        b.recipients(rcpts or []),
        b.events(evs or []),
        b.attendees(atts or []),
        b.manual(logged or []),
        b.egos(egos or [{"ego_id": EGO}]),
        b.persons(people or [{"person_id": p} for p in PEOPLE]),
        params,
    )
    return interactions, summarise_exclusions(records)


def exclusions(x: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r["source"], r["reason"]): (r["n_records"], r["n_pairs"]) for r in x.iter_rows(named=True)}


def test_email_from_ego_to_n_recipients_is_n_interactions_with_group_size_n() -> None:
    inter, _ = run(
        [{"message_key": "m1", "sent_at": b.at("2026-03-02", 9), "sender_id": EGO, "n_recipients": 3}],
        [("m1", "ana@acme.com"), ("m1", "bob@other.org"), ("m1", "cy@acme.com")],
    )
    assert inter.schema == pl.Schema(INTERACTION_SCHEMA)
    assert inter["alter_id"].to_list() == ["ana@acme.com", "bob@other.org", "cy@acme.com"]
    assert set(inter["group_size"]) == {3}
    assert set(inter["actor"]) == {"ego"} and set(inter["direction"]) == {"ego_initiated"}
    # weight = channel weight (email 1.0) / sqrt(3)
    assert inter["weight"][0] == pytest.approx(1 / 3**0.5)


def test_email_from_alter_is_one_interaction_for_the_ego_only() -> None:
    inter, _ = run(
        [{"message_key": "m1", "sent_at": b.at("2026-03-02"), "sender_id": "ana@acme.com", "n_recipients": 2}],
        [("m1", EGO), ("m1", "cy@acme.com")],
    )
    assert inter.select("ego_id", "alter_id", "actor", "group_size").rows() == [(EGO, "ana@acme.com", "alter", 2)]


def test_two_egos_on_one_message_each_get_their_side() -> None:
    inter, _ = run(
        [{"message_key": "m1", "sent_at": b.at("2026-03-02"), "sender_id": EGO, "n_recipients": 1}],
        [("m1", "ana@acme.com")],
        egos=[{"ego_id": EGO}, {"ego_id": "ana@acme.com"}],
    )
    assert sorted(inter.select("ego_id", "alter_id", "actor").rows()) == [
        ("ana@acme.com", EGO, "alter"),
        (EGO, "ana@acme.com", "ego"),
    ]


def test_reply_through_in_reply_to_is_started_by_the_other_party() -> None:
    inter, _ = run(
        [
            {"message_key": "m1", "sent_at": b.at("2026-03-02", 9), "sender_id": "ana@acme.com", "n_recipients": 1},
            # ego answers ana: the exchange was ana's initiative
            {
                "message_key": "m2",
                "sent_at": b.at("2026-03-02", 10),
                "sender_id": EGO,
                "n_recipients": 1,
                "in_reply_to": "m1",
                "is_reply": True,
            },
            # ego follows up on its own m2 without an answer: still ana's thread, via References
            {
                "message_key": "m3",
                "sent_at": b.at("2026-03-03", 10),
                "sender_id": EGO,
                "n_recipients": 1,
                "in_reply_to": "m2",
                "references": ["m1", "m2"],
                "is_reply": True,
            },
            # a reply to ego's own message that never involved ana's: ego's initiative
            {"message_key": "m4", "sent_at": b.at("2026-03-04", 10), "sender_id": EGO, "n_recipients": 1},
            {
                "message_key": "m5",
                "sent_at": b.at("2026-03-04", 11),
                "sender_id": EGO,
                "n_recipients": 1,
                "in_reply_to": "m4",
                "is_reply": True,
            },
        ],
        [("m1", EGO), ("m2", "ana@acme.com"), ("m3", "ana@acme.com"), ("m4", "ana@acme.com"), ("m5", "ana@acme.com")],
    )
    got = dict(zip(inter["source_key"], zip(inter["direction"], inter["is_response"], strict=True), strict=True))
    assert got == {
        "m1": ("alter_initiated", False),
        "m2": ("alter_initiated", True),
        "m3": ("alter_initiated", True),
        "m4": ("ego_initiated", False),
        "m5": ("ego_initiated", False),
    }


def test_reply_recognised_by_thread_then_by_is_reply_alone() -> None:
    inter, _ = run(
        [
            {
                "message_key": "m1",
                "sent_at": b.at("2026-03-02", 9),
                "sender_id": EGO,
                "n_recipients": 1,
                "thread_id": "t1",
            },
            # ana answers in the same thread (no In-Reply-To): a response, so ego started it
            {
                "message_key": "m2",
                "sent_at": b.at("2026-03-02", 10),
                "sender_id": "ana@acme.com",
                "n_recipients": 1,
                "thread_id": "t1",
                "is_reply": True,
            },
            # "Re:" from bob with nothing else known: bob answers something of ego's
            {
                "message_key": "m3",
                "sent_at": b.at("2026-03-02", 11),
                "sender_id": "bob@other.org",
                "n_recipients": 1,
                "is_reply": True,
            },
            # "Re:" from cy in a thread whose start we see, but ego never wrote in it: cy's initiative
            {
                "message_key": "m4",
                "sent_at": b.at("2026-03-02", 8),
                "sender_id": "dee@acme.com",
                "n_recipients": 1,
                "subject_hash": "h",
            },
            {
                "message_key": "m5",
                "sent_at": b.at("2026-03-02", 12),
                "sender_id": "cy@acme.com",
                "n_recipients": 2,
                "subject_hash": "h",
                "is_reply": True,
            },
        ],
        [("m1", "ana@acme.com"), ("m2", EGO), ("m3", EGO), ("m4", "cy@acme.com"), ("m5", EGO), ("m5", "dee@acme.com")],
    )
    got = dict(zip(inter["source_key"], inter["direction"], strict=True))
    assert got == {
        "m1": "ego_initiated",
        "m2": "ego_initiated",
        "m3": "ego_initiated",
        "m5": "alter_initiated",
    }


def test_mail_exclusions_are_counted_per_reason() -> None:
    people = [{"person_id": p} for p in PEOPLE] + [{"person_id": "noreply@shop.com", "is_automated": True}]
    inter, excluded = run(
        [
            {
                "message_key": "auto",
                "sent_at": b.at("2026-03-02"),
                "sender_id": "noreply@shop.com",
                "n_recipients": 1,
                "is_automated": True,
            },
            {
                "message_key": "list",
                "sent_at": b.at("2026-03-02"),
                "sender_id": "ana@acme.com",
                "n_recipients": 1,
                "is_automated": True,
            },
            {"message_key": "self", "sent_at": b.at("2026-03-02"), "sender_id": EGO, "n_recipients": 0},
            {"message_key": "big", "sent_at": b.at("2026-03-02"), "sender_id": EGO, "n_recipients": 19},
            {"message_key": "ok", "sent_at": b.at("2026-03-02"), "sender_id": EGO, "n_recipients": 2},
        ],
        [("auto", EGO), ("list", EGO), ("ok", "ana@acme.com"), ("ok", "noreply@shop.com")]
        + [("big", f"p{i}@acme.com") for i in range(19)],
        people=people,
    )
    assert inter.select("source_key", "alter_id").rows() == [("ok", "ana@acme.com")]
    assert exclusions(excluded) == {
        ("email", "automated"): (2, 2),
        ("email", "self_addressed"): (1, 0),
        ("email", "group_too_large"): (1, 19),
        ("email", "automated_alter"): (1, 1),
    }


def test_meeting_pairs_group_size_minutes_and_exclusions() -> None:
    start = b.at("2026-03-03", 14)
    inter, excluded = run(
        evs=[
            # 90 minutes in a room with ana (accepted), bob (tentative), cy (declined), dee (no answer)
            {
                "event_key": "e1",
                "start_at": start,
                "duration_minutes": 90,
                "organizer_id": "ana@acme.com",
                "n_attendees": 5,
                "has_location": True,
                "is_online": False,
            },
            {
                "event_key": "cancel",
                "start_at": start,
                "duration_minutes": 30,
                "organizer_id": EGO,
                "n_attendees": 2,
                "is_cancelled": True,
                "status": "cancelled",
            },
            {
                "event_key": "allday",
                "start_at": start,
                "duration_minutes": 1440,
                "organizer_id": EGO,
                "n_attendees": 2,
                "is_all_day": True,
            },
            {
                "event_key": "nope",
                "start_at": start,
                "duration_minutes": 30,
                "organizer_id": "ana@acme.com",
                "n_attendees": 2,
            },
            {"event_key": "huge", "start_at": start, "duration_minutes": 300, "organizer_id": EGO, "n_attendees": 19},
        ],
        atts=[
            ("e1", "ana@acme.com", "accepted", True),
            ("e1", EGO, "accepted"),
            ("e1", "bob@other.org", "tentative"),
            ("e1", "cy@acme.com", "declined"),
            ("e1", "dee@acme.com", "needs_action"),
            ("cancel", EGO, "accepted", True),
            ("cancel", "ana@acme.com", "accepted"),
            ("allday", EGO, "accepted", True),
            ("allday", "ana@acme.com", "accepted"),
            ("nope", "ana@acme.com", "accepted", True),
            ("nope", EGO, "declined"),
            ("huge", EGO, "accepted", True),
        ]
        + [("huge", f"p{i}@acme.com", "accepted") for i in range(18)],
    )
    # present: ana, ego, bob -> group size for ego = 3 - 1 = 2; minutes split 90 / 2 = 45
    assert inter.select("alter_id", "direction", "group_size", "minutes", "shared_minutes", "is_in_person").rows() == [
        ("ana@acme.com", "alter_initiated", 2, 90.0, 45.0, True),
        ("bob@other.org", "mutual", 2, 90.0, 45.0, True),
    ]
    # weight = meeting 2.0 / sqrt(2)
    assert inter["weight"][0] == pytest.approx(2 / 2**0.5)
    assert exclusions(excluded) == {
        ("calendar", "all_day"): (1, 1),
        ("calendar", "cancelled"): (1, 1),
        ("calendar", "declined"): (2, 2),  # cy declined in e1; ego declined "nope"
        ("calendar", "group_too_large"): (1, 18),
        ("calendar", "not_accepted"): (1, 1),  # dee never answered
    }


def test_meeting_minutes_are_capped() -> None:
    inter, _ = run(
        evs=[
            {
                "event_key": "e",
                "start_at": b.at("2026-03-03", 9),
                "duration_minutes": 480,
                "organizer_id": EGO,
                "n_attendees": 2,
            }
        ],
        atts=[("e", EGO, "accepted", True), ("e", "ana@acme.com", "accepted")],
    )
    assert inter.select("minutes", "direction").row(0) == (240.0, "ego_initiated")


def test_manual_log_channels_and_direction() -> None:
    inter, excluded = run(
        logged=[
            {
                "row_key": "r1",
                "ego_id": EGO,
                "person_id": "ana@acme.com",
                "occurred_at": b.at("2026-03-02"),
                "channel": "in_person",
                "minutes": 60,
            },
            {
                "row_key": "r2",
                "ego_id": EGO,
                "person_id": "bob@other.org",
                "occurred_at": b.at("2026-03-02"),
                "channel": "note",
            },
            {
                "row_key": "r3",
                "ego_id": EGO,
                "person_id": "cy@acme.com",
                "occurred_at": b.at("2026-03-02"),
                "channel": "pigeon",
            },
        ]
    )
    assert inter.select("alter_id", "channel", "actor", "direction", "is_in_person", "weight").rows() == [
        ("ana@acme.com", "in_person", "both", "mutual", True, 3.0),
        ("bob@other.org", "note", "ego", "ego_initiated", False, 0.5),
    ]
    assert exclusions(excluded) == {("manual", "unknown_channel"): (1, 1)}


def test_after_hours_uses_the_egos_time_zone_and_working_days() -> None:
    # Madrid is UTC+1 in winter: 07:30 UTC = 08:30 local (working), 16:30 UTC = 17:30 local (after hours)
    msgs = [
        {"message_key": "early", "sent_at": b.at("2026-03-02", 7, 30), "sender_id": EGO, "n_recipients": 1},
        {"message_key": "late", "sent_at": b.at("2026-03-02", 16, 30), "sender_id": EGO, "n_recipients": 1},
        {"message_key": "sunday", "sent_at": b.at("2026-03-01", 11), "sender_id": EGO, "n_recipients": 1},
    ]
    rcpts = [("early", "ana@acme.com"), ("late", "ana@acme.com"), ("sunday", "ana@acme.com")]
    inter, _ = run(msgs, rcpts, egos=[{"ego_id": EGO, "timezone": "Europe/Madrid"}])
    assert dict(zip(inter["source_key"], inter["is_after_hours"], strict=True)) == {
        "early": False,
        "late": True,
        "sunday": True,
    }
    # a Sunday-to-Thursday week (0=Mon ... 6=Sun) makes Sunday a working day
    inter, _ = run(msgs, rcpts, egos=[{"ego_id": EGO, "work_days": [6, 0, 1, 2, 3]}])
    assert dict(zip(inter["source_key"], inter["is_after_hours"], strict=True))["sunday"] is False
