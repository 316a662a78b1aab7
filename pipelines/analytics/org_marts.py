"""The ONA marts of one analysis date: the 'current' graph and one per month, as four frames.

Called by the Dagster asset (``pipelines/assets/ona.py``), ``tiepulse org --as-of`` and the tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import igraph as ig
import polars as pl

from tiepulse.core.settings import Settings
from tiepulse.pipelines.analytics.common import Frame, as_of_instant, lazy
from tiepulse.pipelines.analytics.fingerprint import checksum, digest, months_since
from tiepulse.pipelines.analytics.monthly import month_cutoff
from tiepulse.pipelines.analytics.ona import (
    PathOptions,
    bridge_scores,
    communities,
    path_metrics,
    person_metrics,
    stable_labels,
)
from tiepulse.pipelines.analytics.org_columns import CURRENT
from tiepulse.pipelines.analytics.org_graph import (
    DIRECTORY_GROUPS,
    OrgGraph,
    build_org_graph,
    node_table,
    period_window,
)
from tiepulse.pipelines.analytics.org_groups import (
    GROUP_SCHEMA,
    MATRIX_SCHEMA,
    UNKNOWN,
    group_matrix,
    group_table,
    memberships,
)
from tiepulse.pipelines.org_ties import WindowTies

PEOPLE_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "person_id": pl.String(),
    "display_name": pl.String(),
    "team": pl.String(),
    "department": pl.String(),
    "community_id": pl.Int64(),
    "degree_in": pl.Int64(),
    "degree_out": pl.Int64(),
    "weighted_degree": pl.Float64(),
    "betweenness": pl.Float64(),
    "harmonic_centrality": pl.Float64(),
    "pagerank": pl.Float64(),
    "clustering": pl.Float64(),
    "bridge_score": pl.Float64(),
    "broker_role": pl.String(),
    "brokerage": pl.Int64(),
    "is_broker": pl.Boolean(),
    "is_key_person": pl.Boolean(),
    "is_internal": pl.Boolean(),
    "is_observed": pl.Boolean(),
}
SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "nodes": pl.Int64(),
    "edges": pl.Int64(),
    "density": pl.Float64(),
    "clustering": pl.Float64(),
    "modularity": pl.Float64(),
    "communities": pl.Int64(),
    "giant_component_share": pl.Float64(),
    "reciprocity": pl.Float64(),
    "avg_path_length": pl.Float64(),
    "median_health": pl.Float64(),
    "observed_people": pl.Int64(),
    "community_team_nmi": pl.Float64(),
    "community_team_ari": pl.Float64(),
}


@dataclass(frozen=True)
class OrgOptions:
    window_days: int = 90
    outside_contacts: str = "exclude"
    min_group_size: int = 5
    paths: PathOptions = field(default_factory=PathOptions)


def org_options(settings: Settings) -> OrgOptions:
    org = settings.config.org
    return OrgOptions(
        window_days=org.window_days,
        outside_contacts=org.outside_contacts,
        min_group_size=settings.config.privacy.min_group_size,
        paths=PathOptions(org.exact_betweenness_max_nodes, org.pivots, org.seed),
    )


@dataclass(frozen=True)
class OrgMarts:
    people: pl.DataFrame
    groups: pl.DataFrame
    matrix: pl.DataFrame
    summary: pl.DataFrame
    has_teams: bool
    """Whether the directory names teams (else group metrics fall back to communities)."""
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Each period's fingerprint: a digest of everything its graph was built from (``period_fingerprint``)."""
    recomputed: list[str] = field(default_factory=list)
    """The periods computed (the others were reused)."""


@dataclass(frozen=True)
class PeriodResult:
    people: pl.DataFrame
    groups: pl.DataFrame
    matrix: pl.DataFrame
    summary: dict[str, object]

    def named(self, period: str) -> PeriodResult:
        """The same result published under another period's name."""
        label = pl.lit(period, dtype=pl.String)
        return PeriodResult(
            self.people.with_columns(period=label),
            self.groups.with_columns(period=label),
            self.matrix.with_columns(period=label),
            self.summary,
        )


Reuse = Callable[[str, str], PeriodResult | None]
"""Given a period and its fingerprint, the result published for it when it was computed from the same inputs."""


def analyse_period(
    graph: OrgGraph, period: str, options: OrgOptions, previous: pl.DataFrame | None, has_teams: bool
) -> PeriodResult:
    """Every ONA figure of one period's graph; ``previous`` (``node_id``, ``community_id``) keeps labels stable."""
    nodes = graph.nodes
    g = graph.graph
    membership, modularity = communities(g, options.paths.seed)
    labels = stable_labels(nodes.select("node_id", raw=pl.Series(membership, dtype=pl.Int64)), previous)
    nodes = nodes.join(labels, on="node_id", how="left").sort("v")
    formal = "team" if has_teams else "community_id"
    broker_group = nodes.get_column(formal).cast(pl.String).fill_null(UNKNOWN)
    paths = path_metrics(g, options.paths)
    metrics = person_metrics(graph, paths, broker_group).with_columns(
        bridge_score=bridge_scores(graph, nodes.get_column("community_id"))
    )
    people = (
        nodes.join(metrics, on="v")
        .with_columns(period=pl.lit(period), person_id="node_id")
        .select(list(PEOPLE_SCHEMA))
        .cast(PEOPLE_SCHEMA)  # type: ignore[arg-type]
    )
    group_labels = nodes.select(
        "v",
        "is_internal",
        *[c for c in DIRECTORY_GROUPS if _any(nodes, c)],
        community=pl.col("community_id").cast(pl.String),
    )
    members = memberships(group_labels, options.min_group_size)
    teams = nodes.get_column("team").cast(pl.String).fill_null(UNKNOWN)
    summary = {
        "nodes": graph.n,
        "edges": g.ecount(),
        "density": g.density() if graph.n > 1 else None,
        "clustering": _nan_none(g.transitivity_undirected()),
        "modularity": modularity,
        "communities": len(set(membership)),
        "giant_component_share": max(g.connected_components().sizes()) / graph.n if graph.n else None,
        "reciprocity": graph.digraph.reciprocity() if graph.directed.height else None,
        "avg_path_length": paths.average_path_length,
        "observed_people": int(nodes.get_column("is_observed").sum()),
        "community_team_nmi": _compare(membership, teams, "nmi") if has_teams else None,
        "community_team_ari": _compare(membership, teams, "adjusted_rand") if has_teams else None,
    }
    return PeriodResult(
        people,
        group_table(graph, members, period, options.min_group_size),
        group_matrix(graph, members, period),
        summary,
    )


def _any(nodes: pl.DataFrame, column: str) -> bool:
    return nodes.filter(pl.col("is_internal") & pl.col(column).is_not_null()).height > 0


def _nan_none(value: float) -> float | None:
    return None if value != value else float(value)


def _compare(membership: list[int], teams: pl.Series, method: str) -> float | None:
    """NMI or adjusted Rand index of the communities against the formal teams (igraph's implementation)."""
    codes = teams.cast(pl.Categorical).to_physical().cast(pl.Int64).to_list()
    if len(codes) < 2:
        return None
    return float(ig.compare_communities(membership, codes, method=method))


def compute_org(
    ties: WindowTies,
    persons: Frame,
    egos: list[str],
    as_of: dt.date,
    options: OrgOptions,
    previous_labels: pl.DataFrame | None = None,
    health_monthly: Frame | None = None,
    reuse: Reuse | None = None,
) -> OrgMarts:
    """The four ONA marts as of ``as_of``: 'current' and each month since the first interaction, each period's
    graph built from its window's ``ties`` (summed by DuckDB: a people-sized edge list a period).

    ``previous_labels`` (``period``, ``person_id``, ``community_id``: the last published people mart) keeps
    community ids stable: each period is matched to its own previous labels, else to the period before it.
    ``reuse`` offers a month's published result when its fingerprint is unchanged. 'current' is the running month's
    graph (the same window), so it takes that month's result under its own name; it is computed only when no month
    has its window (no interaction yet)."""
    persons = lazy(persons).collect()
    has_teams = persons.filter(pl.col("is_internal")).get_column("team").drop_nulls().len() > 0
    months = months_since(ties.first_day(as_of_instant(as_of)), as_of)
    periods = [(m.strftime("%Y-%m"), month_cutoff(m, as_of), m) for m in months] + [(CURRENT, as_of, None)]
    stored = previous_labels if previous_labels is not None else pl.DataFrame(schema={"period": pl.String})
    people, groups, matrix, summaries = [], [], [], []
    last: pl.DataFrame | None = None
    latest: tuple[str, PeriodResult] | None = None
    context = checksum(node_table(persons, options.outside_contacts).collect()), egos, has_teams, options
    fingerprints, recomputed = {}, []
    windows = [period_window(end, options.window_days) for _, end, _ in periods]
    for (period, _, month), (start, stop), rows in zip(periods, windows, ties.checksums(windows), strict=True):
        fingerprints[period] = digest(start, stop, rows, *context)
        result = reuse(period, fingerprints[period]) if reuse is not None and month is not None else None
        if month is None and latest is not None and latest[0] == fingerprints[period]:
            result = latest[1].named(period)
        elif result is None:
            graph = build_org_graph(ties.ties(start, stop), persons, egos, options.outside_contacts)
            own = stored.filter(pl.col("period") == period) if stored.height else stored
            previous = own.select(node_id="person_id", community_id="community_id") if own.height else last
            result = analyse_period(graph, period, options, previous, has_teams)
            recomputed.append(period)
        last = result.people.select(node_id="person_id", community_id="community_id")
        latest = fingerprints[period], result
        people.append(result.people)
        groups.append(result.groups)
        matrix.append(result.matrix)
        if month is not None:
            summaries.append({"month": month, **result.summary})
    summary = pl.DataFrame(summaries, schema={k: v for k, v in SUMMARY_SCHEMA.items() if k != "median_health"})
    summary = _with_health(summary, health_monthly).select(list(SUMMARY_SCHEMA))
    return OrgMarts(
        pl.concat(people) if people else pl.DataFrame(schema=PEOPLE_SCHEMA),
        pl.concat(groups) if groups else pl.DataFrame(schema=GROUP_SCHEMA),
        pl.concat(matrix) if matrix else pl.DataFrame(schema=MATRIX_SCHEMA),
        summary,
        has_teams,
        fingerprints,
        recomputed,
    )


def _with_health(summary: pl.DataFrame, health: Frame | None) -> pl.DataFrame:
    """The median health score of the egos active in each month (``mart_network_health`` month rows)."""
    if health is None:
        return summary.with_columns(median_health=pl.lit(None, dtype=pl.Float64))
    medians = (
        lazy(health)
        .filter(pl.col("period") == "month")
        .group_by("month")
        .agg(median_health=pl.col("health_score").median().cast(pl.Float64))
        .collect()
    )
    return summary.join(medians, on="month", how="left")
