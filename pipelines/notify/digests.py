"""What is due on a channel and the digest's text (plain text, readable at 80 columns).

An alert is due on a channel while it is open in ``marts.mart_alerts`` and its episode (alert id and the day it
opened) has no row in ``ops.notify_delivered_alerts`` for that channel: an alert that reopens later is news again,
a snoozed, dismissed or resolved one is not sent.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import duckdb
import polars as pl

from tiepulse.pipelines import network_io as tables

WIDTH = 80
ORGANISATION = "organisation"
KINDS = {
    "neglected_tie": "neglected",
    "one_sided_tie": "one-sided",
    "overload": "overload",
    "narrowing": "narrowing",
}

_DUE = f"""
    select a.alert_id, coalesce(a.opened_at, a.first_seen, a.as_of) as opened_at, a.kind, a.ego_id,
           coalesce(p.display_name, a.ego_id) as ego_name, a.alter_name, a.severity, a.priority, a.reason,
           a.suggested_action, a.as_of,
           coalesce(p.team, p.department, '(no team)') as team
    from {tables.ALERTS} a
    left join {tables.PERSONS} p on p.person_id = a.ego_id
    where a.status = 'open'
      and not exists (
        select 1 from ops.notify_delivered_alerts d
        where d.channel = $channel and d.alert_id = a.alert_id
          and d.opened_at = coalesce(a.opened_at, a.first_seen, a.as_of))
      and ($ego is null or a.ego_id = $ego)
    order by a.ego_id, a.priority desc, a.alert_id
"""


@dataclass(frozen=True, slots=True)
class Digest:
    recipient: str
    """The ego a personal digest is for, or ``organisation``."""
    title: str
    body: str
    alerts: pl.DataFrame
    """The alert episodes (``alert_id``, ``opened_at``) this digest delivers."""


def due_alerts(con: duckdb.DuckDBPyConnection, channel: str, ego: str | None = None) -> pl.DataFrame:
    """Open alerts not yet delivered on ``channel`` (one ego's, or everyone's), highest priority first per ego."""
    con.execute("select 1").fetchall()  # close any half-read result before the relation API starts
    return pl.DataFrame(con.sql(_DUE, params={"channel": channel, "ego": ego}))


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    """``text`` in lines of at most 80 characters, indented (the first line by ``first`` when given)."""
    start = indent if first is None else first
    return textwrap.wrap(text, WIDTH, initial_indent=start, subsequent_indent=indent) or [start.rstrip()]


def _count_line(alerts: pl.DataFrame) -> str:
    by_severity = dict(alerts.group_by("severity").len().iter_rows())
    parts = [f"{by_severity[s]} {s}" for s in ("high", "medium", "low") if by_severity.get(s)]
    noun = "alert" if alerts.height == 1 else "alerts"
    return f"{alerts.height} new {noun} ({', '.join(parts)})" if parts else f"{alerts.height} new {noun}"


def _alert_lines(row: dict[str, object], named_ego: bool) -> list[str]:
    subject = row["alter_name"] or "your network"
    who = f"{row['ego_name']}: " if named_ego else ""
    lines = _wrap(f"[{row['severity']}] {who}{KINDS.get(str(row['kind']), row['kind'])} - {subject}", "")
    reason, action = str(row["reason"]), str(row["suggested_action"] or "")
    lines += _wrap(reason)
    if action and action.split(": ", 1)[-1] not in reason:  # most reasons end with their suggestion already
        lines += _wrap(f"Next: {action}")
    return [*lines, ""]


def listing(recipient: str, alerts: pl.DataFrame, max_items: int, *, named_egos: bool) -> Digest:
    """A digest listing alerts by priority (at most ``max_items``; the rest wait for the next digests)."""
    shown = alerts.sort("priority", "alert_id", descending=[True, False]).head(max_items)
    as_of = str(shown.get_column("as_of").max())
    whom = "the organisation" if named_egos else str(shown.get_column("ego_name")[0])
    title = f"tiepulse: {_count_line(shown)} for {whom}"
    lines = [f"Alerts for {whom}, analysis date {as_of}.", _count_line(shown) + ".", ""]
    for row in shown.iter_rows(named=True):
        lines += _alert_lines(row, named_egos)
    waiting = alerts.height - shown.height
    if waiting:
        lines += _wrap(f"{waiting} more open alerts follow in the next digests.", "")
    command = "tiepulse alerts" if named_egos else f"tiepulse alerts --ego {recipient}"
    lines += ["Snooze or dismiss them with (see its --help):", f"  {command}"]
    return Digest(recipient, title, "\n".join(lines), shown.select("alert_id", "opened_at"))


def team_counts(con: duckdb.DuckDBPyConnection, alerts: pl.DataFrame, min_group_size: int) -> tuple[pl.DataFrame, int]:
    """Alerts per team of the ego, for teams of at least ``min_group_size`` egos (smaller ones pooled as
    'other teams' when the pool is large enough, else left out), and how many egos were left out."""
    con.execute("select 1").fetchall()
    sizes = pl.DataFrame(
        con.sql(
            f"select coalesce(p.team, p.department, '(no team)') as team, count(*) as people "
            f"from {tables.EGOS} e left join {tables.PERSONS} p on p.person_id = e.ego_id group by all"
        )
    )
    small = sizes.filter(pl.col("people") < min_group_size)
    pooled = int(small.get_column("people").sum())
    pool_name = "other teams" if pooled >= min_group_size else None
    kinds = [pl.col("kind").eq(k).sum().alias(label) for k, label in KINDS.items()]
    counts = (
        alerts.join(sizes, on="team")
        .with_columns(
            team=pl.when(pl.col("people") >= min_group_size).then(pl.col("team")).otherwise(pl.lit(pool_name)),
            people=pl.when(pl.col("people") >= min_group_size).then(pl.col("people")).otherwise(pl.lit(pooled)),
        )
        .drop_nulls("team")
        .group_by("team", "people")
        .agg(pl.len().alias("alerts"), pl.col("severity").eq("high").sum().alias("high"), *kinds)
        .sort("alerts", "team", descending=[True, False])
    )
    return counts, 0 if pool_name else pooled


def organisation_counts(con: duckdb.DuckDBPyConnection, alerts: pl.DataFrame, min_group_size: int) -> Digest:
    """An organisation digest: counts per team, no person named; teams under ``min_group_size`` egos hidden."""
    counts, hidden = team_counts(con, alerts, min_group_size)
    as_of = str(alerts.get_column("as_of").max())
    shown_total = int(counts.get_column("alerts").sum()) if counts.height else 0
    title = f"tiepulse: {shown_total} new alerts in the organisation ({as_of})"
    lines = [f"Network alerts in the organisation, analysis date {as_of}.", ""]
    if counts.height:
        lines += [f"{shown_total} new alerts in {counts.height} teams.", ""]
        # One sentence per team rather than a table: chat clients draw proportional fonts, where columns drift.
        for r in counts.iter_rows(named=True):
            kinds = ", ".join(f"{r[k]} {k}" for k in KINDS.values() if r[k])
            line = f"{r['team']} ({r['people']} people): {r['alerts']} alerts, {r['high']} high; {kinds}"
            lines += _wrap(line, "  ", first="- ")
        lines.append("")
    else:
        lines += ["No team is large enough to report on.", ""]
    if hidden:
        lines += _wrap(
            f"Teams under {min_group_size} people ({hidden} people in all) are not shown (privacy.min_group_size).",
            "",
        )
    lines += _wrap("Each person sees their own alerts with `tiepulse alerts --ego EMAIL`.", "")
    # Every due alert is covered, the hidden ones included: they are summarised (or withheld) by this digest.
    return Digest(ORGANISATION, title, "\n".join(lines), alerts.select("alert_id", "opened_at"))
