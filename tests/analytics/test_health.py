"""Diversity and network health on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest

from tests.analytics import builders as b
from tiepulse.core.params import SUB_SCORES, AnalyticsParams
from tiepulse.pipelines.analytics.diversity import compute_diversity
from tiepulse.pipelines.analytics.health import HEALTH_COLUMNS, compute_network_health
from tiepulse.pipelines.analytics.ties import compute_ties

EGO = "ego@acme.com"
AS_OF = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def days_ago(n: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=n)


def test_diversity_indices() -> None:
    ties = pl.DataFrame(
        {
            "ego_id": [EGO] * 5,
            "alter_team": ["a", "a", "b", None, None],
            "alter_department": ["x", "x", "y", None, None],
            "alter_domain": ["acme.com", "acme.com", "acme.com", "o.org", "p.org"],
            "alter_is_internal": [True, True, True, False, False],
        }
    )
    d = compute_diversity(ties).row(0, named=True)
    # teams a, a, b: p = 2/3, 1/3
    assert d["team_entropy"] == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))
    assert d["team_blau"] == pytest.approx(1 - (4 / 9 + 1 / 9))
    # external domains o.org, p.org: Blau 1/2, entropy ln 2
    assert d["domain_blau"] == pytest.approx(0.5)
    assert d["domain_entropy"] == pytest.approx(math.log(2))
    # communities org:x, org:x, org:y, ext:o.org, ext:p.org: p = 2/5, 1/5, 1/5, 1/5 -> Blau 1 - 7/25
    assert d["community_blau"] == pytest.approx(1 - 7 / 25)
    assert (d["n_teams_reached"], d["n_departments_reached"], d["n_external_domains"]) == (2, 2, 2)
    assert d["external_share"] == pytest.approx(0.4)


def row(alter: str, days: float, channel: str = "email", actor: str = "ego", **extra: Any) -> dict[str, Any]:
    return {
        "ego_id": EGO,
        "alter_id": alter,
        "occurred_at": days_ago(days),
        "channel": channel,
        "actor": actor,
        **extra,
    }


PERSONS = b.persons(
    [
        {"person_id": EGO, "team": "core", "department": "eng"},
        {"person_id": "ana@acme.com", "team": "core", "department": "eng"},
        {"person_id": "bob@acme.com", "team": "ops", "department": "eng"},
        {"person_id": "cy@other.org", "is_internal": False},
        {"person_id": "dee@acme.com", "team": "core", "department": "eng"},
    ]
)


def health_of(
    rows: list[dict[str, Any]],
    contacts: pl.DataFrame | None = None,
    params: AnalyticsParams | None = None,
    alter_edges: pl.DataFrame | None = None,
) -> dict[str, Any]:
    params = params or AnalyticsParams()
    inter = b.interactions(rows)
    contacts = contacts if contacts is not None else b.contacts([])
    ties = compute_ties(inter, PERSONS, contacts, AS_OF, params)
    health = compute_network_health(ties, inter, PERSONS, contacts, AS_OF, params, alter_edges)
    assert health.columns == HEALTH_COLUMNS
    return health.row(0, named=True)


ROWS = [
    # ana: reciprocal within 28 days (ego mail 3 days ago, ana's answer 2 days ago), same team
    row("ana@acme.com", 3, direction="ego_initiated"),
    row("ana@acme.com", 2, actor="alter", direction="ego_initiated", is_response=True),
    # bob: one meeting 20 days ago in a room (two-way, real world), other team
    row("bob@acme.com", 20, "meeting", "both", direction="mutual", is_in_person=True),
    # cy: two unanswered emails 50 and 40 days ago (external, not reciprocal)
    row("cy@other.org", 50, direction="ego_initiated"),
    row("cy@other.org", 40, direction="ego_initiated", is_after_hours=True),
    # dee: a call 60 days ago (two-way, only in the 90-day window), same team
    row("dee@acme.com", 60, "call", "both", direction="mutual"),
]


def test_sizes_shares_and_reciprocity() -> None:
    h = health_of(ROWS)
    assert (h["network_size"], h["network_size_internal"], h["network_size_external"]) == (2, 2, 0)  # ana, bob
    assert h["network_size_90d"] == 3  # + dee; cy never answered
    assert h["n_active_ties"] == 4
    assert h["reciprocal_share"] == pytest.approx(3 / 4)
    # directed interactions: ego_initiated 4 (ana x2, cy x2), none alter_initiated
    assert h["initiation_share"] == 1.0 and h["initiation_balance"] == 0.0
    # emails: sent 3 (ana 1, cy 2), received 1: 1 - |3 - 1| / 4 = 0.5
    assert h["email_reciprocity"] == pytest.approx(0.5)
    # 6 interactions: 4 email, 1 meeting, 1 call; real world = meeting in a room + call = 2/6
    assert (h["share_email"], h["share_meeting"], h["share_call"]) == pytest.approx((4 / 6, 1 / 6, 1 / 6))
    assert h["real_world_share"] == pytest.approx(2 / 6)
    assert h["after_hours_share"] == pytest.approx(1 / 6)
    # ana and bob are new (first contact <= 30 days ago) and became two-way; cy's stream never did
    assert h["n_new"] == 2 and h["new_ties_30d"] == 2


def test_concentration_top5_and_gini() -> None:
    # four one-to-one emails today with volumes 1, 1, 1 and 2 x 1 (two emails to ana)
    rows = [
        row("ana@acme.com", 0),
        row("ana@acme.com", 0),
        row("bob@acme.com", 0),
        row("cy@other.org", 0),
        row("dee@acme.com", 0),
    ]
    h = health_of(rows)
    # one-way volumes: ana 2, others 1 each (decayed volume, today: undecayed); top 5 holds all -> 1
    assert h["top5_share"] == pytest.approx(1.0)
    # sorted 1, 1, 1, 2 (sum 5, n 4): G = 2 (1 + 2 + 3 + 8) / (4 * 5) - 5/4 = 28/20 - 1.25 = 0.15
    assert h["gini"] == pytest.approx(0.15)


@pytest.mark.parametrize(("days", "n_alters"), [(3.46, 4), (9.01, 4), (21.22, 4), (10.49, 5), (25.29, 5)])
def test_equal_volumes_keep_gini_and_top5_inside_unit_interval(days: float, n_alters: int) -> None:
    # one group mail: equal decayed volumes, so G = 0 and the top 5 hold everything. Summed in another order,
    # these ages gave G = -2e-16 (4 alters) and a top-5 share of 1.0000000000000002 (5), which the range check
    # on the published table rejects.
    alters = ["ana@acme.com", "bob@acme.com", "cy@other.org", "dee@acme.com", "eve@acme.com"][:n_alters]
    h = health_of([row(a, days) for a in alters])
    assert 0.0 <= h["gini"] <= 1e-12
    assert h["top5_share"] == pytest.approx(1.0) and h["top5_share"] <= 1.0


def test_own_team_share_now_and_before() -> None:
    rows = [
        row("ana@acme.com", 10),  # own team, now: weight 1
        row("bob@acme.com", 20, "meeting", "both"),  # other team, now: weight 2
        row("dee@acme.com", 100),  # own team, previous window: weight 1
        row("cy@other.org", 120),  # external, previous window: weight 1
    ]
    h = health_of(rows)
    assert h["own_team_share"] == pytest.approx(1 / 3)
    assert h["own_team_share_prev"] == pytest.approx(1 / 2)


def test_the_share_before_is_the_highest_of_the_two_windows_before() -> None:
    # a narrowing is measured against the ego's usual range, not one window that a big cross-team meeting moved
    rows = [
        row("ana@acme.com", 10),  # own team, now
        row("dee@acme.com", 100),  # own team, the window before: 1/2
        row("cy@other.org", 120),
        row("ana@acme.com", 200),  # own team, the window before that: 1
        row("cy@other.org", 300),  # beyond both windows: not counted
    ]
    h = health_of(rows)
    assert h["own_team_share"] == pytest.approx(1.0)
    assert h["own_team_share_prev"] == pytest.approx(1.0)


def test_outside_left_leaves_the_largest_outside_tie_of_the_baseline_out() -> None:
    # the window before: a heavy cross-team tie (bob, weight 6), a client (cy, 2) and the own team (ana, 2)
    before = [row("bob@acme.com", 100 + k, "meeting", "both") for k in range(3)]
    before += [row("cy@other.org", 110 + k) for k in range(2)] + [row("ana@acme.com", 120 + k) for k in range(2)]
    # now bob is silent, the client goes on at half the pace, the team as before
    now = [row("cy@other.org", 10)] + [row("ana@acme.com", 20 + k) for k in range(3)]
    h = health_of(before + now)
    assert (h["own_team_share"], h["own_team_share_prev"]) == (pytest.approx(3 / 4), pytest.approx(2 / 10))
    # without bob: 2/4 before, 3/4 now; the outside share kept is 1/4 of 1/2
    assert h["outside_left_without_top_tie"] == pytest.approx(0.5)
    # the client falls silent too: outside contact stopped across ties
    gone = health_of([*before, *(r for r in now if r["alter_id"] != "cy@other.org")])
    assert gone["outside_left_without_top_tie"] == pytest.approx(0.0)
    # only one outside tie ever: nothing is left to measure without it
    single = health_of([r for r in before + now if r["alter_id"] != "cy@other.org"])
    assert single["outside_left_without_top_tie"] is None


def test_bucket_allocation_from_cadence_and_from_a_plan() -> None:
    contacts = b.contacts(
        [
            {"ego_id": EGO, "person_id": "ana@acme.com", "bucket": "colleagues", "cadence_days": 7},
            {"ego_id": EGO, "person_id": "cy@other.org", "bucket": "clients", "cadence_days": 14},
            {"ego_id": EGO, "person_id": "dee@acme.com", "bucket": "clients", "cadence_days": 14},
        ]
    )
    rows = [row("ana@acme.com", 5), row("cy@other.org", 5), row("cy@other.org", 6), row("dee@acme.com", 7)]
    h = health_of(rows, contacts)
    # planned per day: colleagues 1/7, clients 2/14 = 1/7 -> 0.5 each; actual volume: colleagues 1, clients 3
    alloc = {x["bucket"]: (x["planned_share"], x["actual_share"]) for x in h["bucket_allocation"]}
    assert alloc == {"clients": pytest.approx((0.5, 0.75)), "colleagues": pytest.approx((0.5, 0.25))}
    assert h["bucket_gap"] == pytest.approx(0.25)  # (|0.5 - 0.75| + |0.5 - 0.25|) / 2
    planned = health_of(rows, contacts, AnalyticsParams(bucket_plan={"clients": 1, "friends": 3}))
    alloc = {x["bucket"]: (x["planned_share"], x["actual_share"]) for x in planned["bucket_allocation"]}
    assert alloc == {"clients": pytest.approx((0.25, 1.0)), "friends": pytest.approx((0.75, 0.0))}
    assert planned["bucket_gap"] == pytest.approx(0.75)


def test_score_is_the_weighted_sum_of_its_sub_scores() -> None:
    edges = pl.DataFrame({"ego_id": [EGO], "alter_a": ["ana@acme.com"], "alter_b": ["bob@acme.com"], "weight": [1.0]})
    h = health_of(ROWS, alter_edges=edges)
    params = AnalyticsParams()
    assert h["score_engagement"] == 0.0  # no strong ties
    assert h["score_breadth"] == pytest.approx(3 / 50)
    assert h["score_diversity"] == pytest.approx(min(1.0, h["community_blau"] / 0.8))
    assert h["score_brokerage"] == pytest.approx(1 - h["burt_constraint"])
    assert h["score_reciprocity"] == pytest.approx(0.5 * 0.75 + 0.5 * 0.0)
    assert h["score_maintenance"] is None  # nothing watched: not measured, and no free points for it
    assert h["score_real_world"] == pytest.approx(min(1.0, (2 / 6) / 0.2))
    assert h["score_stability"] == 1.0
    measured = [k for k in params.health_weights if k != "maintenance"]
    assert h["measured_parts"] == measured
    # the weights are renormalised over the measured sub-scores
    weight = sum(params.health_weights[k] for k in measured)
    expected = 100 * sum(params.health_weights[k] * h[f"score_{k}"] for k in measured) / weight
    assert h["health_score"] == pytest.approx(round(expected, 1))
    # communities: org:eng (ana, bob, dee) and ext:other.org (cy): Blau = 1 - (9 + 1) / 16
    assert h["community_blau"] == pytest.approx(1 - 10 / 16)


def test_new_ties_count_only_those_the_ego_put_effort_into() -> None:
    # three strangers wrote to ego this week; ego answered one and met another
    rows = [row(f"s{i}@other.org", 3, actor="alter") for i in range(3)]
    rows += [row("s0@other.org", 2), row("s1@other.org", 1, "meeting", "both")]
    h = health_of(rows)
    assert h["n_new"] == 3 and h["new_ties_30d"] == 2


def test_overload_lowers_stability() -> None:
    rows = [row(f"p{i}@acme.com", 1, "call", "both") for i in range(25)]
    h = health_of(rows)
    assert h["new_ties_30d"] == 25
    assert h["score_stability"] == pytest.approx(20 / 25)


def test_email_reciprocity_when_the_ego_receives_more_than_it_sends() -> None:
    # received 5, sent 2: 1 - |2 - 5| / 7 = 4/7 (counts are signed: 2 - 5 must not wrap around)
    rows = [row("ana@acme.com", d, actor="alter", direction="alter_initiated") for d in (1, 2, 3, 4)]
    rows += [row("cy@other.org", 5, actor="alter", direction="alter_initiated")]
    rows += [row("ana@acme.com", 6), row("bob@acme.com", 7)]
    h = health_of(rows)
    assert h["email_reciprocity"] == pytest.approx(4 / 7)
    only_received = health_of([row("ana@acme.com", 1, actor="alter", direction="alter_initiated")])
    assert only_received["email_reciprocity"] == 0.0


def test_an_ego_without_contact_in_the_window_is_not_scored() -> None:
    # ties exist, but the last contact was 120 days ago (activity window: 90 days)
    h = health_of([row("ana@acme.com", 120), row("ana@acme.com", 121, actor="alter")])
    assert h["n_ties"] == 1 and h["n_active_ties"] == 0 and h["is_active"] is False
    assert h["health_score"] is None
    assert all(h[f"score_{s}"] is None for s in SUB_SCORES)
    active = health_of([row("ana@acme.com", 10), row("ana@acme.com", 9, actor="alter")])
    assert active["is_active"] is True and active["health_score"] is not None


def test_reciprocity_without_directed_contacts_is_the_two_way_share() -> None:
    # only meetings (mutual): nobody initiated anything, so the balance is unknown, not zero
    h = health_of([row("ana@acme.com", 5, "meeting", "both", direction="mutual")])
    assert h["initiation_share"] is None and h["initiation_balance"] is None
    assert h["score_reciprocity"] == pytest.approx(h["reciprocal_share"]) == pytest.approx(1.0)


def test_one_group_has_zero_entropy_not_minus_zero() -> None:
    ties = pl.DataFrame(
        {"ego_id": [EGO], "alter_team": ["a"], "alter_department": ["x"], "alter_domain": ["acme.com"]},
    ).with_columns(alter_is_internal=pl.lit(True))
    d = compute_diversity(ties).row(0, named=True)
    assert str(d["team_entropy"]) == "0.0"
