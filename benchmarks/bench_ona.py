"""The ONA stage on a generated organisation, against igraph's own time for the same metrics on the same graph.

The organisation (seeded numpy): ``--people`` people in teams of 25 and departments of 20 teams; each person
writes to about ``--ties`` others, a fifth in their team, two fifths in their department and the rest anywhere,
with lognormal weights (about 1M weighted directed ties at 10,000 people). The stage is ``analyse_period`` on
that graph: the igraph graphs, every person metric (betweenness, harmonic centrality and path length estimated
from the same pivots, PageRank, clustering, Leiden communities with stable labels, bridge scores, Gould-Fernandez
roles, articulation points), the groups and group matrix under the privacy threshold, and the summary.
The floor is igraph alone computing the same metrics on the same graph from the same edge arrays (graph build,
degrees, strength, pivot betweenness and distances, PageRank, local and global clustering, Leiden, articulation
points, components, reciprocity, triangles), best of ``--floor-runs``. The Gould-Fernandez tallies, groups and
matrix have no igraph counterpart, so they count against the ratio. Run:
``python -m benchmarks.bench_ona [--people N] [--ties K]``.
"""

from __future__ import annotations

import argparse
import os

import igraph as ig
import leidenalg
import numpy as np
import polars as pl

from benchmarks.common import markdown_table, peak_rss_mb, timed
from tiepulse.pipelines.analytics.ona import PathOptions
from tiepulse.pipelines.analytics.org_graph import OrgGraph, undirected_ties
from tiepulse.pipelines.analytics.org_marts import OrgOptions, analyse_period

TEAM = 25
TEAMS_PER_DEPARTMENT = 20


def generate(people: int, ties: int, seed: int) -> OrgGraph:
    rng = np.random.default_rng(seed)
    src = np.repeat(np.arange(people), ties)
    team = src // TEAM
    department = src // (TEAM * TEAMS_PER_DEPARTMENT)
    kind = rng.random(src.size)
    in_team = team * TEAM + rng.integers(0, TEAM, src.size)
    dept_size = TEAM * TEAMS_PER_DEPARTMENT
    in_department = department * dept_size + rng.integers(0, dept_size, src.size)
    anywhere = rng.integers(0, people, src.size)
    dst = np.where(kind < 0.2, in_team, np.where(kind < 0.6, in_department, anywhere)).clip(0, people - 1)
    edges = (
        pl.DataFrame({"src": src, "dst": dst, "weight": rng.lognormal(0.0, 1.0, src.size)})
        .filter(pl.col("src") != pl.col("dst"))
        .group_by("src", "dst")
        .agg(pl.col("weight").sum(), messages=pl.len().cast(pl.Int64))
        .with_columns(meeting_hours=pl.col("weight") / 4)
        .sort("src", "dst")
    )
    undirected = undirected_ties(edges)
    ids = np.arange(people)
    nodes = pl.DataFrame(
        {
            "v": ids,
            "node_id": [f"p{i:05d}@acme.example" for i in ids],
            "display_name": [f"Person {i}" for i in ids],
            "team": [f"team-{i // TEAM:03d}" for i in ids],
            "department": [f"dept-{i // (TEAM * TEAMS_PER_DEPARTMENT):02d}" for i in ids],
            "org_unit": [None] * people,
            "location": [None] * people,
            "is_internal": [True] * people,
            "is_observed": [True] * people,
        },
        schema_overrides={"org_unit": pl.String, "location": pl.String},
    )
    return OrgGraph(nodes, edges, undirected)


def igraph_floor(graph: OrgGraph, options: PathOptions) -> float:
    """igraph alone: the same metrics on the same graph, from the same edge arrays."""

    def run() -> None:
        und = graph.undirected
        g = ig.Graph(n=graph.n, edges=und.select("u", "v").to_numpy(), directed=False)
        g.es["weight"] = und.get_column("weight").to_numpy()
        d = ig.Graph(n=graph.n, edges=graph.directed.select("src", "dst").to_numpy(), directed=True)
        d.es["weight"] = graph.directed.get_column("weight").to_numpy()
        pivots = options.pivot_sample(graph.n)
        d.indegree(), d.outdegree(), g.strength(weights="weight")
        if pivots is None:
            g.betweenness(directed=False), g.harmonic_centrality(), g.average_path_length(directed=False)
        else:
            g.betweenness(directed=False, sources=pivots), g.distances(source=pivots)
        d.pagerank(weights="weight"), g.transitivity_local_undirected(mode="zero"), g.transitivity_undirected()
        leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight", seed=options.seed)
        g.articulation_points(), g.connected_components(), d.reciprocity(), g.list_triangles()

    return timed(run)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--ties", type=int, default=100, help="directed ties written per person")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--floor-runs", type=int, default=2)
    args = parser.parse_args()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    graph, generated = timed(lambda: generate(args.people, args.ties, args.seed))
    options = OrgOptions()
    floor = min(igraph_floor(graph, options.paths) for _ in range(args.floor_runs))
    fresh = OrgGraph(graph.nodes, graph.directed, graph.undirected)  # its igraph graphs are built in the stage
    result, stage = timed(lambda: analyse_period(fresh, "current", options, None, has_teams=True))
    rows = [
        ["people", f"{graph.n:,}"],
        ["directed weighted ties", f"{graph.directed.height:,}"],
        ["undirected ties", f"{graph.undirected.height:,}"],
        ["generation (s)", f"{generated:.1f}"],
        ["igraph floor (s, best of runs)", f"{floor:.1f}"],
        ["ONA stage (s)", f"{stage:.1f}"],
        ["ratio stage / floor", f"{stage / floor:.2f}x"],
        ["peak RSS (MB)", f"{peak_rss_mb():,.0f}"],
        ["group rows / matrix rows", f"{result.groups.height:,} / {result.matrix.height:,}"],
        ["load average at start (1/5/15 min)", load],
    ]
    print(markdown_table(["measure", "value"], rows))


if __name__ == "__main__":
    main()
