"""Fingerprints of what each month of history was computed from, so an incremental run recomputes exactly the
months whose inputs changed.

A month's fingerprint covers its cut-off day (the month end, or the analysis date for the month still running),
an order-insensitive checksum of every interaction up to that cut-off, and a ``context`` string for the inputs that
weigh on every month alike (the analytics parameters, the people's attributes, the contacts). Changing a threshold,
the directory or an identity merge therefore changes every month; new mail in the latest month changes that month
only. The checksum sums the two 32-bit halves of each row's Polars hash (stable within one Polars version: an
upgrade recomputes the history once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_instant, lazy
from tiepulse.pipelines.analytics.monthly import month_cutoff, month_end, month_start

PERSON_ATTRIBUTES = ("person_id", "domain", "is_internal", "team", "department")
"""The columns of ``dim_person`` that history depends on (not the per-person message counts, which move daily)."""

_HALF = 2**32


def _sums(frame: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    """Row count and the summed low and high halves of each row's hash, per ``keys`` (or overall)."""
    value_columns = [c for c in frame.collect_schema().names() if c not in keys]
    hashed = frame.select(*keys, h=pl.struct(value_columns).hash())
    sums = {"n": pl.len(), "lo": (pl.col("h") % _HALF).sum(), "hi": (pl.col("h") // _HALF).sum()}
    return hashed.group_by(*keys).agg(**sums) if keys else hashed.select(**sums)


def checksum(frame: Frame) -> str:
    """Order-insensitive checksum of a whole frame (equal rows in any order, equal checksum)."""
    n, lo, hi = _sums(lazy(frame)).collect().row(0)
    return f"{n}:{lo}:{hi}"


def digest(*parts: object) -> str:
    """One short digest of ``parts`` (their text, in order)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]


def history_context(params: AnalyticsParams, *frames: Frame) -> str:
    """One digest of the parameters and of the frames every month depends on."""
    parts = [json.dumps(params.model_dump(), sort_keys=True), *(checksum(f) for f in frames)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def history_months(interactions: Frame, as_of: dt.date) -> list[dt.date]:
    """Month starts from the first interaction's month (at or before ``as_of``) to the month holding ``as_of``."""
    first = (
        lazy(interactions)
        .filter(pl.col("occurred_at") <= pl.lit(as_of_instant(as_of), dtype=UTC_TS))
        .select(pl.col("occurred_at").min())
        .collect()
        .item()
    )
    if first is None:
        return []
    months, month = [], month_start(first.date())
    while month <= as_of:
        months.append(month)
        month = month_end(month) + dt.timedelta(days=1)
    return months


def month_fingerprints(interactions: Frame, months: list[dt.date], as_of: dt.date, context: str) -> dict[dt.date, str]:
    """Per month start: ``cut-off|interactions up to it|digest`` of the cut-off, those interactions and
    ``context``."""
    if not months:
        return {}
    per_month = _sums(
        lazy(interactions)
        .filter(pl.col("occurred_at") <= pl.lit(as_of_instant(as_of), dtype=UTC_TS))
        .with_columns(month=pl.col("occurred_at").dt.truncate("1mo").dt.date()),
        "month",
    )
    cumulative = (
        pl.LazyFrame({"month": months}, schema={"month": pl.Date})
        .join(per_month, on="month", how="left")
        .sort("month")
        .select("month", *(pl.col(c).fill_null(0).cum_sum() for c in ("n", "lo", "hi")))
        .collect()
    )
    fingerprints = {}
    for month, n, lo, hi in cumulative.iter_rows():
        cut = month_cutoff(month, as_of)
        digest = hashlib.sha256(f"{context}|{cut}|{n}|{lo}|{hi}".encode()).hexdigest()[:16]
        fingerprints[month] = f"{cut}|{n}|{digest}"
    return fingerprints
