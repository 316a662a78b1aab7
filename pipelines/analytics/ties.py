"""Ties: one row per ego and alter, with strength, recency, cadence, channel mix, reciprocity and trend.

Strength model (docs/metrics.md, "Tie strength"):

1. each interaction weighs ``channel_weight * group_size ** -intimacy_exponent``, decayed by
   ``2 ** (-age_days / half_life_days)``;
2. the decayed weights are summed by who acted: the ego (mail sent, notes), the alter (mail received) or both
   (meetings, calls, visits, video, chat);
3. reciprocity: ``effective = both + 2 * min(out, in) + one_way_credit * |out - in|``, so a balanced exchange
   counts in full and a one-way stream only at ``one_way_credit``;
4. duration: times ``duration_floor + (1 - duration_floor) * min(1, span_days / duration_full_days)``;
5. saturation: ``strength = 1 - exp(-effective * duration / strength_scale)``, in [0, 1).

Group-bys over numeric columns only (see :func:`pair_aggregates`); nothing loops over rows.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from tiepulse.core.params import CHANNELS, AnalyticsParams
from tiepulse.pipelines.analytics.common import (
    DAY_US,
    UTC_TS,
    Frame,
    as_of_date,
    as_of_instant,
    days_between,
    lazy,
    weight_expr,
)

TIE_CLASSES = ("strong", "weak", "dormant", "new")


def decay_expr(age_days: pl.Expr, params: AnalyticsParams) -> pl.Expr:
    """``2 ** (-age / half_life)``: the share of its weight an interaction keeps after ``age_days``."""
    return (-age_days * (math.log(2.0) / params.half_life_days)).exp()


def duration_factor_expr(span_days: pl.Expr, params: AnalyticsParams) -> pl.Expr:
    full = (span_days / params.duration_full_days).clip(0.0, 1.0)
    return params.duration_floor + (1.0 - params.duration_floor) * full


def effective_volume_expr(v_out: pl.Expr, v_in: pl.Expr, v_both: pl.Expr, params: AnalyticsParams) -> pl.Expr:
    """Two-way volume counts in full, the unanswered remainder only at ``one_way_credit``."""
    return v_both + 2.0 * pl.min_horizontal(v_out, v_in) + params.one_way_credit * (v_out - v_in).abs()


def strength_expr(effective: pl.Expr, span_days: pl.Expr, params: AnalyticsParams) -> pl.Expr:
    """Saturating transform of the effective volume, scaled by the relationship's duration."""
    return 1.0 - (-(effective * duration_factor_expr(span_days, params)) / params.strength_scale).exp()


def tie_class_expr(strength: pl.Expr, days_since: pl.Expr, first_age_days: pl.Expr, params: AnalyticsParams) -> pl.Expr:
    """dormant (silent > dormant_days), else new (first contact <= new_tie_days ago), else strong or weak."""
    return (
        pl.when(days_since > params.dormant_days)
        .then(pl.lit("dormant"))
        .when(first_age_days <= params.new_tie_days)
        .then(pl.lit("new"))
        .when(strength >= params.strong_threshold)
        .then(pl.lit("strong"))
        .otherwise(pl.lit("weak"))
    )


def neglect_after_expr(params: AnalyticsParams) -> pl.Expr:
    """Days of silence after which a tie is overdue: max(planned cadence, k x long gap, longest pause the tie came
    back from, floor). A silence no longer than one the relationship already survived is no sign of neglect."""
    learnt = pl.col("n_contact_days") >= params.neglect_min_contact_days
    gap = pl.when(learnt).then(params.neglect_gap_multiplier * pl.col("long_gap_days"))
    survived = pl.when(learnt).then(pl.col("longest_gap_days"))
    return pl.max_horizontal(
        pl.col("cadence_days").cast(pl.Float64).fill_null(0.0),
        gap.fill_null(0.0),
        survived.fill_null(0.0),
        pl.lit(float(params.neglect_floor_days)),
    )


def compute_ties(
    interactions: Frame,
    persons: Frame,
    contacts: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
) -> pl.DataFrame:
    """One row per ego-alter pair with at least one interaction at or before ``as_of``."""
    return ties_lazy(interactions, persons, contacts, as_of, params).collect()


def ties_lazy(
    interactions: Frame,
    persons: Frame,
    contacts: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
) -> pl.LazyFrame:
    """The lazy plan behind :func:`compute_ties` (for callers that fuse it into a larger plan)."""
    params = params or AnalyticsParams()
    instant = as_of_instant(as_of)
    pair = ["ego_id", "alter_id"]

    base = lazy(interactions).filter(pl.col("occurred_at") <= pl.lit(instant, dtype=UTC_TS))
    aggregates = pair_aggregates(base, instant, params)

    persons_cols = lazy(persons).select(
        alter_id="person_id",
        alter_name="display_name",
        alter_team="team",
        alter_department="department",
        alter_domain="domain",
        alter_is_internal="is_internal",
    )
    contact_cols = lazy(contacts).select("ego_id", alter_id="person_id", bucket="bucket", cadence_days="cadence_days")

    span = days_between(pl.col("last_contact"), pl.col("first_contact"))
    days_since_f = days_between(instant, pl.col("last_contact"))
    effective = effective_volume_expr(pl.col("volume_out"), pl.col("volume_in"), pl.col("volume_both"), params)
    recent, previous = pl.col("volume_90d"), pl.col("volume_prev_90d")
    ties = (
        aggregates.join(contact_cols, on=pair, how="left")
        .join(persons_cols, on="alter_id", how="left")
        .with_columns(
            as_of=pl.lit(as_of_date(as_of), dtype=pl.Date),
            span_days=span,
            days_since=days_since_f.floor().cast(pl.Int32),
            first_age=days_between(instant, pl.col("first_contact")),
            effective_volume=effective,
            n_contact_days=pl.col("n_contact_days").fill_null(0).cast(pl.Int32),
        )
        .with_columns(
            strength=strength_expr(pl.col("effective_volume"), pl.col("span_days"), params),
            # Every term decays at the same rate, so the volume at the last contact is today's scaled back up.
            strength_at_last_contact=strength_expr(
                pl.col("effective_volume") * decay_expr(-days_since_f, params), pl.col("span_days"), params
            ),
            expected_next_contact=pl.col("last_contact")
            + pl.duration(microseconds=(pl.col("usual_gap_days") * 86_400_000_000).round().cast(pl.Int64)),
            reciprocity=pl.when(pl.max_horizontal("volume_out", "volume_in") > 0).then(
                pl.min_horizontal("volume_out", "volume_in") / pl.max_horizontal("volume_out", "volume_in")
            ),
            trend_90d=pl.when(recent + previous > 0).then((recent - previous) / (recent + previous)),
        )
        .with_columns(
            tie_class=tie_class_expr(pl.col("strength"), pl.col("days_since"), pl.col("first_age"), params),
            neglect_after_days=neglect_after_expr(params),
        )
        .with_columns(
            overdue_ratio=pl.col("days_since") / pl.col("neglect_after_days"),
            due_date=(
                pl.col("last_contact")
                + pl.duration(microseconds=(pl.col("neglect_after_days") * 86_400_000_000).cast(pl.Int64))
            ).dt.date(),
        )
        .with_columns(
            # Worth watching: two-way (someone who never answered cannot be neglected: that is a one-sided tie),
            # and strong enough when last in touch with a history to learn a gap from, or planned.
            is_watched=pl.col("last_inbound_contact").is_not_null()
            & (
                (
                    (pl.col("strength_at_last_contact") >= params.neglect_min_strength)
                    & (pl.col("n_contact_days") >= params.neglect_min_contact_days)
                )
                | pl.col("cadence_days").is_not_null()
            ),
        )
        .with_columns(is_overdue=pl.col("is_watched") & (pl.col("days_since") > pl.col("neglect_after_days")))
        .select(TIE_COLUMNS)
        .sort(pair)
    )
    return ties


_CHANNEL_CODE = {c: i for i, c in enumerate(CHANNELS)}
_NO_TIME = -(2**62)


def _prepare_rows(base: pl.LazyFrame, instant: dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    """One numeric column per quantity the pair aggregates sum, min or max."""
    trend = params.trend_window_days
    actor, channel = pl.col("actor"), pl.col("channel")
    ego_acts, alter_acts, both_act = actor == "ego", actor == "alter", actor == "both"
    email = channel == "email"
    t_us = pl.col("occurred_at").dt.epoch("us")
    age = (pl.lit(int(instant.timestamp() * 1_000_000)) - t_us).cast(pl.Float64) / DAY_US
    dw = pl.col("w") * decay_expr(pl.col("age"), params)

    def when_time(cond: pl.Expr) -> pl.Expr:
        return pl.when(cond).then(pl.col("t_us")).otherwise(_NO_TIME)

    def count(cond: pl.Expr) -> pl.Expr:
        return cond.cast(pl.Int32)

    def share(cond: pl.Expr) -> pl.Expr:
        return pl.when(cond).then(pl.col("dw")).otherwise(0.0)

    prepared = (
        base.select(
            "ego_id",
            "alter_id",
            "actor",
            pk=pl.struct("ego_id", "alter_id").hash(),
            t_us=t_us,
            age=age,
            w=weight_expr(params),
            channel_code=channel.replace_strict(_CHANNEL_CODE, default=7, return_dtype=pl.Int64),
            is_email_sent=count(email & ego_acts),
            is_email_received=count(email & alter_acts),
            is_face_to_face=count(pl.col("is_in_person")),
            is_after_hours=count(pl.col("is_after_hours")),
            is_ego_started=count(pl.col("direction") == "ego_initiated"),
            is_alter_started=count(pl.col("direction") == "alter_initiated"),
            is_outreach=count(email & ego_acts & ~pl.col("is_response")),
            is_answer=count(email & alter_acts & pl.col("is_response")),
            is_two_way=both_act | pl.col("is_response"),
            is_ego_act=ego_acts,
            personal=1.0 / pl.col("group_size").fill_null(1).clip(lower_bound=1),
            is_both=both_act,
            is_alter_act=alter_acts,
            minutes=pl.col("minutes"),
            shared_minutes=pl.col("shared_minutes"),
        )
        .with_columns(
            dw=dw,
            day=(pl.col("t_us") // DAY_US).cast(pl.Int32),
        )
        .with_columns(
            last_key=pl.col("t_us") * 8 + pl.col("channel_code"),
            t_two_way=when_time(pl.col("is_two_way")),
            t_inbound=when_time(~pl.col("is_ego_act")),
            dw_out=share(pl.col("is_ego_act")),
            dw_in=share(pl.col("is_alter_act")),
            dw_both=share(pl.col("is_both")),
            w_recent=pl.when(pl.col("age") <= trend).then(pl.col("w")).otherwise(0.0),
            w_prev=pl.when((pl.col("age") > trend) & (pl.col("age") <= 2 * trend)).then(pl.col("w")).otherwise(0.0),
        )
    )
    return prepared


_SUMS = [
    "is_email_sent",
    "is_email_received",
    "is_face_to_face",
    "is_after_hours",
    "is_ego_started",
    "is_alter_started",
    "is_outreach",
    "is_answer",
    "minutes",
    "shared_minutes",
    "dw",
    "dw_out",
    "dw_in",
    "dw_both",
    "w_recent",
    "w_prev",
]


def pair_aggregates(base: pl.LazyFrame, instant: dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    """Per-pair sums, counts, times and the usual gap, as plain column sums/mins/maxes over a hashed pair key.

    Speed matters here (millions of interactions): every per-row condition is turned into a numeric column first
    (:func:`_prepare_rows`), so the group-by only runs simple aggregations; pairs are grouped on one 64-bit hash
    of (ego, alter), and the strings are attached once per pair at the end. The last channel rides along in the
    low bits of ``time * 8 + channel``, whose maximum gives the latest time and its channel at once.
    """
    # Materialised once: five aggregations below read it, and a lazy plan would recompute it for each.
    prepared = _prepare_rows(base, instant, params).collect().lazy()
    per_pair = prepared.group_by("pk").agg(
        pl.col(_SUMS).sum(),
        # the strings behind the hash (min: a plain aggregation, and every row of a pair holds the same value)
        ego_id=pl.col("ego_id").min(),
        alter_id=pl.col("alter_id").min(),
        n_interactions=pl.len().cast(pl.Int32),
        first_us=pl.col("t_us").min(),
        last_key=pl.col("last_key").max(),
        t_two_way=pl.col("t_two_way").max(),
        t_inbound=pl.col("t_inbound").max(),
    )
    # Unanswered outreach: ego acts after the alter's last sign of life, within the one-sided window, counted as
    # personal attempts: a message to n people asks each of them 1/n of an answer (any of them may reply).
    unanswered = (
        prepared.filter(pl.col("is_ego_act") & (pl.col("age") <= params.one_sided_window_days))
        .select("pk", "t_us", "personal")
        .join(per_pair.select("pk", "t_inbound"), on="pk")
        .filter(pl.col("t_us") > pl.col("t_inbound"))
        .group_by("pk")
        .agg(n_unanswered=pl.col("personal").sum().floor().cast(pl.Int32))
    )
    gaps = _usual_gaps(prepared.select("pk", "day"), per_pair.select("pk"), params)
    # Per-channel counts and volumes in long form (pair x channel), then one column per channel: cheaper than
    # fourteen conditional columns over every interaction.
    per_channel = prepared.group_by("pk", "channel_code").agg(n=pl.len(), v=pl.col("dw").sum())
    by_channel = per_channel.group_by("pk").agg(
        **{f"n_{c}": pl.col("n").filter(pl.col("channel_code") == i).sum() for c, i in _CHANNEL_CODE.items()},
        **{f"volume_{c}": pl.col("v").filter(pl.col("channel_code") == i).sum() for c, i in _CHANNEL_CODE.items()},
    )

    def as_time(expr: pl.Expr) -> pl.Expr:
        return pl.when(expr > _NO_TIME).then(expr).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")

    ego_started, alter_started = pl.col("is_ego_started"), pl.col("is_alter_started")
    return (
        per_pair.join(unanswered, on="pk", how="left")
        .join(gaps, on="pk", how="left")
        .join(by_channel, on="pk", how="left")
        .select(
            "ego_id",
            "alter_id",
            first_contact=as_time(pl.col("first_us")),
            last_contact=as_time(pl.col("last_key") // 8),
            last_channel=(pl.col("last_key") % 8).replace_strict(
                {i: c for c, i in _CHANNEL_CODE.items()}, default=None, return_dtype=pl.String
            ),
            last_two_way_contact=as_time(pl.col("t_two_way")),
            last_inbound_contact=as_time(pl.col("t_inbound")),
            n_unanswered=pl.col("n_unanswered").fill_null(0),
            n_interactions="n_interactions",
            **{f"n_{c}": pl.col(f"n_{c}").fill_null(0).cast(pl.Int32) for c in CHANNELS},
            n_face_to_face=pl.col("is_face_to_face").cast(pl.Int32),
            n_email_sent=pl.col("is_email_sent").cast(pl.Int32),
            n_email_received=pl.col("is_email_received").cast(pl.Int32),
            n_after_hours=pl.col("is_after_hours").cast(pl.Int32),
            minutes="minutes",
            shared_minutes="shared_minutes",
            volume="dw",
            volume_out="dw_out",
            volume_in="dw_in",
            volume_both="dw_both",
            **{f"volume_{c}": pl.col(f"volume_{c}").fill_null(0.0) for c in CHANNELS},
            volume_90d="w_recent",
            volume_prev_90d="w_prev",
            initiation_share=pl.when(ego_started + alter_started > 0).then(ego_started / (ego_started + alter_started)),
            reply_rate=pl.when(pl.col("is_outreach") > 0).then(
                (pl.col("is_answer") / pl.col("is_outreach")).clip(upper_bound=1.0)
            ),
            n_contact_days=pl.col("n_contact_days").fill_null(0).cast(pl.Int32),
            usual_gap_days="usual_gap_days",
            long_gap_days="long_gap_days",
            longest_gap_days="longest_gap_days",
        )
    )


def _usual_gaps(pair_days: pl.LazyFrame, pairs: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    """Median and ``neglect_gap_quantile`` of the days between consecutive distinct contact days of each pair, the
    longest pause the relationship came back from once established (a gap after at least
    ``neglect_min_contact_days`` contact days: a first contact and a long silence is an introduction, not yet a
    relationship), and the number of those days.

    Each pair gets a dense index so that (index, day) packs into one integer: one unique and one single-key sort
    instead of a sort on two columns.
    """
    index = pairs.with_columns(idx=pl.int_range(pl.len(), dtype=pl.UInt64))
    shift = 1 << 32
    keys = (
        pair_days.join(index, on="pk")
        .select(key=pl.col("idx") * shift + (pl.col("day").cast(pl.Int64) + (1 << 31)).cast(pl.UInt64))
        .unique()
        .sort("key")
    )
    same_pair = (pl.col("key") // shift) == (pl.col("key").shift(1) // shift)
    gap = (pl.col("key").cast(pl.Int64) - pl.col("key").shift(1).cast(pl.Int64)).cast(pl.Float64)
    return (
        keys.with_columns(idx=pl.col("key") // shift, gap=pl.when(same_pair).then(gap))
        .group_by("idx")
        .agg(
            n_contact_days=pl.len(),
            usual_gap_days=pl.col("gap").median(),
            long_gap_days=pl.col("gap").quantile(params.neglect_gap_quantile, interpolation="linear"),
            longest_gap_days=pl.col("gap").filter(pl.int_range(pl.len()) >= params.neglect_min_contact_days).max(),
        )
        .join(index, on="idx")
        .select("pk", "n_contact_days", "usual_gap_days", "long_gap_days", "longest_gap_days")
    )


TIE_COLUMNS: list[str] = [
    "ego_id",
    "alter_id",
    "as_of",
    "strength",
    "strength_at_last_contact",
    "tie_class",
    "first_contact",
    "last_contact",
    "last_channel",
    "last_two_way_contact",
    "last_inbound_contact",
    "days_since",
    "span_days",
    "n_contact_days",
    "usual_gap_days",
    "long_gap_days",
    "longest_gap_days",
    "expected_next_contact",
    "neglect_after_days",
    "due_date",
    "overdue_ratio",
    "is_watched",
    "is_overdue",
    "n_interactions",
    *[f"n_{c}" for c in CHANNELS],
    "n_face_to_face",
    "n_email_sent",
    "n_email_received",
    "n_after_hours",
    "minutes",
    "shared_minutes",
    "volume",
    "volume_out",
    "volume_in",
    "volume_both",
    "effective_volume",
    *[f"volume_{c}" for c in CHANNELS],
    "volume_90d",
    "volume_prev_90d",
    "trend_90d",
    "reciprocity",
    "initiation_share",
    "reply_rate",
    "n_unanswered",
    "bucket",
    "cadence_days",
    "alter_name",
    "alter_team",
    "alter_department",
    "alter_domain",
    "alter_is_internal",
]
"""Columns of ``marts.mart_ties``, in order."""
