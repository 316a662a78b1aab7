"""The personal report: one ego's network health, ties, channels, buckets, network picture and open alerts."""

from __future__ import annotations

from typing import Any

import polars as pl

from tiepulse.core.params import SUB_SCORES, AnalyticsParams
from tiepulse.pipelines.analytics import describe_network
from tiepulse.pipelines.reporting import charts
from tiepulse.pipelines.reporting.format import pct, who
from tiepulse.pipelines.reporting.layout import spring_positions
from tiepulse.pipelines.reporting.page import Chart, Figure, Page, Section, Table
from tiepulse.pipelines.reporting.sources import PersonalInputs

CHANNELS = ("email", "meeting", "call", "video", "chat", "in_person", "note")
TIMELINE_TIES = 10
"""Ties per timeline chart (strongest, fading)."""
PICTURE_ALTERS = 40
"""Alters in the network picture: the strongest, plus every fading one."""
LABELLED_ALTERS = 6
FADING_DROP = 0.5
"""A tie is fading when its 90-day volume fell by at least this share, or it has an open neglect alert."""


def personal_page(data: PersonalInputs, ego_id: str, params: AnalyticsParams) -> Page:
    """The report page of ``ego_id`` (``data`` already narrowed to that ego)."""
    name = _name(data, ego_id)
    title = f"Network health: {name}" if name != ego_id else f"Network health: {ego_id}"
    subtitle = f"{ego_id} · as of {data.as_of:%d %B %Y} · from email and calendar metadata only"
    footer = "tiepulse personal report. Every formula is in docs/metrics.md."
    if data.health.height == 0:
        return Page(title, subtitle, sections=[Section("Nothing to show", note=f"{ego_id} has no ties yet.")])
    h = data.health.row(0, named=True)
    fading = _fading(data)
    sections = [
        _health_section(data, h, params),
        _ties_section(data, fading),
        _channels_section(data),
        _buckets_section(h),
        _network_section(data, ego_id, fading),
        _alerts_section(data),
    ]
    return Page(title, subtitle, _figures(h, data), sections, footer)


def _name(data: PersonalInputs, person_id: str) -> str:
    found = data.names.filter(pl.col("person_id") == person_id).get_column("display_name").drop_nulls()
    return str(found[0]) if found.len() else person_id


def _figures(h: dict[str, Any], data: PersonalInputs) -> list[Figure]:
    score = h["health_score"]
    return [
        Figure("health score (0-100)", "not scored" if score is None else f"{score:.0f}"),
        Figure("strong ties", str(h["n_strong"])),
        Figure("weak ties", str(h["n_weak"])),
        Figure("dormant ties", str(h["n_dormant"])),
        Figure("reciprocal contacts, 90 days", str(h["network_size_90d"])),
        Figure("real-world share", pct(h["real_world_share"])),
        Figure("open alerts", str(data.alerts.height)),
    ]


def _health_section(data: PersonalInputs, h: dict[str, Any], params: AnalyticsParams) -> Section:
    history = data.history()
    narrative = describe_network(h, data.ties, data.alerts, params, data.health["ego_id"][0] in data.observed_egos)
    scored = history.filter(pl.col("health_score").is_not_null())
    sub_scores = scored.unpivot(
        index="month", on=[f"score_{n}" for n in SUB_SCORES], variable_name="series", value_name="value"
    ).with_columns(pl.col("series").str.strip_prefix("score_").str.replace("_", " "))
    lists = [
        ("Strengths", narrative.strengths or ["nothing stands out yet"]),
        ("Weaknesses", narrative.weaknesses or ["nothing stands out"]),
        ("Next actions", narrative.actions or ["keep in touch as you do"]),
    ]
    if narrative.health_score is None:
        return Section(
            "Health",
            note=f"No contact in the {params.activity_window_days} days to {data.as_of}: no health score.",
        )
    return Section(
        "Health over time",
        "The 0-100 score at each month's end (this month: at the analysis date), and the eight sub-scores it "
        "weighs (0-1).",
        charts=[
            Chart(charts.score_over_time(scored, "health_score", "health score", 100), "Health score (0-100)"),
            Chart(charts.lines_over_time(sub_scores, "sub-score"), "Sub-scores (0-1)"),
        ],
        lists=lists,
    )


def _fading(data: PersonalInputs) -> pl.DataFrame:
    """Ties losing ground: a neglect alert is open, or the last 90 days' volume fell by half or more from a
    tie that was strong or weak."""
    neglected = data.alerts.filter(pl.col("kind") == "neglected_tie").get_column("alter_id")
    return data.ties.filter(
        pl.col("alter_id").is_in(neglected.implode())
        | ((pl.col("trend_90d") <= -FADING_DROP) & (pl.col("strength_at_last_contact") >= 0.3))
    ).sort("strength_at_last_contact", descending=True)


def _timelines(data: PersonalInputs, chosen: pl.DataFrame) -> pl.DataFrame:
    labels = chosen.select("alter_id", who=who()).with_row_index("rank")
    return (
        data.ties_monthly.join(labels, on="alter_id")
        .sort("rank", "month")
        .with_columns(pl.col("who").cast(pl.String))
        .select("who", "month", "strength")
    )


def _ties_section(data: PersonalInputs, fading: pl.DataFrame) -> Section:
    strongest = data.ties.sort("strength", descending=True).head(TIMELINE_TIES)
    fading_top = fading.head(TIMELINE_TIES)
    content = [
        Chart(charts.strength_distribution(data.ties), f"All {data.ties.height} ties by strength and class"),
        Chart(
            charts.tie_timelines(_timelines(data, strongest)),
            f"The {strongest.height} strongest ties, month by month",
        ),
    ]
    if fading_top.height:
        content.append(
            Chart(
                charts.tie_timelines(_timelines(data, fading_top)),
                f"Fading ties, month by month ({fading_top.height} of {fading.height})",
            )
        )
    return Section(
        "Ties",
        "Strength (0-1) weighs how often, how richly and how recently you were in touch; it decays with a "
        "half-life when contact stops. The timelines show it at each month's end. A tie is fading when a neglect "
        "alert is open for it, or its last 90 days carried half the volume of the 90 before or less.",
        charts=content,
        note="" if fading_top.height else "No fading ties: no neglect alert and no tie lost half its volume.",
    )


def _channels_section(data: PersonalInputs) -> Section:
    history = data.history().filter(pl.col("health_score").is_not_null())
    shares = (
        history.unpivot(index="month", on=[f"share_{c}" for c in CHANNELS], variable_name="series", value_name="value")
        .with_columns(pl.col("series").str.strip_prefix("share_").str.replace("_", " "))
        .filter(pl.col("value").fill_null(0) > 0)
    )
    real_world = history.select("month", series=pl.lit("real world (in person, phone)"), value="real_world_share")
    if shares.height == 0:
        return Section("Channels", note="No scored month yet: no channel mix to show.")
    return Section(
        "Channels",
        "How your contact time splits across channels over the activity window ending each month, and the share "
        "that happens in person or by phone.",
        charts=[
            Chart(charts.stacked_shares(shares, "share of contact"), "Channel mix"),
            Chart(charts.lines_over_time(real_world, "real-world share", percent=True), "In person or by phone"),
        ],
    )


def _buckets_section(h: dict[str, Any]) -> Section:
    allocation = pl.DataFrame(
        h.get("bucket_allocation") or [],
        schema={"bucket": pl.String, "planned_share": pl.Float64, "actual_share": pl.Float64},
    )
    if allocation.height == 0:
        return Section(
            "Buckets",
            note="No contacts file with buckets (client, mentor, friend, ...): nothing to compare with a plan. "
            "See `contacts_file` in the README.",
        )
    long = allocation.unpivot(
        index="bucket", on=["planned_share", "actual_share"], variable_name="kind", value_name="share"
    ).with_columns(pl.col("kind").str.strip_suffix("_share"))
    return Section(
        "Buckets: planned against actual",
        "The share of your contact time each bucket of the contacts file should get, and what it got.",
        charts=[Chart(charts.planned_vs_actual(long), "Share of contact time by bucket")],
    )


def _network_section(data: PersonalInputs, ego_id: str, fading: pl.DataFrame) -> Section:
    # equal strengths in the same order every run, so the picture is the same
    active = data.ties.filter(pl.col("tie_class") != "dormant").sort(["strength", "alter_id"], descending=[True, False])
    shown = pl.concat(
        [active.head(PICTURE_ALTERS), fading.filter(pl.col("alter_id").is_in(active["alter_id"].implode()).not_())]
    ).unique("alter_id", keep="first", maintain_order=True)
    if shown.height == 0:
        return Section("Your network", note="No active ties to draw.")
    shown = shown.sort(["strength", "alter_id"], descending=[True, False])
    fading_ids = fading.get_column("alter_id").implode()
    top = shown.head(LABELLED_ALTERS).get_column("alter_id").implode()
    is_fading = pl.col("alter_id").is_in(fading_ids)
    alters = shown.select(
        id="alter_id",
        name=who(),
        group=pl.coalesce("alter_team", "alter_domain", pl.lit("other")),
        strength="strength",
        tie_class="tie_class",
        marker=pl.when(is_fading).then(pl.lit("fading tie")).otherwise(pl.lit("")),
        label=pl.when(pl.col("alter_id").is_in(top) | is_fading).then(who()).otherwise(pl.lit("")),
        # names placed first: the fading ties (what to act on), then the strongest
        label_rank=(10 * is_fading.not_().cast(pl.Float64) - pl.col("strength")).rank("ordinal"),
    ).with_columns(pl.col("name").cast(pl.String), pl.col("label").cast(pl.String))
    ego = pl.DataFrame(
        [
            {
                "id": ego_id,
                "name": "you",
                "group": "you",
                "strength": 1.0,
                "tie_class": "ego",
                "marker": "",
                "label": "you",
                "label_rank": 0,
            }
        ],
        schema=alters.schema,
    )
    spokes = shown.select(source=pl.lit(ego_id), target="alter_id", weight="strength")
    between = data.alter_edges.select(source="alter_a", target="alter_b", weight="weight")
    nodes, edges = spring_positions(
        pl.concat([ego, alters]), pl.concat([spokes, between], how="vertical_relaxed"), fixed=ego_id
    )
    picture = charts.network_picture(
        nodes, edges, colour="group", size="strength", tooltip=("name:N", "group:N", "tie_class:N", "strength:Q")
    )
    return Section(
        "Your network",
        f"You at the centre with {shown.height} contacts (your strongest active ones, {PICTURE_ALTERS} at most, "
        "and any fading ones), coloured by team (outside contacts: their domain), sized by strength; lines "
        "between contacts mean they were in the same mail or meetings with you. Rings mark fading ties. Names: "
        "fading ties first, then your strongest, wherever a name fits without covering another; point at any "
        "contact to see who it is.",
        charts=[Chart(picture)],
    )


def _alerts_section(data: PersonalInputs) -> Section:
    ordered = data.alerts.sort(["priority", "alert_id"], descending=[True, False])
    rows = [
        [
            r["severity"],
            r["kind"].replace("_", " "),
            r["alter_name"] or r["alter_id"] or "",
            r["reason"],
            r["suggested_action"],
            r["alert_id"],
        ]
        for r in ordered.iter_rows(named=True)
    ]
    if not rows:
        return Section("Open alerts", note="No open alerts.")
    return Section(
        "Open alerts",
        "Most important first. Snooze or dismiss one with `tiepulse alerts snooze ID` or `tiepulse alerts dismiss ID`.",
        tables=[Table(["severity", "kind", "who", "why", "next", "id"], rows)],
    )
