"""The report charts, as Altair (Vega-Lite) specifications that fill the width of their container (a laptop or a
phone) at a fixed height.

Each chart is built by Altair once per shape (fields, titles, height) and reused for every report with other
rows: Altair spends far longer building and checking a specification than a report spends on its data, and the
rows never pass through Altair's objects (they go into the spec's ``datasets`` as they are).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final, Literal

import altair as alt
import polars as pl

from tiepulse.pipelines.reporting.labels import GAP, SIDES, place_labels

WIDTH: Final[Literal["container"]] = "container"
NODE_SIZES = (30.0, 700.0)
"""Area in square pixels of the smallest and the largest node of a network picture."""
_TIE_CLASSES = ["strong", "weak", "new", "dormant"]
_TIE_COLOURS = ["#2f6f9f", "#7fb3d5", "#f0b429", "#bcccdc"]


@dataclass(frozen=True)
class Plot:
    template: dict[str, Any]
    """The Vega-Lite spec without its rows."""
    frames: tuple[pl.DataFrame, ...]
    """The rows of the named datasets ``data-0``, ``data-1``, ... the template reads."""

    def spec(self) -> dict[str, Any]:
        rows = {
            f"data-{n}": frame.with_columns(pl.col(pl.Date, pl.Datetime).dt.strftime("%Y-%m-%d")).to_dicts()
            for n, frame in enumerate(self.frames)
        }
        return {**self.template, "datasets": rows}


@functools.cache
def _template(build: Callable[..., alt.TopLevelMixin], *shape: Hashable) -> dict[str, Any]:
    # Built by this package from fixed parts, so Altair's schema validation (slow) adds nothing.
    spec: dict[str, Any] = build(*shape).to_dict(validate=False)
    return spec


def _data(n: int = 0) -> alt.NamedData:
    return alt.NamedData(name=f"data-{n}")


def _legend_below() -> alt.Legend:
    return alt.Legend(orient="bottom", direction="horizontal", columns=4, title=None)


def _month_axis() -> alt.X:
    return alt.X("month:T", title=None, axis=alt.Axis(format="%b %y"))


def score_over_time(history: pl.DataFrame, field: str, title: str, maximum: float) -> Plot:
    """A line with points over ``month``: one measure, on a fixed scale from 0 to ``maximum``."""
    return Plot(_template(_score_chart, field, title, maximum), (history.select("month", field),))


def _score_chart(field: str, title: str, maximum: float) -> alt.Chart:
    return (
        alt.Chart(_data(), height=200, width=WIDTH)
        .mark_line(point=True, interpolate="monotone")
        .encode(
            x=_month_axis(),
            y=alt.Y(f"{field}:Q", title=title, scale=alt.Scale(domain=[0, maximum])),
            tooltip=[alt.Tooltip("month:T", format="%B %Y"), alt.Tooltip(f"{field}:Q", format=".2f")],
        )
    )


def lines_over_time(long: pl.DataFrame, title: str, maximum: float = 1.0, percent: bool = False) -> Plot:
    """Several lines over ``month`` from a long frame (``month``, ``series``, ``value``), coloured by series."""
    return Plot(_template(_lines_chart, title, maximum, percent), (long.select("month", "series", "value"),))


def _lines_chart(title: str, maximum: float, percent: bool) -> alt.Chart:
    fmt = ".0%" if percent else ".0f" if maximum > 1 else ".2f"
    return (
        alt.Chart(_data(), height=220, width=WIDTH)
        .mark_line(interpolate="monotone")
        .encode(
            x=_month_axis(),
            y=alt.Y("value:Q", title=title, scale=alt.Scale(domain=[0, maximum]), axis=alt.Axis(format=fmt)),
            color=alt.Color("series:N", legend=_legend_below()),
            tooltip=["series:N", alt.Tooltip("month:T", format="%B %Y"), alt.Tooltip("value:Q", format=fmt)],
        )
    )


def stacked_shares(long: pl.DataFrame, title: str) -> Plot:
    """Shares over ``month`` stacked to 100% (``month``, ``series``, ``value``)."""
    return Plot(_template(_stacked_chart, title), (long.select("month", "series", "value"),))


def _stacked_chart(title: str) -> alt.Chart:
    return (
        alt.Chart(_data(), height=220, width=WIDTH)
        .mark_area()
        .encode(
            x=_month_axis(),
            y=alt.Y("value:Q", title=title, stack="normalize", axis=alt.Axis(format=".0%")),
            color=alt.Color("series:N", legend=_legend_below(), scale=alt.Scale(scheme="tableau10")),
            tooltip=["series:N", alt.Tooltip("month:T", format="%B %Y"), alt.Tooltip("value:Q", format=".0%")],
        )
    )


def strength_distribution(ties: pl.DataFrame) -> Plot:
    """How many ties at each strength, stacked by class."""
    return Plot(_template(_distribution_chart), (ties.select("strength", "tie_class"),))


def _distribution_chart() -> alt.Chart:
    return (
        alt.Chart(_data(), height=200, width=WIDTH)
        .mark_bar()
        .encode(
            x=alt.X("strength:Q", bin=alt.Bin(step=0.05, extent=[0, 1]), title="tie strength (0-1)"),
            y=alt.Y("count():Q", title="ties"),
            color=alt.Color(
                "tie_class:N",
                scale=alt.Scale(domain=_TIE_CLASSES, range=_TIE_COLOURS),
                legend=_legend_below(),
                sort=_TIE_CLASSES,
            ),
            tooltip=["tie_class:N", alt.Tooltip("count():Q", title="ties")],
        )
    )


def tie_timelines(monthly: pl.DataFrame) -> Plot:
    """One row per tie (``who``, in the frame's order), one cell per month coloured by the tie's strength at
    the month's end."""
    height = max(60, 22 * monthly.get_column("who").n_unique())
    return Plot(_template(_timelines_chart, height), (monthly.select("who", "month", "strength"),))


def _timelines_chart(height: int) -> alt.Chart:
    return (
        alt.Chart(_data(), height=height, width=WIDTH)
        .mark_rect()
        .encode(
            x=alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %y", labelAngle=-45)),
            y=alt.Y("who:N", title=None, sort=None, axis=alt.Axis(labelLimit=140)),
            color=alt.Color(
                "strength:Q",
                scale=alt.Scale(scheme="blues", domain=[0, 1]),
                legend=alt.Legend(orient="bottom", title="strength"),
            ),
            tooltip=["who:N", alt.Tooltip("month:T", format="%B %Y"), alt.Tooltip("strength:Q", format=".2f")],
        )
    )


def planned_vs_actual(buckets: pl.DataFrame) -> Plot:
    """Bars per bucket: the planned share of time beside the actual one (``bucket``, ``kind``, ``share``)."""
    height = max(80, 44 * buckets.get_column("bucket").n_unique())
    return Plot(_template(_buckets_chart, height), (buckets.select("bucket", "kind", "share"),))


def _buckets_chart(height: int) -> alt.Chart:
    return (
        alt.Chart(_data(), height=height, width=WIDTH)
        .mark_bar()
        .encode(
            y=alt.Y("bucket:N", title=None),
            yOffset=alt.YOffset("kind:N", sort=["planned", "actual"]),
            x=alt.X("share:Q", title="share of time with contacts", axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=["planned", "actual"], range=["#bcccdc", "#2f6f9f"]),
                legend=_legend_below(),
            ),
            tooltip=["bucket:N", "kind:N", alt.Tooltip("share:Q", format=".0%")],
        )
    )


def network_picture(
    nodes: pl.DataFrame, edges: pl.DataFrame, *, colour: str, size: str, tooltip: tuple[str, ...], height: int = 440
) -> Plot:
    """Nodes at their layout positions (``x``, ``y``), coloured by ``colour`` and sized by ``size``; ``marker``
    (text) draws a ring on marked nodes (fading ties, brokers, key people), ``label`` names some of them.
    Edges (``x``, ``y``, ``x2``, ``y2``, ``weight``) are lines, fainter when weaker."""
    # A ring layer with nothing to ring breaks Vega's legend layout (an infinitely tall chart): leave it out.
    marked = bool((nodes.get_column("marker") != "").any())
    if "label_rank" not in nodes.columns:  # the biggest nodes' names first
        nodes = nodes.with_columns(label_rank=pl.col(size).rank("ordinal", descending=True))
    nodes = place_labels(nodes, height=height, size_range=NODE_SIZES, size=size, order="label_rank")
    return Plot(
        _template(_network_chart, colour, size, tooltip, height, marked),
        (edges.select("x", "y", "x2", "y2", "weight"), nodes),
    )


def _network_chart(colour: str, size: str, tooltip: tuple[str, ...], height: int, marked: bool) -> alt.LayerChart:
    axis = alt.Axis(title=None, labels=False, ticks=False, domain=False, grid=False)
    x = alt.X("x:Q", axis=axis, scale=alt.Scale(zero=False, nice=False, padding=20))
    y = alt.Y("y:Q", axis=axis, scale=alt.Scale(zero=False, nice=False, padding=20))
    lines = (
        alt.Chart(_data(0))
        .mark_rule(color="#9aa5b1")
        .encode(
            x=x,
            y=y,
            x2="x2:Q",
            y2="y2:Q",
            opacity=alt.Opacity("weight:Q", scale=alt.Scale(range=[0.08, 0.5]), legend=None),
        )
    )
    nodes = alt.Chart(_data(1))
    points = nodes.mark_circle(opacity=0.9, stroke="white", strokeWidth=0.5).encode(
        x=x,
        y=y,
        color=alt.Color(f"{colour}:N", legend=_legend_below(), scale=alt.Scale(scheme="category20")),
        size=alt.Size(f"{size}:Q", scale=alt.Scale(range=list(NODE_SIZES)), legend=None),
        tooltip=list(tooltip),
    )
    rings = (
        nodes.transform_filter("datum.marker != ''")
        .mark_point(shape="circle", filled=False, strokeWidth=2)
        .encode(
            x=x,
            y=y,
            size=alt.Size(f"{size}:Q", scale=alt.Scale(range=[120, 1100]), legend=None),
            stroke=alt.Stroke(
                "marker:N", legend=alt.Legend(orient="bottom", title=None), scale=alt.Scale(scheme="set1")
            ),
        )
    )
    # one text layer per side a name can sit on (labels.place_labels chose it), pushed off the node by GAP pixels
    offsets = {
        "right": {"align": "left", "dx": GAP},
        "left": {"align": "right", "dx": -GAP},
        "above": {"baseline": "bottom", "dy": -GAP},
        "below": {"baseline": "top", "dy": GAP},
    }
    labels = [
        nodes.transform_filter(f"datum.label_side == '{side}'")
        .mark_text(fontSize=11, color="#1f2933", **offsets[side])  # type: ignore[arg-type]
        .encode(x=x, y=y, text="label:N")
        for side in SIDES
    ]
    layers = [lines, points, rings, *labels] if marked else [lines, points, *labels]
    return alt.layer(*layers, height=height, width=WIDTH).resolve_scale(size="independent")


def histogram(values: pl.DataFrame, field: str, title: str, step: float, extent: tuple[float, float]) -> Plot:
    return Plot(_template(_histogram_chart, field, title, step, extent), (values.select(field),))


def _histogram_chart(field: str, title: str, step: float, extent: tuple[float, float]) -> alt.Chart:
    return (
        alt.Chart(_data(), height=200, width=WIDTH)
        .mark_bar(color="#2f6f9f")
        .encode(
            x=alt.X(f"{field}:Q", bin=alt.Bin(step=step, extent=list(extent)), title=title),
            y=alt.Y("count():Q", title="egos"),
            tooltip=[alt.Tooltip("count():Q", title="egos")],
        )
    )


def group_heatmap(matrix: pl.DataFrame, measure: str, title: str) -> Plot:
    """From-group by to-group cells coloured by ``measure`` (``from_group``, ``to_group``, measure)."""
    height = max(120, 26 * matrix.get_column("from_group").n_unique())
    return Plot(_template(_heatmap_chart, measure, title, height), (matrix.select("from_group", "to_group", measure),))


def _heatmap_chart(measure: str, title: str, height: int) -> alt.Chart:
    return (
        alt.Chart(_data(), height=height, width=WIDTH)
        .mark_rect()
        .encode(
            # Upright: slanted names need columns wider than a line of text, which a phone's are not.
            x=alt.X("to_group:N", title="to", axis=alt.Axis(labelAngle=-90, labelLimit=120)),
            y=alt.Y("from_group:N", title="from", axis=alt.Axis(labelLimit=120)),
            color=alt.Color(f"{measure}:Q", scale=alt.Scale(scheme="blues"), legend=alt.Legend(title=title)),
            tooltip=["from_group:N", "to_group:N", alt.Tooltip(f"{measure}:Q", format=",.0f")],
        )
    )


def ranked_bars(frame: pl.DataFrame, label: str, measure: str, title: str, domain: tuple[float, float]) -> Plot:
    """Horizontal bars, in the order the frame is in (rank it first)."""
    height = max(80, 24 * frame.height)
    return Plot(_template(_ranked_chart, label, measure, title, domain, height), (frame.select(label, measure),))


def _ranked_chart(label: str, measure: str, title: str, domain: tuple[float, float], height: int) -> alt.Chart:
    return (
        alt.Chart(_data(), height=height, width=WIDTH)
        .mark_bar()
        .encode(
            y=alt.Y(f"{label}:N", sort=None, title=None, axis=alt.Axis(labelLimit=140)),
            x=alt.X(f"{measure}:Q", title=title, scale=alt.Scale(domain=list(domain))),
            color=alt.Color(f"{measure}:Q", scale=alt.Scale(scheme="redblue", domain=list(domain)), legend=None),
            tooltip=[f"{label}:N", alt.Tooltip(f"{measure}:Q", format=".2f")],
        )
    )
