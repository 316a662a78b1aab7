"""Positions for network pictures: a force-directed layout from networkx, returned as frames a chart can draw."""

from __future__ import annotations

import networkx as nx
import polars as pl

LAYOUT_SEED = 7
"""The same network gets the same picture at every refresh."""
MIN_PULL = 0.2
"""The weakest edge pulls with this share of the strongest one's force."""


def spring_positions(
    nodes: pl.DataFrame, edges: pl.DataFrame, *, fixed: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``nodes`` (``id`` and any attributes) with ``x``, ``y`` added, and ``edges`` (``source``, ``target``,
    ``weight``) with their ends' ``x``, ``y``, ``x2``, ``y2``.

    Fruchterman-Reingold with the edge weights pulling; ``fixed`` (e.g. the ego) is pinned at the centre.
    Edges whose ends are not both nodes are dropped.
    """
    # networkx places the nodes from random starts drawn in node order: sorted, the picture does not depend on the
    # order the rows came in (a group-by's order varies from run to run).
    ids = sorted(nodes.get_column("id").to_list())
    edges = edges.filter(pl.col("source").is_in(ids) & pl.col("target").is_in(ids)).sort("source", "target")
    # Pull in proportion to the weight, but never so little that a weak tie's node drifts off the picture.
    heaviest = edges.get_column("weight").max() or 1.0
    pull = edges.select("source", "target", MIN_PULL + (1 - MIN_PULL) * pl.col("weight") / heaviest)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_weighted_edges_from(pull.iter_rows())
    pinned = {fixed: (0.0, 0.0)} if fixed is not None and fixed in graph else None
    spread = 3.0 / max(len(ids), 1) ** 0.5  # a bit more room than networkx's default, so labels breathe
    positions = nx.spring_layout(
        graph, k=spread, pos=pinned, fixed=list(pinned) if pinned else None, seed=LAYOUT_SEED, weight="weight"
    )
    coords = pl.DataFrame(
        {
            "id": list(positions),
            "x": [float(p[0]) for p in positions.values()],
            "y": [float(p[1]) for p in positions.values()],
        },
        schema={"id": pl.String, "x": pl.Float64, "y": pl.Float64},
    )
    placed = nodes.join(coords, on="id", how="left")
    ends = coords.rename({"id": "target", "x": "x2", "y": "y2"})
    lines = edges.join(coords.rename({"id": "source"}), on="source").join(ends, on="target")
    return placed, lines
