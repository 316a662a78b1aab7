"""Readable terminal reports for `tiepulse health`, `ties` and `alerts`."""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
import sys
from typing import Any

import polars as pl
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from pipelines.analytics import AnalyticsParams, describe_network
from pipelines.analytics.params import SUB_SCORES
from tiepulse.insights import EgoView

_SPARK = "▁▂▃▄▅▆▇█"
_CHANNELS = ("email", "meeting", "call", "video", "chat", "in_person", "note")


def _bar(value: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "·" * (width - filled)


def sparkline(values: list[float], low: float = 0.0, high: float = 100.0) -> str:
    span = (high - low) or 1.0
    return "".join(_SPARK[min(len(_SPARK) - 1, int((v - low) / span * len(_SPARK)))] for v in values)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _date(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:%Y-%m-%d}" if isinstance(value, dt.date | dt.datetime) else str(value)


def render_health(console: Console, view: EgoView, params: AnalyticsParams) -> None:
    if view.health.height == 0:
        console.print(f"{view.ego_id} has no ties as of {view.as_of}: nothing to measure yet.")
        return
    h = view.health.row(0, named=True)
    console.print(
        Panel(
            f"[bold]{h['health_score']:.0f}/100[/bold] network health as of {view.as_of}",
            title=f"tiepulse health: {view.ego_id}",
        )
    )
    scores = Table(title="Sub-scores (0-1, weight in the score)", show_header=True)
    for column in ("sub-score", "weight", "score", ""):
        scores.add_column(column)
    for name in SUB_SCORES:
        value = float(h[f"score_{name}"] or 0.0)
        scores.add_row(name, f"{params.health_weights[name]:.2f}", f"{value:.2f}", _bar(value))
    console.print(scores)

    figures = Table(title="The network in figures", show_header=False)
    figures.add_column("what")
    figures.add_column("value", justify="right")
    figures.add_column("what")
    figures.add_column("value", justify="right")
    rows = [
        ("reciprocal contacts, 4 weeks", h["network_size"], "reciprocal contacts, 90 days", h["network_size_90d"]),
        ("strong ties", h["n_strong"], "weak ties", h["n_weak"]),
        ("dormant ties", h["n_dormant"], "new ties in 30 days", h["new_ties_30d"]),
        ("external share", _pct(h["external_share"]), "teams reached", h["n_teams_reached"]),
        (
            "diversity (Blau, communities)",
            _num(h["community_blau"]),
            "entropy (communities)",
            _num(h["community_entropy"]),
        ),
        ("Burt constraint (low = broker)", _num(h["burt_constraint"]), "effective size", _num(h["effective_size"], 1)),
        ("reciprocal share", _pct(h["reciprocal_share"]), "you initiate", _pct(h["initiation_share"])),
        ("top-5 share of time", _pct(h["top5_share"]), "Gini of attention", _num(h["gini"])),
        (
            "real-world share (in person, calls)",
            _pct(h["real_world_share"]),
            "after hours",
            _pct(h["after_hours_share"]),
        ),
        ("own-team share", _pct(h["own_team_share"]), "overdue ties", h["n_overdue"]),
    ]
    for a, b, c, d in rows:
        figures.add_row(a, str(b), c, str(d))
    console.print(figures)
    mix = "  ".join(f"{c} {_pct(h.get(f'share_{c}'))}" for c in _CHANNELS if (h.get(f"share_{c}") or 0) > 0)
    console.print(f"Channel mix: {mix or '-'}")
    buckets = h.get("bucket_allocation") or []
    if buckets:
        plan = "  ".join(
            f"{b['bucket']}: {_pct(b['actual_share'])} of time (plan {_pct(b['planned_share'])})" for b in buckets
        )
        console.print(f"Buckets: {plan}")
    history = view.history.get_column("health_score").fill_null(0).to_list() if view.history.height else []
    if len(history) > 1:
        console.print(
            f"Health by month ({_date(view.history['month'][0])} .. {_date(view.history['month'][-1])}): "
            f"{sparkline(history)}  {history[0]:.0f} -> {history[-1]:.0f}"
        )
    console.print()
    console.print(describe_network(view.health, view.ties, view.alerts, params).render())


def render_organisation(console: Console, health: pl.DataFrame, alerts: pl.DataFrame, top: int = 5) -> None:
    if health.height == 0:
        console.print("No ego has ties yet.")
        return
    scores = [float(v) for v in health.get_column("health_score").fill_null(0.0).to_list()]
    median, low, high = statistics.median(scores), min(scores), max(scores)
    console.print(
        Panel(
            f"{health.height} egos as of {_date(health['as_of'][0])}: median health "
            f"[bold]{median:.0f}[/bold]/100 (lowest {low:.0f}, highest {high:.0f}); "
            f"{alerts.height} open alerts.",
            title="tiepulse: organisation",
        )
    )
    table = Table(title=f"Lowest {top} health scores (tiepulse health --ego EMAIL for a report)")
    table.add_column("ego", no_wrap=True)
    for column in ("score", "strong", "dormant", "size 4w", "constraint", "real-world", "alerts"):
        table.add_column(column, justify="right")
    per_ego = alerts.group_by("ego_id").len() if alerts.height else pl.DataFrame({"ego_id": [], "len": []})
    lowest = health.sort("health_score").head(top).join(per_ego, on="ego_id", how="left")
    for r in lowest.iter_rows(named=True):
        table.add_row(
            r["ego_id"],
            f"{r['health_score']:.0f}",
            str(r["n_strong"]),
            str(r["n_dormant"]),
            str(r["network_size"]),
            _num(r["burt_constraint"]),
            _pct(r["real_world_share"]),
            str(r["len"] or 0),
        )
    console.print(table)


def render_ties(console: Console, ties: pl.DataFrame, limit: int) -> None:
    if ties.height == 0:
        console.print("No ties.")
        return
    table = Table(title=f"Ties by strength ({min(limit, ties.height)} of {ties.height})")
    for column in ("person", "name", "class", "strength", "last contact", "days", "usual gap", "mix", "trend 90d"):
        table.add_column(column, justify="right" if column in ("strength", "days", "usual gap") else "left")
    for r in ties.sort("strength", descending=True).head(limit).iter_rows(named=True):
        counts = {c: r.get(f"n_{c}") or 0 for c in _CHANNELS}
        total = sum(counts.values()) or 1
        top = sorted(((n, c) for c, n in counts.items() if n), reverse=True)[:2]
        mix = " ".join(f"{c} {100 * n // total}%" for n, c in top)
        trend = r.get("trend_90d")
        table.add_row(
            r["alter_id"],
            (r.get("alter_name") or "")[:22],
            r["tie_class"],
            f"{r['strength']:.2f}",
            _date(r["last_contact"]),
            str(r["days_since"]),
            _num(r["usual_gap_days"], 0),
            mix,
            "-" if trend is None else f"{trend:+.0%}",
        )
    console.print(table)


ALERT_FIELDS = (
    "alert_id",
    "kind",
    "ego_id",
    "alter_id",
    "severity",
    "priority",
    "status",
    "reason",
    "suggested_action",
)


def render_alerts(console: Console, alerts: pl.DataFrame, output: str, limit: int | None = None) -> None:
    ordered = alerts.filter(pl.col("status") == "open").sort(["priority", "alert_id"], descending=[True, False])
    rows = ordered.select(ALERT_FIELDS).head(limit if limit is not None else ordered.height).to_dicts()
    if output == "json":
        print(json.dumps(rows, default=str, indent=1))
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(ALERT_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        console.print("No open alerts.")
        return
    console.print(f"[bold]Open alerts, most important first ({len(rows)} of {ordered.height})[/bold]")
    for n, r in enumerate(rows, start=1):
        who = r["ego_id"] if not r["alter_id"] else f"{r['ego_id']} -> {r['alter_id']}"
        console.print(f"{n}. [bold]{r['kind']}[/bold] ({r['severity']}, priority {r['priority']:.0f})  {who}")
        console.print(f"   {r['reason']}", highlight=False)
        console.print(f"   Next: {r['suggested_action']}   [dim]id {r['alert_id']}[/dim]", highlight=False)
    console.print("Snooze: tiepulse alerts snooze ID --days N    Dismiss: tiepulse alerts dismiss ID")
