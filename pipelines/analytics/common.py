"""Helpers shared by the analytics modules: frame coercion, the analysis instant, interaction weights."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tiepulse.core.params import CHANNELS, AnalyticsParams

Frame = pl.DataFrame | pl.LazyFrame
UTC_TS = pl.Datetime("us", "UTC")
DAY_US = 86_400_000_000
"""Microseconds in a day: durations are turned into fractional days through this."""


def lazy(frame: Frame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def as_of_instant(as_of: dt.date | dt.datetime) -> dt.datetime:
    """The analysis instant: a date means the last microsecond of that day (UTC); a datetime is used as is.

    Interactions at or before the instant count; ages are measured from it.
    """
    if isinstance(as_of, dt.datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - dt.timedelta(microseconds=1)


def as_of_date(as_of: dt.date | dt.datetime) -> dt.date:
    return as_of_instant(as_of).astimezone(dt.UTC).date()


def days_between(later: pl.Expr | dt.datetime, earlier: pl.Expr) -> pl.Expr:
    """Fractional days from ``earlier`` to ``later``."""
    left = pl.lit(later, dtype=UTC_TS) if isinstance(later, dt.datetime) else later
    return (left - earlier).dt.total_microseconds().cast(pl.Float64) / DAY_US


def channel_weight_expr(params: AnalyticsParams, channel: str = "channel") -> pl.Expr:
    """The richness weight of each interaction's channel (0 for an unknown channel)."""
    return (
        pl.col(channel)
        .replace_strict(list(CHANNELS), [params.channel_weight(c) for c in CHANNELS], default=0.0)
        .cast(pl.Float64)
    )


def intimacy_expr(params: AnalyticsParams, group_size: str = "group_size") -> pl.Expr:
    """Smaller groups weigh more: ``group_size ** -intimacy_exponent`` (1 for a one-to-one contact)."""
    return pl.col(group_size).cast(pl.Float64).clip(lower_bound=1.0).pow(-params.intimacy_exponent)


def weight_expr(params: AnalyticsParams) -> pl.Expr:
    """Undecayed weight of one interaction: channel richness times intimacy."""
    return channel_weight_expr(params) * intimacy_expr(params)
