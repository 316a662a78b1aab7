"""Names in a network picture never cover each other or another node (pipelines/reporting/labels.py)."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from tiepulse.pipelines.reporting.labels import LINE_HEIGHT, place_labels
from tiepulse.pipelines.reporting.layout import spring_positions


def _nodes(points: list[tuple[float, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "x": [p[0] for p in points],
            "y": [p[1] for p in points],
            "label": [p[2] for p in points],
            "strength": [1.0] * len(points),
            "rank": list(range(len(points))),
        }
    )


def test_a_crowded_centre_names_what_fits_and_leaves_the_rest_to_hover() -> None:
    # ten named nodes packed in the middle, one far off
    crowd = [(0.01 * i, 0.01 * i, f"Person number {i}") for i in range(10)]
    nodes = _nodes([*crowd, (-1.0, -1.0, "Far"), (1.0, 1.0, "")])
    placed = place_labels(nodes, height=440, size_range=(30, 30), size="strength", order="rank")
    sides = placed.get_column("label_side").to_list()
    assert sides[0] == "right"  # the first in order takes the first place
    assert sides[10] != ""  # a node with room is always named
    assert sides[11] == ""  # a node without a name stays without
    named = placed.filter(pl.col("label_side") != "")
    assert 2 <= named.height < 11  # not all ten fit in the crowd; the ones left out lose their label too
    assert placed.filter(pl.col("label_side") == "").get_column("label").to_list() == [""] * (12 - named.height)


def test_names_in_a_column_stack_without_overlapping() -> None:
    # nodes a line and two pixels apart vertically (y from 0 to 1 spans the 400 plotted pixels): all named, right
    step = (LINE_HEIGHT + 2) / 400
    nodes = _nodes([(0.0, k * step, f"N{k}") for k in range(5)] + [(1.0, 1.0, "")])
    placed = place_labels(nodes, height=440, size_range=(30, 30), size="strength", order="rank")
    assert placed.get_column("label_side").to_list()[:5] == ["right"] * 5


def test_the_layout_does_not_depend_on_the_order_of_the_rows() -> None:
    """The rows of a group-by come in any order: the same network must get the same picture (and labels)."""
    nodes = pl.DataFrame({"id": [f"p{n}" for n in range(12)], "name": [f"P{n}" for n in range(12)]})
    edges = pl.DataFrame(
        {"source": ["p0"] * 11 + ["p1", "p2"], "target": [f"p{n}" for n in range(1, 12)] + ["p2", "p3"]}
    ).with_columns(weight=pl.Series(range(1, 14), dtype=pl.Float64))
    placed, lines = spring_positions(nodes, edges, fixed="p0")
    again, lines_again = spring_positions(nodes.reverse(), edges.sample(fraction=1.0, shuffle=True, seed=3), fixed="p0")
    assert_frame_equal(placed.sort("id"), again.sort("id"))
    assert_frame_equal(lines.sort("source", "target"), lines_again.sort("source", "target"))
    assert placed.filter(pl.col("id") == "p0").select("x", "y").row(0) == (0.0, 0.0)
