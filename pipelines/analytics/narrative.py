"""Plain-language reading of one ego's health row: strengths, weaknesses and the three most useful next
actions."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tiepulse.core.params import SUB_SCORES, AnalyticsParams
from tiepulse.pipelines.analytics.common import Frame, lazy

STRONG_SCORE = 0.7
"""A sub-score at or above this is named a strength."""
WEAK_SCORE = 0.4
"""A sub-score below this is named a weakness."""


@dataclass(frozen=True)
class Narrative:
    ego_id: str
    health_score: float | None
    """None for an inactive ego (no contact in the activity window), or when too little was measured."""
    strengths: list[str] = field(default_factory=list)
    weaknesses: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    activity_window_days: int = 90
    measured: bool = True
    """False when nothing was measured (an inactive ego): the text says so in one line."""

    def render(self, width: int = 88) -> str:
        """Plain text wrapped at ``width``, each item's continuation lines indented under its first word."""
        if not self.measured:
            return textwrap.fill(
                f"Network health for {self.ego_id}: not scored, no contact in the last "
                f"{self.activity_window_days} days.",
                width,
            )
        score = "too little measured for a score" if self.health_score is None else f"{self.health_score:.0f}/100"
        lines = [f"Network health for {self.ego_id}: {score}", ""]
        for title, items in (("Strengths", self.strengths), ("Weaknesses", self.weaknesses)):
            lines.append(f"{title}:")
            lines.extend(_item("  - ", item, width) for item in items or ["nothing stands out"])
        lines.append("Next actions:")
        lines.extend(_item(f"  {n}. ", item, width) for n, item in enumerate(self.actions, start=1))
        return "\n".join(lines)


def _item(marker: str, text: str, width: int) -> str:
    return textwrap.fill(text, width, initial_indent=marker, subsequent_indent=" " * len(marker))


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def _count(n: Any, noun: str, plural: str | None = None) -> str:
    """'1 strong tie', '3 strong ties'."""
    value = int(n or 0)
    return f"{value} {noun if value == 1 else plural or noun + 's'}"


def _strength_text(name: str, h: Mapping[str, Any]) -> str | None:
    """What a high sub-score says, or None where the data gives it nothing to say."""
    if name == "engagement":
        return f"{_count(h['n_strong'], 'strong tie')}: a solid core of people you are close to."
    if name == "breadth":
        return f"{_count(h['network_size_90d'], 'person', 'people')} in two-way contact over the last 90 days."
    if name == "diversity":
        places = [
            _count(h[column], noun)
            for column, noun in (
                ("n_departments_reached", "department"),
                ("n_external_domains", "outside organisation"),
            )
            if h[column]
        ]
        return f"A diverse network: {' and '.join(places) or 'people from many groups'} among your active ties."
    if name == "brokerage":
        return "Your contacts mostly do not know each other: you bridge separate groups."
    if name == "reciprocity":
        return f"Balanced give and take: {_pct(h['reciprocal_share'])} of active ties are two-way."
    if name == "maintenance":
        if not h["n_watched"]:
            return None  # nothing to keep up with yet
        return f"You keep up with the people who matter: {h['n_overdue']} of {h['n_watched']} important ties overdue."
    if name == "real_world":
        return f"{_pct(h['real_world_share'])} of your contact is in person or by phone."
    return "You add new contacts at a pace you can sustain."


def _weakness_text(name: str, h: Mapping[str, Any]) -> str | None:
    """What a low sub-score says, or None where the data gives it nothing to say."""
    if name == "engagement":
        if not h["n_strong"]:
            return "No strong ties yet: nobody you are in close, regular touch with."
        return f"Only {_count(h['n_strong'], 'strong tie')}: few people you are in close, regular touch with."
    if name == "breadth":
        return f"A small active network: {_count(h['network_size_90d'], 'two-way contact')} in 90 days."
    if name == "diversity":
        return "Your active ties come from few places; new ideas travel through diverse contacts."
    if name == "brokerage":
        if h["burt_constraint"] is None:
            return None
        if (h["n_active_ties"] or 0) < 3:
            return f"Only {_count(h['n_active_ties'], 'active contact')}: too few to bridge separate groups."
        return "Your contacts mostly know each other: you hear the same things from everyone."
    if name == "reciprocity":
        started = (
            f" and you start {_pct(h['initiation_share'])} of the conversations"
            if h["initiation_share"] is not None
            else ""
        )
        return f"Lopsided exchanges: {_pct(h['reciprocal_share'])} of active ties are two-way{started}."
    if name == "maintenance":
        return f"{h['n_overdue']} of {h['n_watched']} important ties are overdue for contact."
    if name == "real_world":
        return f"Little real-world contact: {_pct(h['real_world_share'])} in person or by phone."
    return f"{h['new_ties_30d']} people reached for the first time in 30 days leave little room for depth."


def _action_text(name: str, h: Mapping[str, Any], reconnect: str | None) -> str:
    if name == "engagement":
        weak = int(h["n_weak"] or 0)
        if weak >= 2:
            return "Pick two weak ties you value and book a 30-minute call with each this month."
        if weak == 1:
            return "Book a 30-minute call with your one weak tie this month: regular contact makes ties strong."
        return "Pick two people you want to know better and book a 30-minute call with each this month."
    if name == "diversity":
        if reconnect:
            return f"Reconnect with {reconnect}: dormant ties from other groups bring the most new information."
        return "Reach out to one person outside your team or company each week."
    texts = {
        "breadth": "Join one cross-team project or event this month; follow up with two people you meet.",
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


SENT_ONLY = (
    "Only mail you sent is visible here (no inbox imported), so two-way contact, strong ties and reciprocity "
    "are undercounted; import your inbox for a fair reading."
)
_NEED_INBOUND = ("engagement", "breadth", "reciprocity")
"""Sub-scores that rest on seeing the other side's mail: not read as weaknesses when it is not observed."""


def describe_network(
    health_row: Mapping[str, Any] | pl.DataFrame,
    ties: Frame,
    alerts: Frame,
    params: AnalyticsParams | None = None,
    inbound_observed: bool = True,
) -> Narrative:
    """Strengths (sub-scores >= 0.7), weaknesses (< 0.4) and up to three next actions.

    Actions: the two highest-priority open tie alerts, then the fix for the sub-score whose shortfall costs
    the most points (weight x (1 - score)), then further alerts or sub-scores until there are three. Without
    ``inbound_observed`` (a sent folder alone), the sub-scores that need the other side's mail are not read as
    weaknesses nor acted on; the first weakness says why.
    """
    params = params or AnalyticsParams()
    h = health_row.row(0, named=True) if isinstance(health_row, pl.DataFrame) else dict(health_row)
    ego = str(h["ego_id"])
    # Only measured sub-scores are read (an unmeasured one is null, neither a strength nor a weakness).
    scores = {name: float(h[f"score_{name}"]) for name in SUB_SCORES if h.get(f"score_{name}") is not None}
    if not scores:
        return Narrative(
            ego_id=ego, health_score=None, activity_window_days=params.activity_window_days, measured=False
        )
    readable = [n for n in scores if inbound_observed or n not in _NEED_INBOUND]
    strengths = [t for n in scores if scores[n] >= STRONG_SCORE and (t := _strength_text(n, h))]
    weaknesses = [t for n in readable if scores[n] < WEAK_SCORE and (t := _weakness_text(n, h))]
    if not inbound_observed:
        weaknesses.insert(0, SENT_ONLY)

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
        (n for n in readable if scores[n] < 1.0),
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
        health_score=None if h["health_score"] is None else float(h["health_score"]),
        strengths=strengths,
        weaknesses=weaknesses,
        actions=actions,
        activity_window_days=params.activity_window_days,
    )
