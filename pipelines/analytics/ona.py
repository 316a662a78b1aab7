"""Person-level organisational network analysis of one period's graph, with python-igraph and leidenalg.

Paths (betweenness, harmonic centrality, average path length) count hops along ties, whatever their weight;
PageRank and weighted degree use the weights; clustering is the share of a person's contact pairs that are tied.
Betweenness and harmonic centrality are exact up to ``exact_max_nodes`` people and estimated from a seeded sample
of pivot sources beyond (docs/metrics.md gives the measured error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import polars as pl
from scipy import sparse

from tiepulse.pipelines.analytics.org_graph import OrgGraph

TUKEY_K = 1.5
"""Tukey's upper fence, Q3 + k * IQR: the outlier rule both broker conditions use (the textbook k, not fitted)."""
ROLES = ("coordinator", "gatekeeper", "representative", "consultant", "liaison")
"""Gould-Fernandez roles of b on an open two-path a -> b -> c (a not tied to c), by who shares b's group."""


@dataclass(frozen=True)
class PathOptions:
    exact_max_nodes: int = 3000
    pivots: int = 500
    seed: int = 42

    def pivot_sample(self, n: int) -> list[int] | None:
        """The pivot vertices when the graph is too large for exact all-pairs paths, else None."""
        if n <= self.exact_max_nodes:
            return None
        return sorted(np.random.default_rng(self.seed).choice(n, size=min(self.pivots, n), replace=False).tolist())


@dataclass(frozen=True)
class PathMetrics:
    betweenness: np.ndarray
    harmonic: np.ndarray
    average_path_length: float | None


def path_metrics(g: ig.Graph, options: PathOptions) -> PathMetrics:
    """Betweenness, harmonic centrality and average path length; on a large graph all three from one sample of
    pivot sources (one breadth-first search each for the distances, one for the betweenness)."""
    pivots = options.pivot_sample(g.vcount())
    if pivots is None:
        return PathMetrics(betweenness(g, None), harmonic(g, None), average_path_length(g, None))
    distances = np.asarray(g.distances(source=pivots, mode="all"), dtype=float)
    return PathMetrics(
        betweenness(g, pivots), harmonic(g, pivots, distances), average_path_length(g, pivots, distances)
    )


def betweenness(g: ig.Graph, pivots: list[int] | None) -> np.ndarray:
    """Normalised betweenness (hops), as networkx's ``betweenness_centrality``: pairs through v over (n-1)(n-2)/2.

    With ``pivots``, Brandes and Pich's estimate: paths from the pivots only, scaled by n / k."""
    n = g.vcount()
    if n < 3:
        return np.zeros(n)
    if pivots is None:
        raw = np.asarray(g.betweenness(directed=False))
    else:
        # from k of the n sources, each of the sampled (source, target) pairs counts half an unordered pair
        raw = np.asarray(g.betweenness(directed=False, sources=pivots)) * n / len(pivots)
    return raw * 2.0 / ((n - 1) * (n - 2))


def harmonic(g: ig.Graph, pivots: list[int] | None, distances: np.ndarray | None = None) -> np.ndarray:
    """Harmonic centrality normalised by n - 1 (the mean of 1 / distance to every other person; 0 if unreachable).

    With ``pivots`` (and their ``distances`` to everyone): the mean over the pivots other than the person."""
    n = g.vcount()
    if n < 2:
        return np.zeros(n)
    if pivots is None:
        return np.asarray(g.harmonic_centrality(mode="all", normalized=True))
    if distances is None:
        distances = np.asarray(g.distances(source=pivots, mode="all"), dtype=float)
    with np.errstate(divide="ignore"):
        inverse = np.where(distances > 0, 1.0 / distances, 0.0)
    counted = len(pivots) - np.isin(np.arange(n), pivots)
    return np.asarray(inverse.sum(axis=0) / counted)


def average_path_length(g: ig.Graph, pivots: list[int] | None, distances: np.ndarray | None = None) -> float | None:
    """Mean hops between connected pairs (estimated from the pivots' distances); None without a pair."""
    if pivots is None:
        value = g.average_path_length(directed=False, unconn=True) if g.ecount() else math.nan
        return None if math.isnan(value) else float(value)
    if distances is None:
        distances = np.asarray(g.distances(source=pivots, mode="all"), dtype=float)
    finite = distances[np.isfinite(distances) & (distances > 0)]
    return float(finite.mean()) if finite.size else None


def communities(g: ig.Graph, seed: int) -> tuple[list[int], float]:
    """Leiden communities maximising weighted modularity (seeded), and that modularity."""
    if g.ecount() == 0:
        return list(range(g.vcount())), 0.0
    partition = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight", seed=seed)
    membership = list(partition.membership)
    return membership, float(g.modularity(membership, weights="weight"))


def stable_labels(found: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Relabel ``found`` (``node_id``, ``raw``) so each community keeps the id of the previous run's community it
    overlaps most (greedily, largest overlap first); the others get new ids, larger communities first.

    Returns ``node_id``, ``community_id``."""
    matched: dict[int, int] = {}
    taken: set[int] = set()
    if previous is not None and previous.height:
        overlap = (
            found.join(previous.select("node_id", "community_id"), on="node_id")
            .group_by("raw", "community_id")
            .len()
            .sort(["len", "raw", "community_id"], descending=[True, False, False])
        )
        # one row per pair of overlapping communities, not per person
        for raw, label, _ in overlap.iter_rows():
            if raw not in matched and label not in taken:
                matched[raw] = label
                taken.add(label)
        next_id = int(previous.get_column("community_id").max() or 0) + 1  # type: ignore[arg-type]
    else:
        next_id = 1
    sizes = found.group_by("raw").len().sort(["len", "raw"], descending=[True, False])
    for raw in sizes.get_column("raw").to_list():
        if raw not in matched:
            matched[raw] = next_id
            next_id += 1
    mapping = pl.DataFrame(
        {"raw": list(matched), "community_id": list(matched.values())},
        schema={"raw": pl.Int64, "community_id": pl.Int64},
    )
    return found.join(mapping, on="raw").select("node_id", "community_id")


def brokerage_roles(graph: OrgGraph, group: pl.Series) -> pl.DataFrame:
    """Gould-Fernandez role counts per vertex ``v`` (columns ``ROLES``) on the directed graph, ``group`` being each
    vertex's group (never null: the ONA names a missing one). Counted from group tallies of in- and out-neighbours,
    minus the two-paths a -> b -> a and the closed ones (a -> c tied: from sparse products, ``_closed_roles``), so
    no two-path is listed."""
    groups = pl.DataFrame({"v": graph.nodes.get_column("v"), "g": group})
    edges = graph.directed.select("src", "dst")
    ins = (
        edges.join(groups.rename({"v": "src", "g": "ga"}), on="src")
        .group_by(pl.col("dst").alias("b"), "ga")
        .len("n_in")
    )
    outs = (
        edges.join(groups.rename({"v": "dst", "g": "gc"}), on="dst")
        .group_by(pl.col("src").alias("b"), "gc")
        .len("n_out")
    )
    back = (
        edges.join(edges.rename({"src": "dst", "dst": "src"}), on=["src", "dst"])
        .join(groups.rename({"v": "src", "g": "ga"}), on="src")
        .group_by(pl.col("dst").alias("b"), "ga")
        .len("n_back")
    )
    own = groups.rename({"v": "b", "g": "gb"})

    def tally(frame: pl.DataFrame, group_col: str, count: str) -> pl.DataFrame:
        same = pl.col(group_col) == pl.col("gb")
        return (
            frame.join(own, on="b")
            .group_by("b")
            .agg(same=pl.col(count).filter(same).sum(), other=pl.col(count).filter(~same).sum())
        )

    tin, tout = tally(ins, "ga", "n_in"), tally(outs, "gc", "n_out")
    consult = (
        ins.join(outs, left_on=["b", "ga"], right_on=["b", "gc"])
        .join(own, on="b")
        .filter(pl.col("ga") != pl.col("gb"))
        .group_by("b")
        .agg(all_paths=(pl.col("n_in") * pl.col("n_out")).sum())
    )
    loops = (
        back.join(own, on="b")
        .group_by("b")
        .agg(
            same=pl.col("n_back").filter(pl.col("ga") == pl.col("gb")).sum(),
            other=pl.col("n_back").filter(pl.col("ga") != pl.col("gb")).sum(),
        )
    )
    closed = _closed_roles(graph, groups)
    counts = (
        groups.select(b="v")
        .join(tin.rename({"same": "in_same", "other": "in_other"}), on="b", how="left")
        .join(tout.rename({"same": "out_same", "other": "out_other"}), on="b", how="left")
        .join(consult, on="b", how="left")
        .join(loops.rename({"same": "loop_same", "other": "loop_other"}), on="b", how="left")
        .join(closed, on="b", how="left")
        .fill_null(0)
    )
    consultant = pl.col("all_paths") - pl.col("loop_other")
    return counts.select(
        v="b",
        coordinator=pl.col("in_same") * pl.col("out_same") - pl.col("loop_same") - pl.col("closed_coordinator"),
        gatekeeper=pl.col("in_other") * pl.col("out_same") - pl.col("closed_gatekeeper"),
        representative=pl.col("in_same") * pl.col("out_other") - pl.col("closed_representative"),
        consultant=consultant - pl.col("closed_consultant"),
        liaison=pl.col("in_other") * pl.col("out_other") - pl.col("all_paths") - pl.col("closed_liaison"),
    ).with_columns(pl.col(r).cast(pl.Int64) for r in ROLES)


def _closed_roles(graph: OrgGraph, groups: pl.DataFrame) -> pl.DataFrame:
    """Per broker b, the closed two-paths a -> b -> c with a -> c, by role (columns ``closed_<role>``).

    Counted without listing them: for the vertices a of one group at a time, the sparse product of their rows of
    the adjacency matrix with itself gives, per pair (b, c), how many of them point to both; kept where b -> c,
    that is the closed two-paths through b to c from that group. Work: the sum of the out-degrees squared; memory:
    one such product at a time. (Listing the triangles instead held them as Python tuples: an organisation-year
    with meetings of everyone has hundreds of millions, 14.6 GB before the step had its first month.)"""
    n = graph.n
    edges = graph.directed
    adjacency = sparse.csr_array(
        (
            np.ones(edges.height, dtype=np.int64),
            (edges.get_column("src").to_numpy(), edges.get_column("dst").to_numpy()),
        ),
        shape=(n, n),
    )
    code = groups.sort("v").get_column("g").rank("dense").cast(pl.Int64).to_numpy()
    counts = np.zeros((len(ROLES), n), dtype=np.int64)
    for group in np.unique(code):
        senders = adjacency[code == group]
        shared = (senders.T @ senders).multiply(adjacency).tocoo()
        b, c, paths = shared.row, shared.col, shared.data
        a_as_b = code[b] == group
        c_as_b = code[c] == code[b]
        a_as_c = code[c] == group
        roles = (
            a_as_b & c_as_b,  # coordinator
            ~a_as_b & c_as_b,  # gatekeeper
            a_as_b & ~c_as_b,  # representative
            ~a_as_b & ~c_as_b & a_as_c,  # consultant
            ~a_as_b & ~c_as_b & ~a_as_c,  # liaison
        )
        for i, kept in enumerate(roles):
            counts[i] += np.bincount(b[kept], weights=paths[kept], minlength=n).astype(np.int64)
    return pl.DataFrame(
        {"b": np.arange(n, dtype=np.int64), **{f"closed_{r}": counts[i] for i, r in enumerate(ROLES)}},
        schema={"b": pl.Int64, **{f"closed_{r}": pl.Int64 for r in ROLES}},
    )


def person_metrics(graph: OrgGraph, paths: PathMetrics, broker_group: pl.Series) -> pl.DataFrame:
    """One row per vertex ``v``: degrees, betweenness, harmonic centrality, PageRank, clustering, the Leiden
    Gould-Fernandez ``broker_role`` across ``broker_group``, key-person flag."""
    g, d = graph.graph, graph.digraph
    n = graph.n
    between = paths.betweenness
    roles = brokerage_roles(graph, broker_group)
    role_counts = roles.select(ROLES).to_numpy() if n else np.zeros((0, len(ROLES)))
    best = role_counts.argmax(axis=1) if n else np.zeros(0, dtype=int)
    articulation = set(g.articulation_points())
    crossing = crossing_weights(graph, broker_group).get_column("crossing").to_numpy()
    return pl.DataFrame(
        {
            "v": np.arange(n, dtype=np.int64),
            "degree_in": np.asarray(d.indegree(), dtype=np.int64),
            "degree_out": np.asarray(d.outdegree(), dtype=np.int64),
            "weighted_degree": np.asarray(g.strength(weights="weight"), dtype=float),
            "betweenness": between,
            "harmonic_centrality": paths.harmonic,
            "pagerank": np.asarray(d.pagerank(weights="weight", directed=True, damping=0.85)) if n else [],
            "clustering": np.asarray(g.transitivity_local_undirected(mode="zero"), dtype=float),
            "broker_role": [ROLES[i] if role_counts[k].sum() > 0 else "none" for k, i in enumerate(best)],
            "brokerage": role_counts[:, 1:].sum(axis=1).astype(np.int64) if n else [],
            "is_broker": broker_flags(between, crossing),
            "is_key_person": np.isin(np.arange(n), list(articulation)),
        },
        schema_overrides={"pagerank": pl.Float64, "brokerage": pl.Int64, "broker_role": pl.String},
    )


def upper_fence(values: np.ndarray) -> float:
    """Tukey's upper fence of ``values``: above it a value is an outlier of the distribution."""
    if values.size == 0:
        return 0.0
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 + TUKEY_K * (q3 - q1))


def broker_flags(between: np.ndarray, crossing: np.ndarray) -> np.ndarray:
    """Brokers: outliers both in position (betweenness above its upper fence) and in what they carry between
    groups (tie weight to other groups above its upper fence). The thresholds follow each period's distribution,
    so neither a fixed share of people nor a cut tuned to one organisation decides who is flagged."""
    if between.size == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray((between > upper_fence(between)) & (crossing > upper_fence(crossing)) & (between > 0), dtype=bool)


def crossing_weights(graph: OrgGraph, group: pl.Series) -> pl.DataFrame:
    """Per vertex ``v`` (in order): ``crossing``, its tie weight to other groups, and ``total``, all its tie weight."""
    labels = pl.DataFrame({"v": graph.nodes.get_column("v"), "c": group})
    ends = graph.undirected.join(labels.rename({"v": "u", "c": "cu"}), on="u").join(labels.rename({"c": "cv"}), on="v")
    crossing = pl.col("cu") != pl.col("cv")
    both = pl.concat(
        [
            ends.select(v="u", weight="weight", crossing=crossing),
            ends.select(v="v", weight="weight", crossing=crossing),
        ]
    )
    sums = both.group_by("v").agg(
        crossing=pl.col("weight").filter(pl.col("crossing")).sum(), total=pl.col("weight").sum()
    )
    return (
        labels.select("v")
        .join(sums, on="v", how="left")
        .sort("v")
        .with_columns(pl.col("crossing").fill_null(0.0), pl.col("total").fill_null(0.0))
    )


def bridge_scores(graph: OrgGraph, community: pl.Series) -> pl.Series:
    """Per vertex, the share of its tie weight that goes to other communities (0 without ties)."""
    weights = crossing_weights(graph, community)
    share = pl.when(pl.col("total") > 0).then(pl.col("crossing") / pl.col("total")).otherwise(0.0)
    return weights.select(share=share).get_column("share")
