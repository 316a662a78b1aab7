"""Plain-language reading of one ego's health row: strengths, weaknesses and the three most useful next
actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipelines.analytics.common import Frame, lazy
from pipelines.analytics.params import SUB_SCORES, AnalyticsParams

STRONG_SCORE = 0.7
"""A sub-score at or above this is named a strength."""
WEAK_SCORE = 0.4
"""A sub-score below this is named a weakness."""


@dataclass(frozen=True)
class Narrative:
    ego_id: str
    health_score: float
    strengths: list[str] = field(default_factory=list)
    weaknesses: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"Network health for {self.ego_id}: {self.health_score:.0f}/100", ""]
        for title, items in (("Strengths", self.strengths), ("Weaknesses", self.weaknesses)):
            lines.append(f"{title}:")
            lines.extend(f"  - {item}" for item in items or ["nothing stands out"])
        lines.append("Next actions:")
        lines.extend(f"  {n}. {item}" for n, item in enumerate(self.actions, start=1))
        return "\n".join(lines)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def _strength_text(name: str, h: Mapping[str, Any]) -> str:
    texts = {
        "engagement": f"{h['n_strong']} strong ties: a solid core of people you are close to.",
        "breadth": f"{h['network_size_90d']} people in two-way contact over the last 90 days.",
        "diversity": (
            f"A diverse network: {h['n_departments_reached']} departments and "
            f"{h['n_external_domains']} outside organisations among your active ties."
        ),
        "brokerage": "Your contacts mostly do not know each other: you bridge separate groups.",
        "reciprocity": f"Balanced give and take: {_pct(h['reciprocal_share'])} of active ties are two-way.",
        "maintenance": "You keep up with the people who matter: few important ties are overdue.",
        "real_world": f"{_pct(h['real_world_share'])} of your contact is in person or by phone.",
        "stability": "You add new contacts at a pace you can sustain.",
    }
    return texts[name]


def _weakness_text(name: str, h: Mapping[str, Any]) -> str:
    texts = {
        "engagement": f"Only {h['n_strong']} strong ties: few people you are in close, regular touch with.",
        "breadth": f"A small active network: {h['network_size_90d']} two-way contacts in 90 days.",
        "diversity": "Your active ties come from few places; new ideas travel through diverse contacts.",
        "brokerage": "Your contacts all know each other: you hear the same things from everyone.",
        "reciprocity": (
            f"Lopsided exchanges: {_pct(h['reciprocal_share'])} of active ties are two-way and you start "
            f"{_pct(h['initiation_share'])} of the conversations."
        ),
        "maintenance": f"{h['n_overdue']} of {h['n_watched']} important ties are overdue for contact.",
        "real_world": f"Little real-world contact: {_pct(h['real_world_share'])} in person or by phone.",
        "stability": f"{h['new_ties_30d']} new two-way contacts in 30 days leave little room for depth.",
    }
    return texts[name]


def _action_text(name: str, h: Mapping[str, Any], reconnect: str | None) -> str:
    texts = {
        "engagement": "Pick two weak ties you value and book a 30-minute call with each this month.",
        "breadth": "Join one cross-team project or event this month; follow up with two people you meet.",
        "diversity": (
            f"Reconnect with {reconnect}: dormant ties from other groups bring the most new information."
            if reconnect
            else "Reach out to one person outside your team or company each week."
        ),
        "brokerage": "Join a group none of your contacts belongs to (another team, a community).",
        "reciprocity": "Give before asking: answer open threads and share one useful thing with a contact.",
        "maintenance": "Work through the overdue list: a two-line note restarts most ties.",
        "real_world": "Turn one email thread into a call or a coffee this week.",
        "stability": "Pause new introductions for a week; spend the time on existing ties.",
    }
    return texts[name]


def _reconnect_candidate(ties: Frame, ego_id: str) -> str | None:
    """The dormant tie with the highest past strength, preferring people outside the ego's organisation."""
    best = (
        lazy(ties)
        .filter((pl.col("ego_id") == ego_id) & (pl.col("tie_class") == "dormant"))
        .sort(
            [pl.col("alter_is_internal").fill_null(False), pl.col("strength_at_last_contact")],
            descending=[False, True],
        )
        .select(pl.coalesce("alter_name", "alter_id"))
        .head(1)
        .collect()
    )
    return None if best.is_empty() else str(best.item())


def describe_network(
    health_row: Mapping[str, Any] | pl.DataFrame,
    ties: Frame,
    alerts: Frame,
    params: AnalyticsParams | None = None,
) -> Narrative:
    """Strengths (sub-scores >= 0.7), weaknesses (< 0.4) and up to three next actions.

    Actions: the two highest-priority open tie alerts, then the fix for the sub-score whose shortfall costs
    the most points (weight x (1 - score)), then further alerts or sub-scores until there are three.
    """
    params = params or AnalyticsParams()
    h = health_row.row(0, named=True) if isinstance(health_row, pl.DataFrame) else dict(health_row)
    ego = str(h["ego_id"])
    scores = {name: float(h[f"score_{name}"] or 0.0) for name in SUB_SCORES}
    strengths = [_strength_text(n, h) for n in SUB_SCORES if scores[n] >= STRONG_SCORE]
    weaknesses = [_weakness_text(n, h) for n in SUB_SCORES if scores[n] < WEAK_SCORE]

    open_alerts = (
        lazy(alerts)
        .filter((pl.col("ego_id") == ego) & (pl.col("status") == "open"))
        .sort(["priority", "alert_id"], descending=[True, False])
        .select("kind", "suggested_action")
        .collect()
    )
    tie_actions = [row[1] for row in open_alerts.iter_rows() if row[0] in ("neglected_tie", "one_sided_tie")]
    network_actions = [row[1] for row in open_alerts.iter_rows() if row[0] not in ("neglected_tie", "one_sided_tie")]
    shortfalls = sorted(
        (n for n in SUB_SCORES if scores[n] < 1.0),
        key=lambda n: (-params.health_weights[n] * (1.0 - scores[n]), n),
    )
    reconnect = _reconnect_candidate(ties, ego) if "diversity" in shortfalls[:2] else None
    score_actions = [_action_text(n, h, reconnect) for n in shortfalls]

    ordered = tie_actions[:2] + network_actions[:1] + score_actions[:1] + tie_actions[2:] + score_actions[1:]
    actions: list[str] = []
    for action in ordered:
        if action not in actions:
            actions.append(action)
        if len(actions) == 3:
            break
    return Narrative(
        ego_id=ego,
        health_score=float(h["health_score"] or 0.0),
        strengths=strengths,
        weaknesses=weaknesses,
        actions=actions,
    )
