"""narrative.describe_network: strengths, weaknesses and three actions from one health row."""

from __future__ import annotations

import polars as pl

from tiepulse.core.params import SUB_SCORES
from tiepulse.pipelines.analytics.narrative import SENT_ONLY, describe_network


def health(**scores: float) -> dict[str, object]:
    row: dict[str, object] = {
        "ego_id": "me@acme.com",
        "health_score": 55.0,
        "n_strong": 2,
        "n_weak": 5,
        "n_active_ties": 30,
        "burt_constraint": 0.3,
        "network_size_90d": 40,
        "n_departments_reached": 1,
        "n_external_domains": 0,
        "reciprocal_share": 0.9,
        "initiation_share": 0.5,
        "n_overdue": 3,
        "n_watched": 10,
        "real_world_share": 0.3,
        "new_ties_30d": 2,
    }
    row.update({f"score_{s}": 0.5 for s in SUB_SCORES})
    row.update({f"score_{k}": v for k, v in scores.items()})
    return row


TIES = pl.DataFrame(
    {
        "ego_id": ["me@acme.com", "me@acme.com"],
        "alter_id": ["old@acme.com", "far@other.org"],
        "alter_name": [None, "Far Friend"],
        "tie_class": ["dormant", "dormant"],
        "strength_at_last_contact": [0.9, 0.6],
        "alter_is_internal": [True, False],
    }
)
ALERTS = pl.DataFrame(
    {
        "alert_id": ["a1", "a2", "a3"],
        "ego_id": ["me@acme.com"] * 3,
        "kind": ["neglected_tie", "neglected_tie", "one_sided_tie"],
        "status": ["open", "snoozed", "open"],
        "priority": [70.0, 90.0, 50.0],
        "suggested_action": ["Ana: Suggest a call.", "Snoozed one", "Zed: pause the outreach."],
    }
)


def test_strengths_weaknesses_and_actions() -> None:
    n = describe_network(health(real_world=1.0, reciprocity=0.9, diversity=0.0, engagement=0.1), TIES, ALERTS)
    assert n.strengths == [
        "Balanced give and take: 90% of active ties are two-way.",
        "30% of your contact is in person or by phone.",
    ]
    assert n.weaknesses[0] == "Only 2 strong ties: few people you are in close, regular touch with."
    assert len(n.weaknesses) == 2
    # two open tie alerts by priority (the snoozed one never appears), then the costliest shortfall:
    # engagement 0.20 x 0.9 = 0.18 beats diversity 0.15 x 1.0 = 0.15
    assert n.actions == [
        "Ana: Suggest a call.",
        "Zed: pause the outreach.",
        "Pick two weak ties you value and book a 30-minute call with each this month.",
    ]
    assert "Next actions:" in n.render() and "55/100" in n.render()


def test_diversity_action_names_a_dormant_tie_from_elsewhere() -> None:
    n = describe_network(health(diversity=0.0), TIES, ALERTS.filter(pl.col("kind") == "none"))
    assert n.actions[0].startswith("Reconnect with Far Friend")
    assert len(n.actions) == 3


def test_lines_follow_the_data_when_it_is_thin() -> None:
    """No "Only 0 strong ties", no "n/a", no closure claim without a constraint, no weak ties to pick."""
    thin = health(engagement=0.0, reciprocity=0.0, brokerage=0.0)
    thin.update(n_strong=0, n_weak=0, initiation_share=None, burt_constraint=None, reciprocal_share=0.0)
    n = describe_network(thin, TIES.clear(), ALERTS.clear())
    assert "No strong ties yet: nobody you are in close, regular touch with." in n.weaknesses
    assert "Lopsided exchanges: 0% of active ties are two-way." in n.weaknesses
    assert not [w for w in n.weaknesses if "know each other" in w]
    text = n.render()
    assert "n/a" not in text and "Only 0" not in text and "weak ties you value" not in text
    assert n.actions[0] == "Pick two people you want to know better and book a 30-minute call with each this month."
    # a constraint from two contacts is no sign of closure
    few = {**thin, "burt_constraint": 1.0, "n_active_ties": 2}
    weaknesses = describe_network(few, TIES, ALERTS).weaknesses
    assert "Only 2 active contacts: too few to bridge separate groups." in weaknesses


def test_maintenance_is_no_strength_when_nothing_is_watched() -> None:
    idle = {**health(maintenance=1.0), "n_watched": 0, "n_overdue": 0}
    assert not [s for s in describe_network(idle, TIES, ALERTS).strengths if "keep up" in s]
    watched = describe_network(health(maintenance=1.0), TIES, ALERTS).strengths
    assert "You keep up with the people who matter: 3 of 10 important ties overdue." in watched


def test_an_inactive_ego_gets_one_honest_line() -> None:
    inactive = {**health(), "health_score": None, **{f"score_{s}": None for s in SUB_SCORES}}
    n = describe_network(inactive, TIES, ALERTS)
    assert n.health_score is None and not (n.strengths or n.weaknesses or n.actions)
    assert n.render() == "Network health for me@acme.com: not scored, no contact in the last 90 days."


def test_wrapped_items_hang_under_their_text() -> None:
    n = describe_network(health(diversity=0.0), TIES, ALERTS)
    lines = n.render(width=40).splitlines()
    assert all(len(line) <= 40 for line in lines)
    first = next(i for i, line in enumerate(lines) if line.startswith("  3. "))  # the long reconnect action
    assert lines[first + 1].startswith("     ") and lines[first + 1].strip()


def test_a_sent_folder_alone_is_not_read_as_one_sided_networking() -> None:
    """Without inbound mail, no two-way contact can be seen: say so instead of blaming the ego."""
    row = health(engagement=0.0, breadth=0.0, reciprocity=0.1, real_world=0.0)
    seen = describe_network(row, TIES.clear(), ALERTS.clear())
    blind = describe_network(row, TIES.clear(), ALERTS.clear(), inbound_observed=False)
    assert len(seen.weaknesses) == 4
    assert blind.weaknesses == [SENT_ONLY, "Little real-world contact: 30% in person or by phone."]
    assert "Pick two weak ties you value and book a 30-minute call with each this month." not in blind.actions
    assert len(blind.actions) == 3
