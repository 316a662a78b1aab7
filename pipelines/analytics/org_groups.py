"""Groups of the organisation graph (team, department, org unit, location, community) under the privacy threshold.

Rule: per group type, every group with fewer than ``min_group_size`` people in the period's graph is merged into
"other"; when "other" is still smaller, it is reported as one suppressed row (no size, no metrics) and left out
of the group matrix. People without the attribute form the group "unknown", under the same rule. When the whole
organisation is smaller than the threshold, no group row is written at all.
"""

from __future__ import annotations

import polars as pl

from tiepulse.pipelines.analytics.org_graph import OUTSIDE, OrgGraph

OTHER = "other"
UNKNOWN = "unknown"

GROUP_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "group_type": pl.String(),
    "group_name": pl.String(),
    "size": pl.Int64(),
    "internal_density": pl.Float64(),
    "ei_index": pl.Float64(),
    "outside_share": pl.Float64(),
    "bridging_people": pl.Int64(),
    "key_person_risk": pl.Float64(),
    "is_suppressed": pl.Boolean(),
    "min_group_size": pl.Int64(),
}
MATRIX_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "group_type": pl.String(),
    "from_group": pl.String(),
    "to_group": pl.String(),
    "messages": pl.Int64(),
    "meeting_hours": pl.Float64(),
    "distinct_ties": pl.Int64(),
}


def memberships(labels: pl.DataFrame, min_group_size: int) -> pl.DataFrame:
    """``v``, ``group_type``, ``group_name`` (after merging small groups into "other"), ``is_suppressed``.

    ``labels`` has ``v``, ``is_internal`` and one column per group type. Outside nodes get no group."""
    types = [c for c in labels.columns if c not in ("v", "is_internal")]
    inside = labels.filter(pl.col("is_internal"))
    if inside.height < min_group_size or not types:
        return pl.DataFrame(
            schema={"v": pl.Int64, "group_type": pl.String, "group_name": pl.String, "is_suppressed": pl.Boolean}
        )
    long = inside.select("v", *[pl.col(t).cast(pl.String) for t in types]).unpivot(
        index="v", variable_name="group_type", value_name="group_name"
    )
    long = long.with_columns(pl.col("group_name").fill_null(UNKNOWN))
    sized = long.with_columns(size=pl.len().over("group_type", "group_name"))
    merged = sized.with_columns(
        group_name=pl.when(pl.col("size") < min_group_size).then(pl.lit(OTHER)).otherwise(pl.col("group_name"))
    )
    return merged.with_columns(is_suppressed=pl.len().over("group_type", "group_name") < min_group_size).select(
        "v", "group_type", "group_name", "is_suppressed"
    )


def _ends(graph: OrgGraph, members: pl.DataFrame) -> pl.DataFrame:
    """Each undirected tie once per group type, with both ends' groups (outside nodes: ``OUTSIDE``)."""
    types = members.select("group_type").unique()
    ties = graph.undirected.join(types, how="cross")
    side = members.select("v", "group_type", "group_name")
    return (
        ties.join(side.rename({"v": "u", "group_name": "gu"}), on=["u", "group_type"], how="left")
        .join(side.rename({"group_name": "gv"}), on=["v", "group_type"], how="left")
        .with_columns(pl.col("gu").fill_null(OUTSIDE), pl.col("gv").fill_null(OUTSIDE))
    )


def group_table(graph: OrgGraph, members: pl.DataFrame, period: str, min_group_size: int) -> pl.DataFrame:
    """One row per group (``GROUP_SCHEMA``): size, internal density, E-I index over distinct ties, share of tie
    weight crossing the boundary, members with a crossing tie, and the crossing weight's share carried by the
    member who carries most (key-person risk)."""
    if members.is_empty():
        return pl.DataFrame(schema=GROUP_SCHEMA)
    ends = _ends(graph, members)
    crossing = pl.col("gu") != pl.col("gv")
    halves = pl.concat(
        [
            ends.select("group_type", group_name="gu", person="u", weight="weight", crossing=crossing),
            ends.select("group_type", group_name="gv", person="v", weight="weight", crossing=crossing),
        ]
    ).filter(pl.col("group_name") != OUTSIDE)
    per_person = (
        halves.filter(pl.col("crossing"))
        .group_by("group_type", "group_name", "person")
        .agg(pl.col("weight").sum())
        .group_by("group_type", "group_name")
        .agg(bridging_people=pl.len().cast(pl.Int64), top=pl.col("weight").max())
    )
    # a tie inside a group appears twice in ``halves`` (once per end); count it once
    ties = halves.group_by("group_type", "group_name").agg(
        internal=(~pl.col("crossing")).sum() / 2,
        external=pl.col("crossing").sum(),
        internal_weight=pl.col("weight").filter(~pl.col("crossing")).sum() / 2,
        external_weight=pl.col("weight").filter(pl.col("crossing")).sum(),
    )
    sizes = members.group_by("group_type", "group_name").agg(
        size=pl.len().cast(pl.Int64), suppressed=pl.col("is_suppressed").first()
    )
    table = sizes.join(ties, on=["group_type", "group_name"], how="left").join(
        per_person, on=["group_type", "group_name"], how="left"
    )
    total = pl.col("internal") + pl.col("external")
    total_weight = pl.col("internal_weight") + pl.col("external_weight")
    hide = pl.col("suppressed")

    def shown(expr: pl.Expr) -> pl.Expr:
        return pl.when(hide).then(None).otherwise(expr)

    return (
        table.select(
            period=pl.lit(period),
            group_type="group_type",
            group_name="group_name",
            size=shown(pl.col("size")),
            internal_density=shown(
                pl.when(pl.col("size") > 1).then(
                    pl.col("internal").fill_null(0) / (pl.col("size") * (pl.col("size") - 1) / 2)
                )
            ),
            ei_index=shown(pl.when(total > 0).then((pl.col("external") - pl.col("internal")) / total)),
            outside_share=shown(pl.when(total_weight > 0).then(pl.col("external_weight") / total_weight)),
            bridging_people=shown(pl.col("bridging_people").fill_null(0)),
            key_person_risk=shown(
                pl.when(pl.col("external_weight") > 0).then(pl.col("top") / pl.col("external_weight"))
            ),
            is_suppressed=hide,
            min_group_size=pl.lit(min_group_size, dtype=pl.Int64),
        )
        .cast(GROUP_SCHEMA)  # type: ignore[arg-type]
        .sort("group_type", "group_name")
    )


def group_matrix(graph: OrgGraph, members: pl.DataFrame, period: str) -> pl.DataFrame:
    """Group-to-group volume (``MATRIX_SCHEMA``): messages sent from one group to the other, meeting hours shared
    (each meeting's minutes over its size, per pair), distinct person pairs; suppressed groups left out."""
    if members.is_empty():
        return pl.DataFrame(schema=MATRIX_SCHEMA)
    visible = members.filter(~pl.col("is_suppressed")).select("v", "group_type", "group_name")
    types = visible.select("group_type").unique()
    directed = (
        graph.directed.join(types, how="cross")
        .join(visible.rename({"v": "src", "group_name": "from_group"}), on=["src", "group_type"])
        .join(visible.rename({"v": "dst", "group_name": "to_group"}), on=["dst", "group_type"])
    )
    # a meeting's hours sit on both directions of a pair: inside one group the pair would count twice
    inside = pl.col("from_group") == pl.col("to_group")
    return (
        directed.group_by("group_type", "from_group", "to_group")
        .agg(
            messages=pl.col("messages").sum(),
            meeting_hours=pl.col("meeting_hours").sum(),
            distinct_ties=pl.struct(
                pl.min_horizontal("src", "dst").alias("a"), pl.max_horizontal("src", "dst").alias("b")
            ).n_unique(),
        )
        .with_columns(
            period=pl.lit(period),
            meeting_hours=pl.when(inside).then(pl.col("meeting_hours") / 2).otherwise(pl.col("meeting_hours")),
        )
        .select(list(MATRIX_SCHEMA))
        .cast(MATRIX_SCHEMA)  # type: ignore[arg-type]
        .sort("group_type", "from_group", "to_group")
    )
