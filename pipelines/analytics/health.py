"""Network health: one row per ego at ``as_of``, with the measures behind a 0-100 score and its sub-scores.

Windows (docs/metrics.md, "Network health"): network size uses ``network_window_days`` (28, Viva's four
weeks) and ``network_window_long_days`` (90); everything describing the current network (diversity, brokerage,
channel mix, concentration, reciprocity, bucket allocation) uses ``activity_window_days`` (90).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from tiepulse.core.params import CHANNELS, SUB_SCORES, AnalyticsParams
from tiepulse.pipelines.analytics.brokerage import ego_network_edges, structural_holes
from tiepulse.pipelines.analytics.common import (
    UTC_TS,
    Frame,
    as_of_date,
    as_of_instant,
    days_between,
    lazy,
    weight_expr,
)
from tiepulse.pipelines.analytics.coverage import everything_observed
from tiepulse.pipelines.analytics.diversity import DIVERSITY_COLUMNS, compute_diversity

BUCKET_ALLOCATION_TYPE = pl.List(
    pl.Struct({"bucket": pl.String, "planned_share": pl.Float64, "actual_share": pl.Float64})
)

HEALTH_COLUMNS: list[str] = [
    "ego_id",
    "as_of",
    "is_active",
    "data_status",
    "data_start",
    "data_end",
    "inbound_observed",
    "health_score",
    "measured_parts",
    *[f"score_{s}" for s in SUB_SCORES],
    "n_ties",
    "n_active_ties",
    "network_size",
    "network_size_internal",
    "network_size_external",
    "network_size_90d",
    "network_size_90d_internal",
    "network_size_90d_external",
    "n_strong",
    "n_weak",
    "n_dormant",
    "n_new",
    "new_ties_30d",
    "n_watched",
    "n_overdue",
    *DIVERSITY_COLUMNS,
    "burt_constraint",
    "effective_size",
    "efficiency",
    "reciprocal_share",
    "initiation_share",
    "initiation_balance",
    "email_reciprocity",
    "top5_share",
    "gini",
    *[f"share_{c}" for c in CHANNELS],
    "real_world_share",
    "after_hours_share",
    "own_team_share",
    "own_team_share_prev",
    "outside_left_without_top_tie",
    "bucket_allocation",
    "bucket_gap",
]
"""Columns of ``marts.mart_network_health``, in order."""


def compute_network_health(
    ties: Frame,
    interactions: Frame,
    persons: Frame,
    contacts: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
    alter_edges: Frame | None = None,
    observation: Frame | None = None,
) -> pl.DataFrame:
    """Health of each ego's network at ``as_of``.

    ``ties`` is :func:`compute_ties` at the same ``as_of``. ``alter_edges`` are the alter-alter ties from
    :func:`cooccurrence_edges` (same ``as_of``); without them brokerage sees no ties between alters.
    ``observation`` is :func:`~pipelines.analytics.coverage.observe_egos` at the same ``as_of`` (None: every
    channel of every ego observed for all time): an ego with no recent data is not scored, and a sub-score
    whose inputs were not observed is left out of the score.
    """
    params = params or AnalyticsParams()
    instant = as_of_instant(as_of)
    tie_frame = lazy(ties)
    window = params.activity_window_days

    inter = (
        lazy(interactions)
        .filter(pl.col("occurred_at") <= pl.lit(instant, dtype=UTC_TS))
        .with_columns(age=days_between(instant, pl.col("occurred_at")), w=weight_expr(params))
    )
    recent = inter.filter(pl.col("age") <= window)

    egos = tie_frame.select("ego_id").unique()
    counts = _tie_counts(tie_frame, instant, params)
    sizes = _network_sizes(inter, persons, params)
    activity = _activity(recent, params)
    concentration = _concentration(tie_frame.filter(pl.col("days_since") <= window))
    own_team = _own_team_shares(inter, persons, window)
    buckets = _bucket_allocation(recent, contacts, egos, params)
    diversity = compute_diversity(tie_frame.filter(pl.col("days_since") <= window)).lazy()

    ego_edges = ego_network_edges(inter.drop("age", "w"), instant, params)
    alter_frame = (
        lazy(alter_edges)
        if alter_edges is not None
        else pl.LazyFrame(
            schema={"ego_id": pl.String, "alter_a": pl.String, "alter_b": pl.String, "weight": pl.Float64}
        )
    )
    holes = (
        structural_holes(ego_edges, alter_frame)
        .lazy()
        .select("ego_id", "burt_constraint", "effective_size", "efficiency")
    )

    measures = egos
    for part in (counts, sizes, activity, concentration, own_team, buckets, diversity, holes):
        measures = measures.join(part, on="ego_id", how="left")
    measures = measures.with_columns(**{c: pl.col(c).fill_null(0) for c in _ZERO_IF_MISSING}).with_columns(
        is_active=pl.col("n_active_ties") > 0
    )
    seen = observation if observation is not None else everything_observed(egos.collect())
    return scored_health(measures, observation_as_read(seen, instant, params), as_of, params)


OBSERVED_COLUMNS = ["data_start", "data_end", "data_status", "inbound_observed"]
"""The columns of ``mart_network_health`` taken from the ego's observation."""
SCORE_COLUMNS = ["health_score", "measured_parts", *[f"score_{s}" for s in SUB_SCORES]]
"""The columns of ``mart_network_health`` computed from the measures and the observation."""


def scored_health(
    measures: Frame, observation: pl.LazyFrame, as_of: dt.date | dt.datetime, params: AnalyticsParams
) -> pl.DataFrame:
    """The health rows from each ego's measures (the columns of ``HEALTH_COLUMNS`` but ``as_of``,
    ``OBSERVED_COLUMNS`` and ``SCORE_COLUMNS``) and its observation at ``as_of`` as the health reads it
    (:func:`observation_as_read`). A stored row's measures rescored against a changed observation equal the row
    computed anew (``pipelines.ego_marts``)."""
    health = (
        lazy(measures)
        .join(observation, on="ego_id", how="left")
        .with_columns(
            as_of=pl.lit(as_of_date(as_of), dtype=pl.Date),
            # an ego seen only in others' mailboxes: none of their own data was read
            data_status=pl.col("data_status").fill_null("not_observed"),
            inbound_observed=pl.col("inbound_observed").fill_null(False),
        )
    )
    return _with_scores(health, as_of_instant(as_of), params).select(HEALTH_COLUMNS).sort("ego_id").collect()


_ZERO_IF_MISSING = [
    "network_size",
    "network_size_internal",
    "network_size_external",
    "network_size_90d",
    "network_size_90d_internal",
    "network_size_90d_external",
    "n_active_ties",
    *DIVERSITY_COLUMNS,
]


def _tie_counts(ties: pl.LazyFrame, instant: dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    tie_class = pl.col("tie_class")
    first_age = days_between(instant, pl.col("first_contact"))
    return ties.group_by("ego_id").agg(
        n_ties=pl.len().cast(pl.Int32),
        n_strong=(tie_class == "strong").sum().cast(pl.Int32),
        n_weak=(tie_class == "weak").sum().cast(pl.Int32),
        n_dormant=(tie_class == "dormant").sum().cast(pl.Int32),
        n_new=(tie_class == "new").sum().cast(pl.Int32),
        # Overload counts new ties the ego put effort into (wrote, met, called): a stranger's mail is no load.
        new_ties_30d=((first_age <= params.new_tie_days) & ((pl.col("volume_out") > 0) | (pl.col("volume_both") > 0)))
        .sum()
        .cast(pl.Int32),
        n_watched=pl.col("is_watched").sum().cast(pl.Int32),
        n_overdue=pl.col("is_overdue").sum().cast(pl.Int32),
    )


def _reciprocal_alters(inter: pl.LazyFrame, days: int) -> pl.LazyFrame:
    """Alters with contact both ways within ``days``: something from the alter and something from the ego (a
    meeting or call is both)."""
    actor = pl.col("actor")
    return (
        inter.filter(pl.col("age") <= days)
        .group_by("ego_id", "alter_id")
        .agg(from_ego=actor.is_in(["ego", "both"]).any(), from_alter=actor.is_in(["alter", "both"]).any())
        .filter(pl.col("from_ego") & pl.col("from_alter"))
        .select("ego_id", "alter_id")
    )


def _network_sizes(inter: pl.LazyFrame, persons: Frame, params: AnalyticsParams) -> pl.LazyFrame:
    internal = lazy(persons).select(alter_id="person_id", internal=pl.col("is_internal").fill_null(False))
    parts = []
    for days, suffix in ((params.network_window_days, ""), (params.network_window_long_days, "_90d")):
        sized = (
            _reciprocal_alters(inter, days)
            .join(internal, on="alter_id", how="left")
            .group_by("ego_id")
            .agg(
                **{
                    f"network_size{suffix}": pl.len().cast(pl.Int32),
                    f"network_size{suffix}_internal": pl.col("internal").fill_null(False).sum().cast(pl.Int32),
                    f"network_size{suffix}_external": (~pl.col("internal").fill_null(False)).sum().cast(pl.Int32),
                }
            )
        )
        parts.append(sized)
    return parts[0].join(parts[1], on="ego_id", how="full", coalesce=True)


def _activity(recent: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    """Channel mix, real-world and after-hours shares, initiation and reciprocity over the activity window."""
    direction = pl.col("direction")
    ego_started = (direction == "ego_initiated").sum()
    alter_started = (direction == "alter_initiated").sum()
    email = pl.col("channel") == "email"
    # Counts as signed integers: a boolean sum is unsigned, and sent - received would wrap below zero.
    sent = (email & (pl.col("actor") == "ego")).cast(pl.Int64).sum()
    received = (email & (pl.col("actor") == "alter")).cast(pl.Int64).sum()
    per_ego = recent.group_by("ego_id").agg(
        n_active_ties=pl.col("alter_id").n_unique().cast(pl.Int32),
        **{f"share_{c}": (pl.col("channel") == c).mean() for c in CHANNELS},
        real_world_share=(pl.col("is_in_person") | (pl.col("channel") == "call")).mean(),
        after_hours_share=pl.col("is_after_hours").mean(),
        initiation_share=pl.when(ego_started + alter_started > 0).then(ego_started / (ego_started + alter_started)),
        email_reciprocity=pl.when(sent + received > 0).then(1.0 - (sent - received).abs() / (sent + received)),
    )
    reciprocal = _reciprocal_alters(recent, params.activity_window_days).group_by("ego_id").agg(n_reciprocal=pl.len())
    return (
        per_ego.join(reciprocal, on="ego_id", how="left")
        .with_columns(
            reciprocal_share=pl.col("n_reciprocal").fill_null(0) / pl.col("n_active_ties"),
            initiation_balance=1.0 - (2.0 * pl.col("initiation_share") - 1.0).abs(),
        )
        .drop("n_reciprocal")
    )


def _concentration(active: pl.LazyFrame) -> pl.LazyFrame:
    """Top-5 share and Gini of decayed volume over the active ties.

    Gini with ties sorted by volume ascending, ranks ``i = 1..n``: ``G = 2 sum i x_i / (n sum x) - (n + 1) /
    n``.
    """
    ranked = (
        active.filter(pl.col("volume") > 0)
        .select("ego_id", "volume")
        .sort("ego_id", "volume")
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("ego_id"))
    )
    return ranked.group_by("ego_id").agg(
        top5_share=_unit(pl.col("volume").top_k(5).sum() / pl.col("volume").sum()),
        gini=_unit(
            2.0 * (pl.col("rank") * pl.col("volume")).sum() / (pl.len() * pl.col("volume").sum())
            - (pl.len() + 1) / pl.len()
        ),
    )


def _unit(share: pl.Expr) -> pl.Expr:
    """A share that lies in [0, 1] by its formula, kept there: summed in another order, equal volumes give a
    Gini of -2e-16 or a top-5 share of 1.0000000000000002, which the published table's range check rejects."""
    return share.clip(0.0, 1.0)


NARROWING_BASELINE_WINDOWS = 2
"""Windows before the current one whose highest own-team share is the baseline of a narrowing."""


def _own_team_shares(inter: pl.LazyFrame, persons: Frame, window: int) -> pl.LazyFrame:
    """Share of (undecayed) volume spent with the ego's own team (else department) in the window, and the highest
    such share of the windows before it (``NARROWING_BASELINE_WINDOWS``): one window alone moves with a single
    large cross-team meeting or a client account that ends, the highest of two is the ego's usual range.

    ``outside_left_without_top_tie``: the outside share of the window as a fraction of its baseline, both taken
    with the ego's largest outside tie of the baseline windows left out of every window. A narrowing is contact
    outside the team falling across ties; one heavy tie falling silent is that tie's neglect, not a narrower network.
    """
    people = lazy(persons).select(
        "person_id", group=pl.coalesce("team", "department"), internal=pl.col("is_internal").fill_null(False)
    )
    # 0: the window, 1: the one before, ...
    slot = ((pl.col("age") / window).ceil().clip(lower_bound=1) - 1).cast(pl.Int32)
    # Only these windows matter: filter first, sum per pair, and label the (far fewer) pairs, not every row.
    per_pair = (
        inter.filter(pl.col("age") <= (NARROWING_BASELINE_WINDOWS + 1) * window)
        .group_by("ego_id", "alter_id", slot=slot)
        .agg(w=pl.col("w").sum())
    )
    labelled = per_pair.join(people.select(ego_id="person_id", ego_group="group"), on="ego_id", how="left").join(
        people.select(alter_id="person_id", alter_group="group", alter_internal="internal"),
        on="alter_id",
        how="left",
    )
    labelled = labelled.with_columns(
        same=pl.col("alter_internal").fill_null(False) & (pl.col("alter_group") == pl.col("ego_group")).fill_null(False)
    )
    top = (
        labelled.filter(~pl.col("same") & (pl.col("slot") > 0))
        .group_by("ego_id", "alter_id")
        .agg(pl.col("w").sum().round(9))  # equal weights stay equal whatever order the sum ran in: ties by id
        .group_by("ego_id")
        .agg(top_alter=pl.col("alter_id").sort_by("w", "alter_id", descending=[True, False]).first())
    )
    labelled = labelled.join(top, on="ego_id", how="left").with_columns(
        is_top=(pl.col("alter_id") == pl.col("top_alter")).fill_null(False)
    )
    w, same, has_group = pl.col("w"), pl.col("same"), pl.col("ego_group").first().is_not_null()
    without_top = w.filter(~pl.col("is_top")).sum()
    per_window = labelled.group_by("ego_id", "slot").agg(
        share=pl.when(has_group & (w.sum() > 0)).then(w.filter(same).sum() / w.sum()),
        # the outside share summed directly, not as 1 - own share: near 1 that difference is float noise
        outside_rest=pl.when(has_group & (without_top > 0)).then(
            w.filter(~same & ~pl.col("is_top")).sum() / without_top
        ),
    )
    now_rest = pl.col("outside_rest").filter(pl.col("slot") == 0).first()
    prev_rest = pl.col("outside_rest").filter(pl.col("slot") > 0).min()  # the baseline: the highest own share
    return per_window.group_by("ego_id").agg(
        own_team_share=pl.col("share").filter(pl.col("slot") == 0).first(),
        own_team_share_prev=pl.col("share").filter(pl.col("slot") > 0).max(),
        outside_left_without_top_tie=pl.when(prev_rest > 0).then(now_rest / prev_rest),
    )


def _bucket_allocation(
    recent: pl.LazyFrame, contacts: Frame, egos: pl.LazyFrame, params: AnalyticsParams
) -> pl.LazyFrame:
    """Planned versus actual share of attention per contact bucket, and their total variation distance.

    Planned: ``bucket_plan`` when configured; else each bucket's contacts per day (sum of 1 / cadence_days);
    else an equal share per bucket. Actual: each bucket's share of the window's volume among the planned
    buckets.
    """
    book = (
        lazy(contacts)
        .filter(pl.col("bucket").is_not_null())
        .select("ego_id", alter_id="person_id", bucket="bucket", cadence_days="cadence_days")
    )
    if params.bucket_plan:
        plan = egos.join(
            pl.LazyFrame({"bucket": list(params.bucket_plan), "planned": list(params.bucket_plan.values())}),
            how="cross",
        )
    else:
        per_bucket = book.group_by("ego_id", "bucket").agg(rate=(1.0 / pl.col("cadence_days").cast(pl.Float64)).sum())
        by_cadence = pl.col("rate").sum().over("ego_id") > 0
        plan = per_bucket.with_columns(
            planned=pl.when(by_cadence)
            .then(pl.col("rate") / pl.col("rate").sum().over("ego_id"))
            .otherwise(1.0 / pl.len().over("ego_id"))
        ).select("ego_id", "bucket", "planned")
    spent = (
        recent.join(book.select("ego_id", "alter_id", "bucket"), on=["ego_id", "alter_id"])
        .group_by("ego_id", "bucket")
        .agg(volume=pl.col("w").sum())
    )
    joined = (
        plan.join(spent, on=["ego_id", "bucket"], how="left")
        .with_columns(volume=pl.col("volume").fill_null(0.0))
        .with_columns(total=pl.col("volume").sum().over("ego_id"))
        .with_columns(actual=pl.when(pl.col("total") > 0).then(pl.col("volume") / pl.col("total")))
        .sort("ego_id", "bucket")
    )
    return joined.group_by("ego_id").agg(
        bucket_allocation=pl.struct(pl.col("bucket"), planned_share=pl.col("planned"), actual_share=pl.col("actual")),
        bucket_gap=pl.when(pl.col("total").first() > 0).then(
            _unit(0.5 * (pl.col("planned") - pl.col("actual")).abs().sum())
        ),
    )


def observation_as_read(observation: Frame, as_of: dt.date | dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    """What the health reads of an ego's observation at ``as_of``: the published columns, and whether inbound
    mail and a calendar or log were observed over the activity window. A later item past a month's end changes the
    observation's ``calendar_end`` but not this, so a closed month's health is not recomputed for it
    (``pipelines.ego_marts`` digests this per ego and month)."""
    at = pl.lit(as_of_instant(as_of), dtype=UTC_TS)
    window = pl.duration(days=params.activity_window_days)
    return lazy(observation).select(
        "ego_id",
        "data_start",
        "data_end",
        "data_status",
        "inbound_observed",
        inbound_over_window=pl.col("inbound_observed").fill_null(False)
        & (pl.col("inbound_start") <= at - window).fill_null(False),
        calendar_over_window=(pl.col("calendar_end") >= at - window).fill_null(False),
    )


def _with_scores(health: pl.LazyFrame, instant: dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    """Sub-scores in [0, 1] and the 0-100 score over the measured ones (weights ``health_weights``, renormalised).

    An inactive ego (no contact in the activity window) or one with no recent data has no network to score:
    every score is null. A sub-score is measured only when what it reads was observed (docs/metrics.md):
    engagement, breadth and reciprocity need the ego's inbound mail over the activity window, real-world contact
    a calendar or log in it, maintenance a watched tie, stability ``overload_min_history_days`` of observation.
    With less than ``health_min_measured_weight`` of the weight measured there is no overall score.
    """

    def capped(expr: pl.Expr) -> pl.Expr:
        return expr.fill_null(0.0).fill_nan(0.0).clip(0.0, 1.0)

    at = pl.lit(instant, dtype=UTC_TS)
    inbound = pl.col("inbound_over_window").fill_null(False)
    measured = {
        "engagement": inbound,
        "breadth": inbound,
        "diversity": pl.lit(True),
        "brokerage": pl.lit(True),
        "reciprocity": inbound,
        "maintenance": pl.col("n_watched").fill_null(0) > 0,
        "real_world": pl.col("calendar_over_window").fill_null(False),
        "stability": (pl.col("data_start") <= at - pl.duration(days=params.overload_min_history_days)).fill_null(False),
    }
    scores = {
        "engagement": capped(pl.col("n_strong").fill_null(0) / params.target_strong_ties),
        "breadth": capped(pl.col("network_size_90d") / params.target_network_size),
        "diversity": capped(pl.col("community_blau") / params.target_blau),
        "brokerage": pl.when(pl.col("burt_constraint").is_null())
        .then(0.0)
        .otherwise(capped(1.0 - pl.col("burt_constraint"))),
        # Balance of initiative needs directed contacts; with none (only meetings and calls) two-way share alone.
        "reciprocity": pl.when(pl.col("initiation_balance").is_null())
        .then(capped(pl.col("reciprocal_share")))
        .otherwise(0.5 * capped(pl.col("reciprocal_share")) + 0.5 * capped(pl.col("initiation_balance"))),
        "maintenance": capped(1.0 - pl.col("n_overdue") / pl.col("n_watched")),
        "real_world": capped(pl.col("real_world_share") / params.target_real_world_share),
        "stability": pl.when(pl.col("new_ties_30d").fill_null(0) <= params.overload_new_ties)
        .then(1.0)
        .otherwise(params.overload_new_ties / pl.col("new_ties_30d").cast(pl.Float64)),
    }
    scored = pl.col("is_active") & (pl.col("data_status") == "current")
    health = health.with_columns(
        **{f"score_{k}": pl.when(scored & measured[k]).then(v.cast(pl.Float64)) for k, v in scores.items()}
    )
    weights = {k: params.health_weights[k] for k in SUB_SCORES}
    total = pl.sum_horizontal([w * pl.col(f"score_{k}") for k, w in weights.items()])
    weight = pl.sum_horizontal([pl.when(pl.col(f"score_{k}").is_not_null()).then(w) for k, w in weights.items()])
    parts = pl.concat_list([pl.when(pl.col(f"score_{k}").is_not_null()).then(pl.lit(k)) for k in SUB_SCORES])
    enough = weight >= params.health_min_measured_weight * sum(weights.values())
    return health.with_columns(
        health_score=pl.when(scored & (weight > 0) & enough).then((100.0 * total / weight).round(1)),
        measured_parts=pl.when(scored).then(parts.list.drop_nulls()),
    )
