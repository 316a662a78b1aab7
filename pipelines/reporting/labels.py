"""Where a network picture's names go: beside their node, on the side where they hit no other name or node.

Names are placed in the order given (the most important first). Each tries the right of its node, then the left,
above and below; a name that fits nowhere is left out of the picture (its node still names itself on hover). The
check runs at a phone's plot width, the narrowest the reports are drawn at: a wider screen only moves nodes
apart sideways (the height is fixed), so names that do not overlap on a phone do not overlap on a laptop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

PLOT_WIDTH, PADDING = 320.0, 20.0
"""Pixels: the plot's width on a phone, and the scale padding of the picture (charts.network_picture)."""
CHAR_WIDTH, LINE_HEIGHT = 6.6, 14.0
"""Pixels per character and per line of an 11-pixel sans-serif name (a little generous)."""
GAP = 11.0
"""Pixels between a node's centre and its name (the ``dx``/``dy`` of the chart's text layers)."""
SIDES = ("right", "left", "above", "below")

Box = tuple[float, float, float, float]
"""left, top, right, bottom in pixels."""


def place_labels(
    nodes: pl.DataFrame, *, height: float, size_range: tuple[float, float], size: str, order: str
) -> pl.DataFrame:
    """``nodes`` (``x``, ``y``, ``label``, ``size`` column, ``order``: lower first) with ``label_side`` added:
    one of ``SIDES``, or "" where the node has no name or its name fits nowhere (then ``label`` is "" too)."""
    if nodes.height == 0:
        return nodes.with_columns(label_side=pl.lit(""))
    xs, ys = nodes.get_column("x"), nodes.get_column("y")
    to_px = _scale(xs.min(), xs.max(), PADDING, PLOT_WIDTH - PADDING)  # type: ignore[arg-type]
    to_py = _scale(ys.max(), ys.min(), PADDING, height - PADDING)  # type: ignore[arg-type]
    low, high = nodes.get_column(size).min(), nodes.get_column(size).max()
    span = (high - low) or 1.0  # type: ignore[operator]
    centres = [
        (to_px(r["x"]), to_py(r["y"]), _radius(size_range, (r[size] - low) / span)) for r in nodes.iter_rows(named=True)
    ]
    taken: list[Box] = []
    sides = [""] * nodes.height
    ranked = sorted(range(nodes.height), key=lambda i: nodes[order][i])
    for i in ranked:
        text = nodes["label"][i]
        if not text:
            continue
        cx, cy, _ = centres[i]
        others = [c for j, c in enumerate(centres) if j != i]
        for side in SIDES:
            box = _box(cx, cy, len(text) * CHAR_WIDTH, side)
            if _inside(box, height) and not any(_overlap(box, t) for t in taken) and not _covers(box, others):
                sides[i] = side
                taken.append(box)
                break
    placed = pl.Series("label_side", sides, dtype=pl.String)
    return nodes.with_columns(placed, label=pl.when(placed != "").then(pl.col("label")).otherwise(pl.lit("")))


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    if hi == lo:
        return lambda _v: (out_lo + out_hi) / 2
    return lambda v: out_lo + (v - lo) / (hi - lo) * (out_hi - out_lo)


def _radius(size_range: tuple[float, float], share: float) -> float:
    """A circle mark's radius in pixels: its size is an area."""
    return math.sqrt((size_range[0] + share * (size_range[1] - size_range[0])) / math.pi)


def _box(cx: float, cy: float, width: float, side: str) -> Box:
    half = LINE_HEIGHT / 2
    if side == "right":
        return (cx + GAP, cy - half, cx + GAP + width, cy + half)
    if side == "left":
        return (cx - GAP - width, cy - half, cx - GAP, cy + half)
    if side == "above":
        return (cx - width / 2, cy - GAP - LINE_HEIGHT, cx + width / 2, cy - GAP)
    return (cx - width / 2, cy + GAP, cx + width / 2, cy + GAP + LINE_HEIGHT)


def _inside(box: Box, height: float) -> bool:
    return box[0] >= 0 and box[2] <= PLOT_WIDTH and box[1] >= 0 and box[3] <= height


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _covers(box: Box, circles: list[tuple[float, float, float]]) -> bool:
    """The name would hide another node (its circle meets the box)."""
    for cx, cy, r in circles:
        nearest_x, nearest_y = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
        if (cx - nearest_x) ** 2 + (cy - nearest_y) ** 2 < r * r:
            return True
    return False
