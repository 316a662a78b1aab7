"""Readable terminal reports for `tiepulse health`, `ties` and `alerts`, from 80 columns up.

Tables use short headers with a legend below, fold long addresses onto a second line instead of cutting them,
and switch to fewer columns or a stacked layout when the wide one does not fit the terminal; wrapped list items
hang under their first word.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
import sys
from typing import Any

import polars as pl
from rich import box
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tiepulse.cli.insights import EgoView
from tiepulse.core.params import SUB_SCORES
from tiepulse.pipelines.analytics import AnalyticsParams, describe_network

_SPARK = "▁▂▃▄▅▆▇█"
_CHANNELS = ("email", "meeting", "call", "video", "chat", "in_person", "note")
READING_WIDTH = 100
"""Running text wraps here at most, however wide the terminal."""


def _bar(value: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "·" * (width - filled)


def sparkline(values: list[float | None], low: float = 0.0, high: float = 100.0) -> str:
    """One block per value; a missing value (an inactive month) is a gap."""
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else _SPARK[max(0, min(len(_SPARK) - 1, int((v - low) / span * len(_SPARK))))] for v in values
    )


def _pct(value: Any) -> str:
    if value is None:
        return "-"
    share = float(value)
    return "<1%" if 0 < share < 0.005 else f"{100 * share:.0f}%"


def _num(value: Any, digits: int = 2) -> str:
    # round first, then add 0.0: a tiny negative rounds to -0.0, which would print as "-0.00"
    return "-" if value is None else f"{round(float(value), digits) + 0.0:.{digits}f}"


def _date(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:%Y-%m-%d}" if isinstance(value, dt.date | dt.datetime) else str(value)


def _compact(title: str | None = None, caption: str | None = None, gap: int = 1) -> Table:
    """A table with a rule under the header and ``gap`` spaces between columns (1: the most content per line)."""
    return Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, gap - 1, 0, 0),
        caption_justify="left",
        title_justify="left",
    )


def _best(console: Console, *layouts: Table) -> Table:
    """The first layout whose every cell fits on one line in this terminal, else the last (the narrowest)."""
    wide_open = console.options.update_width(10_000)
    for table in layouts:
        if Measurement.get(console, wide_open, table).maximum <= console.width:
            return table
    return layouts[-1]


def _hanging(console: Console, marker: str, text: RenderableType) -> None:
    """``marker`` then ``text``, its wrapped lines indented under the text, not under the marker."""
    if not marker:
        console.print(text, width=min(console.width, READING_WIDTH), highlight=False)
        return
    grid = Table.grid()
    grid.add_column(no_wrap=True, width=len(marker))
    grid.add_column(overflow="fold")
    grid.add_row(marker, text)
    console.print(grid, width=min(console.width, READING_WIDTH))


def render_health(console: Console, view: EgoView, params: AnalyticsParams) -> None:
    if view.health.height == 0:
        console.print(f"{view.ego_id} has no ties as of {view.as_of}: nothing to measure yet.")
        return
    h = view.health.row(0, named=True)
    if view.data_status != "current":
        _render_no_recent_data(console, view)
        return
    if not h["is_active"]:
        _render_inactive(console, view, params)
        return
    measured = ", ".join(h.get("measured_parts") or []) or "nothing"
    headline = (
        f"No score as of {view.as_of}: too little of the network was observed (measured: {measured})"
        if h["health_score"] is None
        else f"[bold]{h['health_score']:.0f}/100[/bold] network health as of {view.as_of} (measured: {measured})"
    )
    console.print(Panel(headline, title=f"tiepulse health: {view.ego_id}"), width=min(console.width, READING_WIDTH))
    scores = _compact("Sub-scores (0-1, weight; the score counts the measured ones)", gap=2)
    for column in ("sub-score", "weight", "score", ""):
        scores.add_column(column, justify="right" if column in ("weight", "score") else "left")
    for name in SUB_SCORES:
        value = h[f"score_{name}"]
        if value is None:
            scores.add_row(name, f"{params.health_weights[name]:.2f}", "-", "not measured")
        else:
            scores.add_row(name, f"{params.health_weights[name]:.2f}", f"{value:.2f}", _bar(float(value)))
    console.print(scores)
    console.print(_best(console, _figures(h, per_line=2), _figures(h, per_line=1)))
    mix = "  ".join(f"{c} {_pct(h.get(f'share_{c}'))}" for c in _CHANNELS if (h.get(f"share_{c}") or 0) > 0)
    _hanging(console, "Channel mix: ", mix or "-")
    buckets = h.get("bucket_allocation") or []
    if buckets:
        plan = "; ".join(
            f"{b['bucket']} {_pct(b['actual_share'])} of time (plan {_pct(b['planned_share'])})" for b in buckets
        )
        _hanging(console, "Buckets: ", plan)
    history = view.history.get_column("health_score").to_list() if view.history.height else []
    scored = [v for v in history if v is not None]
    if len(history) > 1 and scored:
        months = view.history.get_column("month")
        _hanging(
            console,
            "Health by month: ",
            f"{months[0]:%Y-%m} .. {months[-1]:%Y-%m}  {sparkline(history)}  {scored[0]:.0f} -> {scored[-1]:.0f}",
        )
    console.print()
    narrative = describe_network(view.health, view.ties, view.alerts, params, view.inbound_observed)
    console.print(narrative.render(min(console.width, READING_WIDTH)), markup=False, highlight=False)


def data_notice(view: EgoView) -> str | None:
    """A plain sentence when the ego's data ends before the analysis date (None when it is current)."""
    if view.data_status == "current":
        return None
    if view.data_end is None:
        what = f"nothing of {view.ego_id}'s mail, calendar or log was observed up to {view.as_of}"
    else:
        gap = (view.as_of - view.data_end.date()).days
        what = f"{view.ego_id}'s data ends on {view.data_end:%Y-%m-%d}, {gap} days before {view.as_of}"
    return (
        f"No recent data: {what}, so there is no health score and no alert (silence after the data ends is "
        "not silence). Import newer mail, or look at an earlier date with --as-of."
    )


def _render_no_recent_data(console: Console, view: EgoView) -> None:
    _hanging(console, "", data_notice(view) or "")


def _render_inactive(console: Console, view: EgoView, params: AnalyticsParams) -> None:
    """One honest line for an ego with no contact in the activity window."""
    last = view.ties.select(pl.col("last_contact").max()).item() if view.ties.height else None
    since = f"Last contact {_date(last)}, {(view.as_of - last.date()).days} days earlier; " if last else ""
    _hanging(
        console,
        "",
        f"{view.ego_id}: no contact in the {params.activity_window_days} days to {view.as_of}, so no health "
        f"score. {since}{view.ties.height} ties on record"
        + (f" (see them with --as-of {last:%Y-%m-%d})." if last else "."),
    )


def _figures(h: dict[str, Any], per_line: int) -> Table:
    """The measures behind the score, ``per_line`` measures on each line."""
    pairs = [
        ("reciprocal contacts, 4 weeks", h["network_size"]),
        ("reciprocal contacts, 90 days", h["network_size_90d"]),
        ("strong ties", h["n_strong"]),
        ("weak ties", h["n_weak"]),
        ("dormant ties", h["n_dormant"]),
        ("new ties in 30 days", h["new_ties_30d"]),
        ("external share", _pct(h["external_share"])),
        ("teams reached", h["n_teams_reached"]),
        ("diversity (Blau, communities)", _num(h["community_blau"])),
        ("entropy (communities)", _num(h["community_entropy"])),
        ("Burt constraint (low = broker)", _num(h["burt_constraint"])),
        ("effective size", _num(h["effective_size"], 1)),
        ("reciprocal share", _pct(h["reciprocal_share"])),
        ("you initiate", _pct(h["initiation_share"])),
        ("top-5 share of time", _pct(h["top5_share"])),
        ("Gini of attention", _num(h["gini"])),
        ("real-world (in person, phone)", _pct(h["real_world_share"])),
        ("after hours", _pct(h["after_hours_share"])),
        ("own-team share", _pct(h["own_team_share"])),
        ("overdue ties", h["n_overdue"]),
    ]
    table = _compact("The network in figures")
    table.show_header = False
    for n in range(per_line):
        if n:
            table.add_column("", width=2)  # room between the pairs
        table.add_column("what", no_wrap=True)
        table.add_column("value", justify="right", no_wrap=True)
    for i in range(0, len(pairs), per_line):
        cells = [[str(what), str(value)] for what, value in pairs[i : i + per_line]]
        table.add_row(*[c for n, pair in enumerate(cells) for c in ([""] if n else []) + pair])
    return table


def render_organisation(
    console: Console,
    health: pl.DataFrame,
    alerts: pl.DataFrame,
    params: AnalyticsParams | None = None,
    top: int = 5,
) -> None:
    params = params or AnalyticsParams()
    if health.height == 0:
        console.print("No ego has ties yet.")
        return
    as_of = _date(health["as_of"][0])
    active = health.filter(pl.col("health_score").is_not_null())
    current = pl.col("data_status") == "current" if "data_status" in health.columns else pl.lit(True)
    stale = health.filter(~current).height
    inactive = health.filter(current & ~pl.col("is_active")).height
    # active with current data, yet unscored: under half of the score's weight was observable (a Sent folder alone)
    unmeasured = health.filter(current & pl.col("is_active") & pl.col("health_score").is_null()).height
    idle = f"; {inactive} inactive (no contact in {params.activity_window_days} days, not scored)" if inactive else ""
    if unmeasured:
        idle += f"; {unmeasured} active with too little observed for a score (health --ego says what was)"
    if stale:
        idle += f"; {stale} with no recent data (their data ends before {as_of}: not scored, no alerts)"
    if active.height == 0:
        summary = f"{health.height} egos as of {as_of}, none scored{idle}"
    else:
        scores = [float(v) for v in active.get_column("health_score").to_list()]
        summary = (
            f"{health.height} egos as of {as_of}: median health [bold]{statistics.median(scores):.0f}[/bold]/100 "
            f"(lowest {min(scores):.0f}, highest {max(scores):.0f}) over {active.height} active{idle}"
        )
    console.print(
        Panel(f"{summary}; {alerts.height} open alerts.", title="tiepulse: organisation"),
        width=min(console.width, READING_WIDTH),
    )
    if active.height == 0:
        return
    per_ego = alerts.group_by("ego_id").len().cast({"len": pl.Int64})
    if per_ego.height == 0:
        per_ego = pl.DataFrame(schema={"ego_id": pl.String, "len": pl.Int64})
    lowest = active.sort("health_score", "ego_id").head(top).join(per_ego, on="ego_id", how="left")
    rows = [
        [
            r["ego_id"],
            f"{r['health_score']:.0f}",
            str(r["n_strong"]),
            str(r["n_dormant"]),
            str(r["network_size"]),
            _num(r["burt_constraint"]),
            _pct(r["real_world_share"]),
            str(r["len"] or 0),
        ]
        for r in lowest.sort("health_score", "ego_id").iter_rows(named=True)
    ]
    title = f"Lowest {len(rows)} health scores"
    console.print(_best(console, _lowest_table(rows, title, gap=2), _lowest_table(rows, title, gap=1)))


def _lowest_table(rows: list[list[str]], title: str, gap: int) -> Table:
    table = _compact(
        title,
        "strong, dorm: strong and dormant ties; size: reciprocal contacts in 4 weeks; constr: Burt constraint "
        "(low = broker); real: in person or by phone. Details: tiepulse health --ego EMAIL",
        gap,
    )
    table.add_column("ego", overflow="fold", min_width=16)
    for column in ("score", "strong", "dorm", "size", "constr", "real", "alerts"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _mix(r: dict[str, Any]) -> list[str]:
    """The two main channels by count, e.g. ['email 54%', 'meeting 45%']."""
    counts = {c: r.get(f"n_{c}") or 0 for c in _CHANNELS}
    total = sum(counts.values()) or 1
    top = sorted(((n, c) for c, n in counts.items() if n), reverse=True)[:2]
    return [f"{c.replace('_', ' ')} {100 * n // total}%" for n, c in top]


def render_ties(console: Console, ties: pl.DataFrame, limit: int) -> None:
    """One line per tie where the terminal is wide enough; else name over address in one cell, channels
    stacked, no date column."""
    if ties.height == 0:
        console.print("No ties.")
        return
    rows = ties.sort("strength", descending=True).head(limit).to_dicts()
    title = f"Ties by strength ({len(rows)} of {ties.height})"
    layouts = [_ties_table(rows, title, True, 2), _ties_table(rows, title, True, 1), _ties_table(rows, title, False, 1)]
    console.print(_best(console, *layouts))


def _ties_table(rows: list[dict[str, Any]], title: str, wide: bool, gap: int) -> Table:
    table = _compact(
        title,
        "days: since the last contact; gap: usual days between contacts; trend: volume of the last 90 days "
        "against the 90 before",
        gap,
    )
    if wide:
        table.add_column("person", no_wrap=True)
        table.add_column("name", no_wrap=True)
    else:
        table.add_column("person", overflow="fold", min_width=20)
    table.add_column("class", no_wrap=True)
    table.add_column("strength", justify="right", no_wrap=True)
    if wide:
        table.add_column("last contact", no_wrap=True)
    for column in ("days", "gap"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("mix", no_wrap=True)
    table.add_column("trend", justify="right", no_wrap=True)
    for r in rows:
        trend = r.get("trend_90d")
        if wide:
            who: list[RenderableType] = [r["alter_id"], r.get("alter_name") or ""]
        else:
            person = Text(r.get("alter_name") or r["alter_id"], style="bold")
            if r.get("alter_name"):
                person.append("\n" + r["alter_id"], style="dim")
            who = [person]
        cells: list[RenderableType] = [*who, r["tie_class"], f"{r['strength']:.2f}"]
        if wide:
            cells.append(_date(r["last_contact"]))
        cells += [
            str(r["days_since"]),
            _num(r["usual_gap_days"], 0),
            ("  " if wide else "\n").join(_mix(r)),
            "-" if trend is None else f"{trend:+.0%}" if round(100 * trend) else "0%",
        ]
        table.add_row(*cells)
    return table


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
        head = Text.assemble(
            (r["alert_id"], "cyan"), "  ", (r["kind"], "bold"), f" ({r['severity']}, priority {r['priority']:.0f})"
        )
        _hanging(console, f"{n}. ", head)
        indent = " " * len(f"{n}. ")
        _hanging(console, indent, Text(who))
        _hanging(console, indent, Text(r["reason"]))
        _hanging(console, indent, Text(f"Next: {r['suggested_action']}"))
    if len(rows) < ordered.height:
        _hanging(console, "", f"{ordered.height - len(rows)} more: --limit 0 shows all, --kind KIND one kind.")
    _hanging(console, "", "Snooze: tiepulse alerts snooze ID --days N; dismiss: tiepulse alerts dismiss ID")
