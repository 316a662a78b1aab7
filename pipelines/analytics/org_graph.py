"""The organisation graph of one period: people as nodes, weighted ties from every observed mailbox and calendar.

An interaction row is one ego's view of a contact. Its direction follows its ``actor``: the ego wrote (ego -> alter),
the alter wrote (alter -> ego), or both took part (a meeting, a call: both directions). The same message or meeting
seen from two observed mailboxes is counted once (deduplicated on source, source key and direction). DuckDB folds and
sums a window's interactions into one row per person pair (``pipelines/org_ties.py``); this module maps the people
to nodes and builds the graph from those pairs.

The weight of a directed tie is the sum of its interactions' weights in the window (channel richness times
intimacy, undecayed: ``analytics.common.weight_expr``); the undirected tie weighs the sum of both directions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import igraph as ig
import polars as pl

from tiepulse.pipelines.analytics.common import Frame, as_of_instant, lazy

OUTSIDE = "outside"
"""The group of outside contacts (nodes of collapsed domains) in every group type."""
DOMAIN_PREFIX = "@"
"""Node id of an outside domain collapsed into one node: ``@client.com``."""
DIRECTORY_GROUPS = ("team", "department", "org_unit", "location")
"""Directory attributes that become group types when any person has them."""


@dataclass(frozen=True)
class OrgGraph:
    """One period's graph: ``nodes`` (vertex index ``v``, ``node_id``, directory attributes) and its ties."""

    nodes: pl.DataFrame
    directed: pl.DataFrame
    """``src``, ``dst`` (vertex indices), ``weight``, ``messages``, ``meeting_hours``."""
    undirected: pl.DataFrame
    """``u < v``, ``weight``, ``messages``, ``meeting_hours`` (both directions summed)."""

    @property
    def n(self) -> int:
        return self.nodes.height

    @cached_property
    def graph(self) -> ig.Graph:
        """Undirected, weighted (edge attribute ``weight``)."""
        g = ig.Graph(n=self.n, edges=self.undirected.select("u", "v").rows(), directed=False)
        g.es["weight"] = self.undirected.get_column("weight").to_list()
        return g

    @cached_property
    def digraph(self) -> ig.Graph:
        g = ig.Graph(n=self.n, edges=self.directed.select("src", "dst").rows(), directed=True)
        g.es["weight"] = self.directed.get_column("weight").to_list()
        return g


def period_window(end: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    """The instants (exclusive start, inclusive end) of the window of ``window_days`` days ending on ``end``."""
    last = as_of_instant(end)
    return last - dt.timedelta(days=window_days), last


def node_table(persons: Frame, outside_contacts: str) -> pl.LazyFrame:
    """``person_id`` -> ``node_id`` and the node's attributes: internal people as themselves, outside contacts as
    their domain's node (``by_domain``) or not at all (``exclude``); automated senders never."""
    people = lazy(persons).filter(~pl.col("is_automated"))
    present = people.collect_schema().names()
    # a directory attribute the people table lacks is unknown for everyone
    people = people.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in DIRECTORY_GROUPS if c not in present)
    inside = people.filter(pl.col("is_internal")).select(
        "person_id",
        "display_name",
        *[pl.col(c).cast(pl.String) for c in DIRECTORY_GROUPS],
        node_id="person_id",
        is_internal=pl.lit(True),
    )
    if outside_contacts != "by_domain":
        return inside
    outside = people.filter(~pl.col("is_internal") & pl.col("domain").is_not_null()).select(
        "person_id",
        *[pl.lit(OUTSIDE).alias(c) for c in DIRECTORY_GROUPS],
        node_id=pl.lit(DOMAIN_PREFIX) + pl.col("domain"),
        display_name=pl.col("domain"),
        is_internal=pl.lit(False),
    )
    return pl.concat([inside, outside], how="diagonal")


def build_org_graph(ties: pl.DataFrame, persons: Frame, observed: list[str], outside: str) -> OrgGraph:
    """The graph of one window's person-to-person ``ties`` (``org_ties.WindowTies.ties``: ``src``, ``dst``,
    ``weight``, ``messages``, ``meeting_minutes``); ``observed``: the egos whose mailboxes are read."""
    members = node_table(persons, outside)
    to_node = members.select("person_id", "node_id")
    ties = (
        ties.lazy()
        .join(to_node.rename({"person_id": "src", "node_id": "src_node"}), on="src")
        .join(to_node.rename({"person_id": "dst", "node_id": "dst_node"}), on="dst")
        .filter(pl.col("src_node") != pl.col("dst_node"))
        .group_by("src_node", "dst_node")
        .agg(
            weight=pl.col("weight").sum(),
            messages=pl.col("messages").sum().cast(pl.Int64),
            meeting_hours=pl.col("meeting_minutes").sum() / 60.0,
        )
        .filter(pl.col("weight") > 0)
        .collect()
    )
    used = pl.concat([ties.get_column("src_node"), ties.get_column("dst_node")]).unique().sort()
    nodes = (
        pl.DataFrame({"node_id": used})
        .with_row_index("v")
        .with_columns(pl.col("v").cast(pl.Int64))
        .join(members.unique("node_id", keep="first").drop("person_id").collect(), on="node_id", how="left")
        .with_columns(is_observed=pl.col("node_id").is_in(observed))
        .sort("v")
    )
    index = nodes.select("node_id", "v")
    directed = (
        ties.join(index.rename({"node_id": "src_node", "v": "src"}), on="src_node")
        .join(index.rename({"node_id": "dst_node", "v": "dst"}), on="dst_node")
        .select("src", "dst", "weight", "messages", "meeting_hours")
        .sort("src", "dst")
    )
    return OrgGraph(nodes, directed, undirected_ties(directed))


def undirected_ties(directed: pl.DataFrame) -> pl.DataFrame:
    """Both directions of each pair folded into one tie ``u < v``: weights, messages and meeting hours summed."""
    return (
        directed.with_columns(u=pl.min_horizontal("src", "dst"), v=pl.max_horizontal("src", "dst"))
        .group_by("u", "v")
        .agg(pl.col("weight").sum(), pl.col("messages").sum(), pl.col("meeting_hours").sum())
        .sort("u", "v")
    )
