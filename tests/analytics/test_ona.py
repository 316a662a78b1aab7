"""Organisation graph metrics against networkx on hand-built graphs; the graph, communities and groups rules."""

from __future__ import annotations

import datetime as dt
import random

import networkx as nx
import numpy as np
import polars as pl
import pytest

from tests.analytics.ona_reference import EXACT, TOLERANCE, assert_matches_networkx, to_networkx
from tiepulse.pipelines.analytics.ona import PathOptions, communities, path_metrics, person_metrics, stable_labels
from tiepulse.pipelines.analytics.org_graph import OrgGraph, build_org_graph
from tiepulse.pipelines.analytics.org_groups import OTHER, UNKNOWN, group_table, memberships
from tiepulse.pipelines.org_ties import WindowTies

UTC = dt.UTC


def graph_from_edges(n: int, edges: list[tuple[int, int, float]]) -> OrgGraph:
    nodes = pl.DataFrame(
        {"v": list(range(n)), "node_id": [f"p{i}" for i in range(n)]}, schema_overrides={"v": pl.Int64}
    )
    directed = pl.DataFrame(
        {
            "src": [a for a, _, _ in edges],
            "dst": [b for _, b, _ in edges],
            "weight": [w for _, _, w in edges],
            "messages": [1] * len(edges),
            "meeting_hours": [0.0] * len(edges),
        },
        schema_overrides={"src": pl.Int64, "dst": pl.Int64, "messages": pl.Int64},
    )
    undirected = (
        directed.with_columns(u=pl.min_horizontal("src", "dst"), v=pl.max_horizontal("src", "dst"))
        .group_by("u", "v")
        .agg(pl.col("weight").sum(), pl.col("messages").sum(), pl.col("meeting_hours").sum())
        .sort("u", "v")
    )
    return OrgGraph(nodes, directed, undirected)


def two_teams_and_a_broker() -> tuple[OrgGraph, pl.Series]:
    """Two teams of four (each a clique, both directions) joined only through person 8 (a broker)."""
    edges = [(a, b, 1.0 + (a + b) % 3) for t in (0, 4) for a in range(t, t + 4) for b in range(t, t + 4) if a != b]
    edges += [(8, 0, 2.0), (1, 8, 1.0), (8, 5, 1.5), (6, 8, 0.5)]
    return graph_from_edges(9, edges), pl.Series(["a"] * 4 + ["b"] * 4 + ["c"])


def random_graph(seed: int, n: int = 40, p: float = 0.12) -> tuple[OrgGraph, pl.Series]:
    rng = random.Random(seed)
    edges = [(a, b, round(rng.uniform(0.1, 3), 3)) for a in range(n) for b in range(n) if a != b and rng.random() < p]
    return graph_from_edges(n, edges), pl.Series([f"g{rng.randrange(5)}" for _ in range(n)])


def test_every_metric_equals_networkx_on_a_broker_between_two_teams() -> None:
    graph, group = two_teams_and_a_broker()
    assert_matches_networkx(graph, group)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_metric_equals_networkx_on_random_directed_graphs(seed: int) -> None:
    graph, group = random_graph(seed)
    assert_matches_networkx(graph, group)


def test_a_path_and_a_star() -> None:
    path = graph_from_edges(4, [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)])
    assert_matches_networkx(path, pl.Series(["x", "x", "y", "y"]))
    star = graph_from_edges(5, [(0, k, 1.0) for k in range(1, 5)])
    assert_matches_networkx(star, pl.Series(["hub", "a", "b", "c", "d"]))


def test_the_broker_has_the_highest_betweenness_and_is_a_key_person() -> None:
    graph, group = two_teams_and_a_broker()
    metrics = person_metrics(graph, path_metrics(graph.graph, EXACT), group)
    top = metrics.sort("betweenness", descending=True).row(0, named=True)
    assert top["v"] == 8 and top["is_broker"] and top["is_key_person"]
    assert top["broker_role"] == "liaison"


def test_modularity_of_the_communities_equals_networkx() -> None:
    graph, _ = random_graph(7, n=60, p=0.08)
    membership, modularity = communities(graph.graph, seed=3)
    g, _ = to_networkx(graph)
    parts = [{v for v, c in enumerate(membership) if c == k} for k in set(membership)]
    assert abs(modularity - nx.community.modularity(g, parts, weight="weight")) < TOLERANCE


def test_sampled_paths_estimate_the_exact_ones() -> None:
    graph, _ = random_graph(5, n=400, p=0.02)
    exact = path_metrics(graph.graph, PathOptions(exact_max_nodes=10**6))
    sampled = path_metrics(graph.graph, PathOptions(exact_max_nodes=10, pivots=200, seed=1))
    between, sampled_between = exact.betweenness, sampled.betweenness
    assert np.abs(sampled_between - between).sum() / between.sum() < 0.2
    assert np.corrcoef(sampled_between, between)[0, 1] > 0.95
    assert np.abs(sampled.harmonic - exact.harmonic).max() < 0.05
    assert exact.average_path_length is not None and sampled.average_path_length is not None
    assert abs(sampled.average_path_length - exact.average_path_length) < 0.05 * exact.average_path_length


def test_community_labels_follow_the_previous_run_by_overlap() -> None:
    found = pl.DataFrame({"node_id": list("abcdefg"), "raw": [0, 0, 0, 1, 1, 2, 2]})
    previous = pl.DataFrame({"node_id": list("abcdexy"), "community_id": [7, 7, 7, 3, 3, 9, 9]})
    labels = dict(stable_labels(found, previous).iter_rows())
    assert labels["a"] == labels["b"] == labels["c"] == 7
    assert labels["d"] == labels["e"] == 3
    assert labels["f"] == labels["g"] == 10  # new: after the largest previous id
    first = dict(stable_labels(found, None).iter_rows())
    assert first["a"] == 1 and first["d"] in (2, 3)


def test_directions_follow_the_actor_and_shared_records_count_once() -> None:
    at = dt.datetime(2026, 3, 1, 10, tzinfo=UTC)
    rows = [
        # one message a -> b seen in both mailboxes, a meeting of a and b seen in both calendars
        ("a@x.com", "b@x.com", "ego", "email", "m1"),
        ("b@x.com", "a@x.com", "alter", "email", "m1"),
        ("a@x.com", "b@x.com", "both", "meeting", "e1"),
        ("b@x.com", "a@x.com", "both", "meeting", "e1"),
        ("a@x.com", "out@client.com", "ego", "email", "m2"),
    ]
    inter = pl.DataFrame(
        {
            "ego_id": [r[0] for r in rows],
            "alter_id": [r[1] for r in rows],
            "actor": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
            "source": ["email" if r[3] == "email" else "calendar" for r in rows],
            "source_key": [r[4] for r in rows],
            "occurred_at": [at] * len(rows),
            "weight": [1.0, 1.0, 2.0, 2.0, 1.0],
            "shared_minutes": [None, None, 30.0, 30.0, None],
        }
    )
    persons = pl.DataFrame(
        {
            "person_id": ["a@x.com", "b@x.com", "out@client.com"],
            "display_name": ["A", "B", "Out"],
            "is_internal": [True, True, False],
            "is_automated": [False, False, False],
            "domain": ["x.com", "x.com", "client.com"],
            **{c: [None, None, None] for c in ("team", "department", "org_unit", "location")},
        },
        schema_overrides={c: pl.String for c in ("team", "department", "org_unit", "location")},
    )
    start, end = at - dt.timedelta(days=1), at + dt.timedelta(days=1)
    ties = WindowTies.of_frame(inter).ties(start, end)
    inside = build_org_graph(ties, persons, ["a@x.com", "b@x.com"], "exclude")
    assert inside.n == 2
    weights = {(s, d): (w, m, h) for s, d, w, m, h in inside.directed.rows()}
    assert weights == {(0, 1): (3.0, 1, 0.5), (1, 0): (2.0, 0, 0.5)}
    with_domains = build_org_graph(ties, persons, ["a@x.com"], "by_domain")
    assert with_domains.nodes.get_column("node_id").to_list() == ["@client.com", "a@x.com", "b@x.com"]
    assert with_domains.nodes.filter(pl.col("is_observed")).get_column("node_id").to_list() == ["a@x.com"]


def test_small_groups_merge_into_other_and_a_small_other_is_suppressed() -> None:
    teams = ["big"] * 6 + ["s1"] * 2 + ["s2"] * 2 + [None] * 2
    labels = pl.DataFrame({"v": list(range(12)), "is_internal": [True] * 12, "team": teams})
    labels = labels.with_columns(pl.col("v").cast(pl.Int64))
    merged = memberships(labels, 5)
    assert dict(merged.group_by("group_name").len().iter_rows()) == {"big": 6, OTHER: 6}  # s1, s2 and unknown
    assert not merged.get_column("is_suppressed").any()
    known = memberships(labels.with_columns(pl.col("team").fill_null("big")), 5)
    assert dict(known.group_by("group_name").len().iter_rows()) == {"big": 8, OTHER: 4}
    graph = graph_from_edges(12, [(a, (a + 1) % 12, 1.0) for a in range(12)])
    groups = group_table(graph, known, "current", 5)
    shown, hidden = groups.filter(~pl.col("is_suppressed")), groups.filter(pl.col("is_suppressed"))
    assert shown.get_column("group_name").to_list() == ["big"] and shown.get_column("size").to_list() == [8]
    assert hidden.get_column("group_name").to_list() == [OTHER]
    assert (
        hidden.select(pl.exclude("period", "group_type", "group_name", "is_suppressed", "min_group_size"))
        .null_count()
        .row(0)
        == (1,) * 6
    )
    unknown = memberships(labels.with_columns(pl.col("team").fill_null("big").replace("s1", None)), 2)
    assert UNKNOWN in unknown.get_column("group_name").to_list()


def test_an_organisation_smaller_than_the_threshold_has_no_group_rows() -> None:
    labels = pl.DataFrame({"v": [0, 1, 2], "is_internal": [True] * 3, "team": ["a", "a", "b"]})
    assert memberships(labels, 5).is_empty()
