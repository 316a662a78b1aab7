"""`tiepulse org`: the organisation's network (summary, most siloed groups, brokers, key-person risks).

Reads the published ONA marts, or computes them in memory for another ``--as-of``. Group figures come only from
``mart_org_groups``, so they obey the privacy threshold (privacy.min_group_size) as published. Imports no Dagster.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table

from tiepulse.cli.insights import InsightError, published_as_of
from tiepulse.core.settings import Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.org_columns import CURRENT
from tiepulse.pipelines.marts_io import read_table, table_exists

TOP = 5
"""Groups per ranked list."""
BROKERS = 10


@dataclass
class OrgView:
    as_of: dt.date
    group_type: str
    min_group_size: int
    summary: dict[str, Any] | None
    groups: pl.DataFrame
    brokers: pl.DataFrame
    key_people: pl.DataFrame
    people: int
    notes: list[str] = field(default_factory=list)

    @property
    def siloed(self) -> pl.DataFrame:
        shown = self.groups.filter(~pl.col("is_suppressed") & pl.col("ei_index").is_not_null())
        return shown.sort(["ei_index", "group_name"]).head(TOP)

    @property
    def key_person_risks(self) -> pl.DataFrame:
        shown = self.groups.filter(~pl.col("is_suppressed") & pl.col("key_person_risk").is_not_null())
        return shown.sort(["key_person_risk", "group_name"], descending=[True, False]).head(TOP)


def _marts(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date | None) -> tuple[dt.date, Any]:
    published = published_as_of(con)
    exists = table_exists(con, tables.ORG_PEOPLE)
    if as_of is None or (as_of == published and exists):
        if published is None or not exists:
            raise InsightError("No organisation network yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
        people = read_table(con, tables.ORG_PEOPLE, "where period = ?", [CURRENT])
        groups = read_table(con, tables.ORG_GROUPS, "where period = ?", [CURRENT])
        summary = read_table(con, tables.ORG_SUMMARY, "order by month")
        return published, (people, groups, summary)
    # igraph and leidenalg load only when the graph is computed here
    from tiepulse.pipelines.analytics.org_marts import compute_org, org_options

    ties, persons, egos = tables.read_org_inputs(con)
    marts = compute_org(ties, persons, egos, as_of, org_options(settings))
    return as_of, (marts.people.filter(pl.col("period") == CURRENT), marts.groups, marts.summary)


def org_view(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date | None, group: str | None) -> OrgView:
    """What `tiepulse org` shows, for the group type asked (default: team, else community)."""
    day, (people, groups, summary) = _marts(con, settings, as_of)
    groups = groups.filter(pl.col("period") == CURRENT)
    minimum = settings.config.privacy.min_group_size
    available = sorted(set(groups.get_column("group_type").to_list()))
    notes: list[str] = []
    wanted = group or "team"
    if wanted not in available:
        if available and wanted != "team":
            raise InsightError(f"--group {wanted}: no such group type here; choose one of {', '.join(available)}")
        if available:
            notes.append("The directory has no team column: groups are the detected communities.")
        wanted = "community"
    internal = people.filter(pl.col("is_internal")).height
    if groups.is_empty():
        notes.append(
            f"The organisation has {internal} people, fewer than privacy.min_group_size = {minimum}: "
            "no group figures are shown."
        )
    upto = summary.filter(pl.col("month") <= day)
    latest = upto.row(-1, named=True) if upto.height else None
    current = people.filter(pl.col("is_internal"))
    return OrgView(
        as_of=day,
        group_type=wanted,
        min_group_size=minimum,
        summary=latest,
        groups=groups.filter(pl.col("group_type") == wanted),
        brokers=current.filter(pl.col("is_broker"))
        .sort(["betweenness", "person_id"], descending=[True, False])
        .head(BROKERS),
        key_people=current.filter(pl.col("is_key_person")).sort(["betweenness", "person_id"], descending=[True, False]),
        people=internal,
        notes=notes,
    )


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_SUMMARY_FIELDS = (
    ("nodes", "people and outside domains with a tie"),
    ("edges", "ties"),
    ("density", "density"),
    ("clustering", "clustering"),
    ("modularity", "modularity"),
    ("communities", "communities"),
    ("giant_component_share", "in the largest component"),
    ("reciprocity", "reciprocity"),
    ("avg_path_length", "average path length (hops)"),
    ("median_health", "median health score"),
    ("community_team_nmi", "communities vs teams (NMI)"),
    ("community_team_ari", "communities vs teams (ARI)"),
)


def render_org(console: Console, view: OrgView, output: str) -> None:
    if output == "json":
        print(json.dumps(_as_json(view), default=str, indent=1))
    elif output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(view.groups.columns)
        writer.writerows(view.groups.rows())
    else:
        _render_table(console, view)


def _as_json(view: OrgView) -> dict[str, Any]:
    return {
        "as_of": view.as_of,
        "group_type": view.group_type,
        "min_group_size": view.min_group_size,
        "notes": view.notes,
        "summary": view.summary,
        "most_siloed": view.siloed.to_dicts(),
        "brokers": view.brokers.select(
            "person_id", "display_name", "team", "betweenness", "broker_role", "bridge_score"
        ).to_dicts(),
        "key_person_risks": view.key_person_risks.to_dicts(),
        "key_people": view.key_people.select("person_id", "display_name", "team").to_dicts(),
    }


def _render_table(console: Console, view: OrgView) -> None:
    console.print(f"[bold]Organisation network[/bold] as of {view.as_of} ({view.people} people inside)")
    for note in view.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if view.summary:
        summary = Table("measure", "value", title=f"Month {view.summary['month']:%Y-%m}", title_justify="left")
        for key, label in _SUMMARY_FIELDS:
            summary.add_row(label, _fmt(view.summary.get(key)))
        console.print(summary)
    if not view.groups.is_empty():
        siloed = Table(
            view.group_type,
            "size",
            "E-I",
            "outside",
            "density",
            title=f"Most siloed {view.group_type} groups (E-I index: -1 all ties inside, +1 all outside)",
            title_justify="left",
        )
        for row in view.siloed.iter_rows(named=True):
            siloed.add_row(
                row["group_name"],
                _fmt(row["size"]),
                _fmt(row["ei_index"]),
                _fmt(row["outside_share"]),
                _fmt(row["internal_density"]),
            )
        console.print(siloed)
        risks = Table(
            view.group_type,
            "size",
            "bridging",
            "top carrier share",
            title="Key-person risk: share of the group's outside ties carried by one member",
            title_justify="left",
        )
        for row in view.key_person_risks.iter_rows(named=True):
            risks.add_row(
                row["group_name"], _fmt(row["size"]), _fmt(row["bridging_people"]), _fmt(row["key_person_risk"])
            )
        console.print(risks)
        hidden = view.groups.filter(pl.col("is_suppressed")).height
        if hidden:
            console.print(f"{hidden} group(s) under privacy.min_group_size = {view.min_group_size} suppressed.")
    brokers = Table(
        "person", "team", "betweenness", "role", "bridge", title="Brokers (highest betweenness)", title_justify="left"
    )
    for row in view.brokers.iter_rows(named=True):
        brokers.add_row(
            row["display_name"] or row["person_id"],
            row["team"] or "-",
            _fmt(row["betweenness"], 3),
            row["broker_role"],
            _fmt(row["bridge_score"]),
        )
    console.print(brokers)
    if view.key_people.height:
        names = ", ".join(
            (r["display_name"] or r["person_id"]) for r in view.key_people.head(BROKERS).iter_rows(named=True)
        )
        more = view.key_people.height - min(BROKERS, view.key_people.height)
        console.print(f"Key people (removing one disconnects others): {names}" + (f" and {more} more" if more else ""))
    else:
        console.print("Key people: none (nobody's absence would disconnect anyone).")
