"""compute_ties: every column on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from tests.analytics import builders as b
from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.ties import TIE_COLUMNS, compute_ties

EGO, ANA, BOB = "ego@acme.com", "ana@acme.com", "bob@other.org"
AS_OF = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)  # ages are whole days back from this instant
PERSONS = b.persons(
    [
        {"person_id": EGO, "team": "core"},
        {"person_id": ANA, "display_name": "Ana Ruiz", "team": "core", "department": "eng"},
        {"person_id": BOB, "is_internal": False},
    ]
)
NO_CONTACTS = b.contacts([])


def days_ago(n: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=n)


def ties_of(rows: list[dict[str, object]], contacts: pl.DataFrame = NO_CONTACTS, **params: object) -> pl.DataFrame:
    return compute_ties(b.interactions(rows), PERSONS, contacts, AS_OF, AnalyticsParams(**params))  # type: ignore[arg-type]


def test_strength_of_a_two_way_email_exchange() -> None:
    ties = ties_of(
        [
            {
                "ego_id": EGO,
                "alter_id": ANA,
                "occurred_at": days_ago(90),
                "channel": "email",
                "actor": "alter",
                "direction": "alter_initiated",
            },
            {
                "ego_id": EGO,
                "alter_id": ANA,
                "occurred_at": days_ago(0),
                "channel": "email",
                "actor": "ego",
                "direction": "alter_initiated",
                "is_response": True,
            },
        ]
    )
    assert ties.columns == TIE_COLUMNS
    t = ties.row(0, named=True)
    # out = 1 (today), in = 1 * 2^(-90/90) = 0.5, both = 0
    assert t["volume_out"] == pytest.approx(1.0)
    assert t["volume_in"] == pytest.approx(0.5)
    # effective = 0 + 2 * min(1, 0.5) + 0.1 * |1 - 0.5| = 1.05
    assert t["effective_volume"] == pytest.approx(1.05)
    # duration factor = 0.6 + 0.4 * 90 / 730; strength = 1 - exp(-1.05 * factor / 15)
    factor = 0.6 + 0.4 * 90 / 730
    assert t["strength"] == pytest.approx(1 - math.exp(-1.05 * factor / 15))
    assert t["strength_at_last_contact"] == pytest.approx(t["strength"])  # last contact is today
    assert t["reciprocity"] == pytest.approx(0.5)  # min / max of out and in
    assert t["span_days"] == pytest.approx(90.0)
    assert t["days_since"] == 0
    assert t["last_channel"] == "email"
    assert t["last_two_way_contact"] == AS_OF  # ego's answer
    assert t["last_inbound_contact"] == days_ago(90)
    assert (t["n_email"], t["n_email_sent"], t["n_email_received"]) == (2, 1, 1)
    assert t["initiation_share"] == 0.0  # both messages belong to ana's initiative
    assert t["reply_rate"] is None  # ego never reached out unprompted
    assert (t["alter_name"], t["alter_team"], t["alter_is_internal"]) == ("Ana Ruiz", "core", True)


def test_one_way_contact_is_weak_and_richer_channels_weigh_more() -> None:
    ties = ties_of(
        [{"ego_id": EGO, "alter_id": BOB, "occurred_at": days_ago(0), "channel": "email"} for _ in range(10)]
        + [
            {
                "ego_id": EGO,
                "alter_id": ANA,
                "occurred_at": days_ago(0),
                "channel": "call",
                "actor": "both",
                "direction": "mutual",
            }
        ]
    )
    by = {r["alter_id"]: r for r in ties.iter_rows(named=True)}
    # bob: ten unanswered emails today: effective = 0.1 * 10 = 1; ana: one call: both = 2.5
    assert by[BOB]["effective_volume"] == pytest.approx(1.0)
    assert by[ANA]["effective_volume"] == pytest.approx(2.5)
    assert by[BOB]["strength"] == pytest.approx(1 - math.exp(-1.0 * 0.6 / 15))
    assert by[ANA]["strength"] == pytest.approx(1 - math.exp(-2.5 * 0.6 / 15))
    assert by[BOB]["n_unanswered"] == 10 and by[BOB]["last_inbound_contact"] is None
    assert by[BOB]["reply_rate"] == 0.0 and by[BOB]["initiation_share"] == 1.0
    assert by[ANA]["n_unanswered"] == 0


def test_intimacy_and_decay_of_a_group_meeting() -> None:
    ties = ties_of(
        [
            {
                "ego_id": EGO,
                "alter_id": ANA,
                "occurred_at": days_ago(45),
                "channel": "meeting",
                "actor": "both",
                "direction": "mutual",
                "group_size": 4,
                "minutes": 60.0,
                "shared_minutes": 15.0,
            }
        ]
    )
    t = ties.row(0, named=True)
    # meeting 2.0 * 4^-0.5 = 1.0, decayed 2^(-45/90) = 0.70711
    assert t["volume"] == pytest.approx(2**-0.5)
    assert t["volume_meeting"] == pytest.approx(2**-0.5)
    assert (t["minutes"], t["shared_minutes"]) == (60.0, 15.0)
    # strength at last contact: the volume 45 days ago, undecayed = 1.0
    assert t["strength_at_last_contact"] == pytest.approx(1 - math.exp(-1.0 * 0.6 / 15))


def test_usual_gap_is_the_median_of_gaps_between_distinct_contact_days() -> None:
    # contact days 100, 90, 90 (twice on one day), 80, 50, 0 days ago: gaps 10, 10, 30, 50 -> median 20
    rows = [
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(d), "channel": "email"} for d in (100, 90, 80, 50, 0)
    ]
    rows.append(
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(90) + dt.timedelta(hours=2), "channel": "email"}
    )
    t = ties_of(rows).row(0, named=True)
    assert t["n_contact_days"] == 5
    assert t["usual_gap_days"] == 20.0
    assert t["expected_next_contact"] == AS_OF + dt.timedelta(days=20)
    # the long gap: the 90th percentile of 10, 10, 30, 50 (linear) = 30 + 0.7 x 20 = 44
    assert t["long_gap_days"] == pytest.approx(44.0)
    # neglect after max(cadence 0, 2 x 44, floor 30) = 88 days
    assert t["neglect_after_days"] == pytest.approx(88.0)
    assert t["due_date"] == (AS_OF + dt.timedelta(days=88)).date()


def test_tie_classes() -> None:
    rows = [
        # dormant: last contact 200 days ago (> 180)
        {"ego_id": EGO, "alter_id": "old@x.com", "occurred_at": days_ago(200), "channel": "meeting", "actor": "both"},
        # new: first contact 10 days ago
        {"ego_id": EGO, "alter_id": "fresh@x.com", "occurred_at": days_ago(10), "channel": "email"},
        # weak: one email 60 days ago
        {"ego_id": EGO, "alter_id": "weak@x.com", "occurred_at": days_ago(60), "channel": "email"},
    ]
    # strong: weekly calls for two years -> strength near 1
    rows += [
        {
            "ego_id": EGO,
            "alter_id": "close@x.com",
            "occurred_at": days_ago(7 * k + 1),
            "channel": "call",
            "actor": "both",
        }
        for k in range(104)
    ]
    ties = ties_of(rows)
    assert dict(zip(ties["alter_id"], ties["tie_class"], strict=True)) == {
        "close@x.com": "strong",
        "fresh@x.com": "new",
        "old@x.com": "dormant",
        "weak@x.com": "weak",
    }


def test_trend_compares_the_last_90_days_with_the_90_before() -> None:
    rows = [{"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(d), "channel": "email"} for d in (10, 20, 30, 100)]
    t = ties_of(rows).row(0, named=True)
    # recent 3, previous 1 (undecayed weights): (3 - 1) / (3 + 1) = 0.5
    assert (t["volume_90d"], t["volume_prev_90d"]) == (3.0, 1.0)
    assert t["trend_90d"] == pytest.approx(0.5)


def test_only_interactions_up_to_as_of_count() -> None:
    rows = [
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(5), "channel": "email"},
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(-5), "channel": "call", "actor": "both"},
        {"ego_id": EGO, "alter_id": BOB, "occurred_at": days_ago(-1), "channel": "email"},
    ]
    ties = ties_of(rows)
    assert ties.select("alter_id", "n_interactions", "last_channel").rows() == [(ANA, 1, "email")]


def test_a_date_as_of_means_the_end_of_that_day() -> None:
    rows = [{"ego_id": EGO, "alter_id": ANA, "occurred_at": b.at("2026-03-31", 23), "channel": "email"}]
    ties = compute_ties(b.interactions(rows), PERSONS, NO_CONTACTS, dt.date(2026, 3, 31))
    assert ties.select("as_of", "days_since").row(0) == (dt.date(2026, 3, 31), 0)


def test_contacts_bring_bucket_cadence_and_overdue() -> None:
    rows = [
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(50), "channel": "email", "actor": "alter"},
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(45), "channel": "email"},
    ]
    contacts = b.contacts([{"ego_id": EGO, "person_id": ANA, "bucket": "clients", "cadence_days": 14}])
    t = ties_of(rows, contacts).row(0, named=True)
    assert (t["bucket"], t["cadence_days"]) == ("clients", 14)
    # a planned cadence is watched whatever the strength: max(14, 2 x 5, 30) = 30 < 45 days silent
    assert t["is_watched"] and t["is_overdue"]
    assert t["overdue_ratio"] == pytest.approx(45 / 30)
    without = ties_of(rows).row(0, named=True)
    assert not without["is_watched"] and not without["is_overdue"]  # weak and only two contact days
    # someone who never answered is not a tie to neglect, planned or not (that is a one-sided tie)
    unanswered = ties_of([{**r, "actor": "ego"} for r in rows], contacts).row(0, named=True)
    assert not unanswered["is_watched"] and not unanswered["is_overdue"]


def test_n_unanswered_counts_only_outreach_after_the_last_inbound_within_the_window() -> None:
    rows = [
        {"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(d), "channel": "email"} for d in (300, 200, 30, 20)
    ] + [{"ego_id": EGO, "alter_id": ANA, "occurred_at": days_ago(250), "channel": "email", "actor": "alter"}]
    t = ties_of(rows).row(0, named=True)
    # after ana's mail 250 days ago ego wrote 200, 30 and 20 days ago; only 30 and 20 fall in 180 days
    assert t["n_unanswered"] == 2
