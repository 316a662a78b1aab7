"""networkx as the reference for every ONA graph metric, and the comparisons the ONA tests share."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import polars as pl

from tiepulse.pipelines.analytics.ona import ROLES, PathOptions, brokerage_roles, path_metrics, person_metrics
from tiepulse.pipelines.analytics.org_graph import OrgGraph

TOLERANCE = 1e-9
EXACT = PathOptions(exact_max_nodes=10**9)


def to_networkx(graph: OrgGraph) -> tuple[nx.Graph, nx.DiGraph]:
    g, d = nx.Graph(), nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    d.add_nodes_from(range(graph.n))
    g.add_weighted_edges_from(graph.undirected.select("u", "v", "weight").rows())
    d.add_weighted_edges_from(graph.directed.select("src", "dst", "weight").rows())
    return g, d


def gould_fernandez_by_enumeration(d: nx.DiGraph, group: list[str]) -> dict[int, dict[str, int]]:
    """Every open two-path a -> b -> c (a != c, no a -> c) classified by brute force."""
    counts = {b: dict.fromkeys(ROLES, 0) for b in d.nodes}
    for b in d.nodes:
        for a, c in itertools.product(d.predecessors(b), d.successors(b)):
            if a == c or d.has_edge(a, c):
                continue
            ga, gb, gc = group[a], group[b], group[c]
            if ga == gb == gc:
                role = "coordinator"
            elif gc == gb:
                role = "gatekeeper"
            elif ga == gb:
                role = "representative"
            elif ga == gc:
                role = "consultant"
            else:
                role = "liaison"
            counts[b][role] += 1
    return counts


def assert_matches_networkx(graph: OrgGraph, group: pl.Series) -> None:
    """Every metric of ``person_metrics`` (exact paths) equals networkx's to 1e-9 on ``graph``."""
    paths = path_metrics(graph.graph, EXACT)
    ours = person_metrics(graph, paths, group).sort("v")
    g, d = to_networkx(graph)
    n = graph.n

    def close(column: str, reference: dict[int, float]) -> None:
        expected = np.array([reference[v] for v in range(n)], dtype=float)
        got = ours.get_column(column).to_numpy()
        assert np.allclose(got, expected, rtol=0, atol=TOLERANCE), (column, np.abs(got - expected).max())

    close("betweenness", nx.betweenness_centrality(g, normalized=True))
    close("harmonic_centrality", {v: h / (n - 1) for v, h in nx.harmonic_centrality(g).items()})
    close("pagerank", nx.pagerank(d, alpha=0.85, weight="weight", tol=1e-15, max_iter=100_000))
    close("clustering", nx.clustering(g))
    close("weighted_degree", dict(g.degree(weight="weight")))
    close("degree_in", dict(d.in_degree()))
    close("degree_out", dict(d.out_degree()))
    key = set(nx.articulation_points(g))
    assert set(ours.filter(pl.col("is_key_person")).get_column("v").to_list()) == key
    roles = brokerage_roles(graph, group).sort("v")
    expected_roles = gould_fernandez_by_enumeration(d, group.to_list())
    for row in roles.iter_rows(named=True):
        assert {r: row[r] for r in ROLES} == expected_roles[row["v"]], row["v"]
    giant = g.subgraph(max(nx.connected_components(g), key=len)) if n else g
    if giant.number_of_edges() and nx.is_connected(g):
        apl = paths.average_path_length
        assert apl is not None and abs(apl - nx.average_shortest_path_length(giant)) < TOLERANCE
