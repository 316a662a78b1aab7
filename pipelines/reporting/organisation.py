"""The organisation report: health across every ego, its trend, and (from the ONA marts, when built) the network
picture with brokers and key people, the group-to-group heatmap and the silo ranking.

Group rows smaller than ``privacy.min_group_size`` are never shown: the ONA marts flag them (``is_suppressed``),
and the report also drops any group under the threshold it is given.
"""

from __future__ import annotations

import statistics

import polars as pl

from tiepulse.pipelines.reporting import charts
from tiepulse.pipelines.reporting.layout import spring_positions
from tiepulse.pipelines.reporting.page import Chart, Figure, Page, Section, Table
from tiepulse.pipelines.reporting.sources import (
    GROUP_MATRIX,
    ONA_TABLES,
    ORG_GROUPS,
    ORG_PEOPLE,
    ORG_SUMMARY,
    OrganisationInputs,
)

PICTURE_PEOPLE = 400
"""People in the network picture at most: the most connected (weighted degree)."""
LABELLED_PEOPLE = 10
SMALL_GROUPS = "other (small groups)"
GROUP_TYPES = ("team", "department", "community")
"""The grouping the heatmap and ranking use: the first of these the ONA marts hold."""
PLURALS = {"community": "communities"}
SUMMARY_TRENDS = ("density", "clustering", "modularity", "reciprocity", "giant_component_share")


def organisation_page(data: OrganisationInputs, min_group_size: int) -> Page:
    active = data.health.filter(pl.col("health_score").is_not_null())
    scores = active.get_column("health_score").to_list()
    figures = [
        Figure("egos", str(data.health.height)),
        Figure("egos scored", str(active.height)),
        Figure("median health", f"{statistics.median(scores):.0f}" if scores else "-"),
        Figure("open alerts", str(data.alerts.height)),
    ]
    summary = data.ona.get(ORG_SUMMARY)
    if summary is not None and summary.height:
        latest = summary.sort("month").row(-1, named=True)
        figures += [Figure("communities", str(latest["communities"])), Figure("modularity", _num(latest["modularity"]))]
    sections = [_health_section(data, active), _trend_section(data)]
    missing = [t for t in ONA_TABLES if t not in data.ona]
    if missing:
        sections.append(
            Section(
                "Organisational network",
                note=f"The organisational network marts are not built in this warehouse ({', '.join(missing)} "
                "missing), so there is no network picture, group heatmap or silo ranking yet. They appear after a "
                "`tiepulse refresh` with a version of tiepulse that builds them.",
            )
        )
    else:
        group_type = _group_type(data.ona[ORG_GROUPS])
        groups = _visible_groups(data.ona[ORG_GROUPS], group_type, min_group_size)
        sections += [
            _network_section(data, min_group_size),
            _heatmap_section(data.ona[GROUP_MATRIX], groups, group_type),
            _silo_section(groups, group_type, min_group_size),
        ]
    return Page(
        "Network health: the organisation",
        f"as of {data.as_of:%d %B %Y} · {data.health.height} egos · from email and calendar metadata only",
        figures,
        sections,
        f"tiepulse organisation report. Groups under {min_group_size} people are not shown (privacy.min_group_size).",
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _health_section(data: OrganisationInputs, active: pl.DataFrame) -> Section:
    if active.height == 0:
        return Section("Health", note=f"No ego has a network health score as of {data.as_of}: {_why_unscored(data)}.")
    return Section(
        "Health across the organisation",
        f"Each active ego's 0-100 network health score as of {data.as_of}.",
        charts=[Chart(charts.histogram(active, "health_score", "health score", 5, (0, 100)), "Egos by health score")],
    )


def _why_unscored(data: OrganisationInputs) -> str:
    """Why the egos have no score, by count (docs/metrics.md: only current data is scored, and only when enough of
    the score's parts are measured)."""
    health = data.health
    stale = health.filter(pl.col("data_status") != "current").height
    quiet = health.filter((pl.col("data_status") == "current") & pl.col("is_active").not_()).height
    thin = health.height - stale - quiet
    reasons = [
        (stale, "their data ends more than a month before that date (or was not read)"),
        (quiet, "no contact in the activity window"),
        (thin, "too little of the score measured (a Sent folder alone shows no answers)"),
    ]
    return "; ".join(f"{n} {'ego' if n == 1 else 'egos'}: {reason}" for n, reason in reasons if n) or "no egos"


def _trend_section(data: OrganisationInputs) -> Section:
    monthly = (
        data.monthly_health.group_by("month")
        .agg(
            median=pl.col("health_score").median(),
            lower=pl.col("health_score").quantile(0.25),
            upper=pl.col("health_score").quantile(0.75),
        )
        .filter(pl.col("median").is_not_null())
        .sort("month")
    )
    content = []
    if monthly.height:
        long = monthly.unpivot(index="month", variable_name="series", value_name="value").with_columns(
            pl.col("series").replace({"median": "median", "lower": "lower quartile", "upper": "upper quartile"})
        )
        content.append(Chart(charts.lines_over_time(long, "health score", maximum=100), "Health score by month"))
    summary = data.ona.get(ORG_SUMMARY)
    if summary is not None and summary.height:
        trends = (
            summary.select("month", *SUMMARY_TRENDS)
            .unpivot(index="month", variable_name="series", value_name="value")
            .with_columns(pl.col("series").str.replace_all("_", " "))
        )
        content.append(Chart(charts.lines_over_time(trends, "whole network (0-1)"), "Structure of the whole network"))
    if not content:
        return Section("Trends", note="No monthly history yet.")
    if not monthly.height:
        return Section("Trends", "The whole network's structure by month (no month has a scored ego).", charts=content)
    return Section("Trends", "The egos' health score by month: median and quartiles.", charts=content)


def _group_type(groups: pl.DataFrame) -> str:
    present = set(groups.get_column("group_type").unique().to_list())
    return next((t for t in GROUP_TYPES if t in present), sorted(present)[0] if present else "team")


def _visible_groups(groups: pl.DataFrame, group_type: str, min_group_size: int) -> pl.DataFrame:
    return groups.filter(
        (pl.col("group_type") == group_type) & pl.col("is_suppressed").not_() & (pl.col("size") >= min_group_size)
    )


def _network_section(data: OrganisationInputs, min_group_size: int) -> Section:
    people = data.ona[ORG_PEOPLE].sort(["weighted_degree", "person_id"], descending=[True, False]).head(PICTURE_PEOPLE)
    if people.height == 0:
        return Section("The network", note="No people in the organisational network mart.")
    sizes = people.group_by("community_id").len()
    big = sizes.filter(pl.col("len") >= min_group_size).get_column("community_id").implode()
    key = people.filter(pl.col("is_key_person")).sort(["pagerank", "person_id"], descending=[True, False])
    key = key.head(LABELLED_PEOPLE)
    nodes = people.select(
        id="person_id",
        name=pl.coalesce("display_name", "person_id"),
        team=pl.col("team").fill_null("-"),
        community=pl.when(pl.col("community_id").is_in(big))
        .then(pl.format("community {}", pl.col("community_id")))
        .otherwise(pl.lit(SMALL_GROUPS)),
        pagerank="pagerank",
        marker=pl.when(pl.col("is_key_person") & pl.col("is_broker"))
        .then(pl.lit("key person and broker"))
        .when(pl.col("is_key_person"))
        .then(pl.lit("key person"))
        .when(pl.col("is_broker"))
        .then(pl.lit("broker"))
        .otherwise(pl.lit("")),
        label=pl.when(pl.col("person_id").is_in(key.get_column("person_id").implode()))
        .then(pl.coalesce("display_name", "person_id"))
        .otherwise(pl.lit("")),
    )
    placed, edges = spring_positions(nodes, data.ties)
    picture = charts.network_picture(
        placed,
        edges,
        colour="community",
        size="pagerank",
        tooltip=("name:N", "team:N", "community:N", "marker:N"),
        height=520,
    )
    shown = f"the {people.height} most connected people" if people.height == PICTURE_PEOPLE else "everyone"
    return Section(
        "The network",
        f"Who works with whom: {shown}, coloured by community (communities under {min_group_size} people are "
        "grouped), sized by PageRank. Rings mark brokers (who link groups that would otherwise be apart) and key "
        "people (whose absence would cut the network most); the key people are named.",
        charts=[Chart(picture)],
    )


def _heatmap_section(matrix: pl.DataFrame, groups: pl.DataFrame, group_type: str) -> Section:
    names = groups.get_column("group_name").implode()
    shown = matrix.filter(
        (pl.col("group_type") == group_type) & pl.col("from_group").is_in(names) & pl.col("to_group").is_in(names)
    )
    if shown.height == 0:
        return Section(f"Between {_plural(group_type)}", note=f"No {group_type} is large enough to show.")
    return Section(
        f"Between {_plural(group_type)}",
        f"Messages from each {group_type} (rows) to each other (columns); the diagonal is within the {group_type}.",
        charts=[
            Chart(charts.group_heatmap(shown.select("from_group", "to_group", "messages"), "messages", "messages"))
        ],
    )


def _plural(group_type: str) -> str:
    return PLURALS.get(group_type, group_type + "s")


def _silo_section(groups: pl.DataFrame, group_type: str, min_group_size: int) -> Section:
    if groups.height == 0:
        return Section("Silos", note=f"No {group_type} has {min_group_size} people or more.")
    ranked = groups.sort("ei_index", "group_name")
    rows = [
        [
            r["group_name"],
            r["size"],
            _num(r["ei_index"]),
            _num(r["internal_density"]),
            f"{100 * (r['outside_share'] or 0):.0f}%",
            r["bridging_people"],
            _num(r["key_person_risk"]),
        ]
        for r in ranked.iter_rows(named=True)
    ]
    return Section(
        "Silos",
        f"Each {group_type} ranked from the most inward-looking: the E-I index runs from -1 (every tie inside the "
        f"{group_type}) to +1 (every tie outside it).",
        charts=[
            Chart(
                charts.ranked_bars(
                    ranked.select("group_name", "ei_index"), "group_name", "ei_index", "E-I index", (-1, 1)
                )
            )
        ],
        tables=[
            Table(
                [
                    group_type,
                    "people",
                    "E-I index",
                    "internal density",
                    "outside share",
                    "bridging people",
                    "key-person risk",
                ],
                rows,
            )
        ],
    )
