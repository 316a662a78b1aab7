"""Introductions on a hand-built graph (figures computed by hand) and their two-step rule against networkx."""

from __future__ import annotations

import datetime as dt
import random

import networkx as nx
import polars as pl
import pytest

from tests.analytics.test_ona import graph_from_edges
from tiepulse.pipelines.analytics.introductions import introductions, two_step_candidates
from tiepulse.pipelines.analytics.org_graph import OrgGraph

AS_OF = dt.date(2026, 3, 1)
#                a1  a2  a3  b1  b2  c1  d1  @x
TEAMS = ["A", "A", "A", "B", "B", "C", "D", None]
COMMUNITIES = [1, 1, 1, 2, 2, 3, 2, 4]
EDGES = [(0, 1, 4.0), (0, 2, 2.0), (1, 3, 3.0), (2, 3, 1.0), (3, 4, 5.0), (2, 5, 1.0), (3, 6, 2.0)]
OUTSIDE_EDGES = [(0, 7, 3.0), (4, 7, 3.0)]


def labelled(graph: OrgGraph, teams: list[str | None], observed: list[bool], internal: list[bool]) -> OrgGraph:
    nodes = graph.nodes.with_columns(
        display_name=pl.col("node_id").str.to_uppercase(),
        team=pl.Series(teams, dtype=pl.String),
        department=pl.lit(None, dtype=pl.String),
        is_internal=pl.Series(internal),
        is_observed=pl.Series(observed),
    )
    return OrgGraph(nodes, graph.directed, graph.undirected)


def hand_graph() -> OrgGraph:
    graph = graph_from_edges(8, EDGES + OUTSIDE_EDGES)
    names = ["a1", "a2", "a3", "b1", "b2", "c1", "d1", "@x"]
    graph = OrgGraph(graph.nodes.with_columns(node_id=pl.Series(names)), graph.directed, graph.undirected)
    observed = [True] * 5 + [False, True, False]
    return labelled(graph, TEAMS, observed, [True] * 7 + [False])


def test_hand_computed_suggestions() -> None:
    """Median tie weight 3 (nine ties); a1 reaches community 1 only, b2 reaches community 2 and team B."""
    table = introductions(hand_graph(), pl.Series(COMMUNITIES), AS_OF)
    rows = {
        ego: table.filter(pl.col("ego_id") == ego)
        .select("rank", "person_id", "new_circle", "via_id", "mutual_contacts", "path_strength", "score")
        .rows()
        for ego in ("a1", "b2")
    }
    # b1: via a2 (weakest link 3) rather than a3 (1), both mutual; c1 only via a3; @x introduces nobody
    assert rows["a1"] == [
        (1, "b1", "community", "a2", 2, pytest.approx(1.0), pytest.approx(0.5)),
        (2, "c1", "community", "a3", 1, pytest.approx(1 / 3), pytest.approx(0.25)),
    ]
    # d1 shares b2's community 2 but not its team: half the novelty
    assert rows["b2"] == [
        (1, "a2", "community", "b1", 1, pytest.approx(1.0), pytest.approx(0.5)),
        (2, "a3", "community", "b1", 1, pytest.approx(1 / 3), pytest.approx(0.25)),
        (3, "d1", "team", "b1", 1, pytest.approx(2 / 3), pytest.approx(0.2)),
    ]
    assert "c1" not in table.get_column("ego_id").to_list(), "only observed people are egos"
    assert "@x" not in table.get_column("person_id").to_list() + table.get_column("via_id").to_list()
    first = table.filter(pl.col("ego_id") == "a1").row(0, named=True)
    assert first["reason"] == (
        "B1 (B) is in community 2, where neither you nor any of your contacts are. A2 works with both of you: "
        "ask A2 for an introduction. You share 2 contacts with them."
    )
    assert table.get_column("as_of").unique().to_list() == [AS_OF]


def test_the_limit_keeps_the_best_per_ego() -> None:
    table = introductions(hand_graph(), pl.Series(COMMUNITIES), AS_OF, limit=1)
    assert table.group_by("ego_id").len().get_column("len").max() == 1
    assert table.filter(pl.col("ego_id") == "b2").get_column("person_id").to_list() == ["a2"]


def reference(graph: OrgGraph, community: list[int]) -> set[tuple[int, int]]:
    """(ego, candidate) pairs by networkx: exactly two hops on the internal people's graph, in a circle not reached."""
    nodes = graph.nodes.to_dicts()
    g = nx.Graph()
    inside = [n["v"] for n in nodes if n["is_internal"]]
    g.add_nodes_from(inside)
    g.add_edges_from((u, v) for u, v in graph.undirected.select("u", "v").rows() if u in inside and v in inside)
    full = nx.Graph(graph.undirected.select("u", "v").rows())
    pairs = set()
    for ego in (n["v"] for n in nodes if n["is_internal"] and n["is_observed"]):
        near = set(full.neighbors(ego)) if ego in full else set()
        reached = {community[x] for x in near | {ego}}
        teams = {nodes[x]["team"] for x in near | {ego}}
        hops = nx.single_source_shortest_path_length(g, ego, cutoff=2)
        for c, d in hops.items():
            if d == 2 and (community[c] not in reached or (nodes[c]["team"] not in teams and nodes[c]["team"])):
                pairs.add((ego, c))
    return pairs


@pytest.mark.parametrize("density", [0.06, 0.5], ids=["sparse", "dense"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_step_neighbourhoods_equal_networkx(seed: int, density: float) -> None:
    """Both plans (from the paths, from the candidates) give the reference's pairs and the same paths; by default a
    sparse graph is walked from its paths, a dense one from its candidates."""
    rng = random.Random(seed)
    n = 60
    edges = [(a, b, round(rng.uniform(0.1, 3), 2)) for a in range(n) for b in range(a + 1, n) if rng.random() < density]
    graph = labelled(
        graph_from_edges(n, edges),
        [rng.choice(["t1", "t2", "t3", "t4", "t5", None]) for _ in range(n)],
        [rng.random() < 0.7 for _ in range(n)],
        [rng.random() < 0.9 for _ in range(n)],
    )
    community = [rng.randrange(1, 7) for _ in range(n)] if density < 0.1 else [rng.randrange(1, 40) for _ in range(n)]
    order = ["e", "c", "b"]
    found = {
        plan: two_step_candidates(graph, pl.Series(community), plan).sort(order) for plan in ("paths", "candidates")
    }
    assert found["paths"].equals(found["candidates"])
    assert two_step_candidates(graph, pl.Series(community)).sort(order).equals(found["paths"])
    pairs = found["paths"].select("e", "c").unique().rows()
    assert set(pairs) == reference(graph, community)
    assert pairs, "the random graphs do have introductions"
