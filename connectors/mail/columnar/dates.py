"""``dates.parse_date`` for a column of Date values: the common RFC 5322 shape vectorised, the rest per value.

The shape ``[Ddd, ]d Mmm yyyy hh:mm:ss +hhmm[ (Zone)]`` (years 1900-2099, seconds below 60) is what
``email.utils.parsedate_tz`` reads as those very fields, so a strict ``strptime`` of it gives the same instant; an
impossible day (31 February) comes out null and, like every other value, is parsed by ``parse_date`` (once per
distinct value of the batch). Null means no usable date: the row is left to ``MessageParser``, which says why.
"""

from __future__ import annotations

import polars as pl

from ..dates import parse_date, utc_offset_minutes

UTC_US = pl.Datetime("us", "UTC")
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_SHAPE = (
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(?:0?[1-9]|[12][0-9]|3[01]) "
    rf"(?:{_MONTHS}) (?:19|20)[0-9]{{2}} (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [+-][0-9]{{4}}"
    r"(?: \([A-Za-z]{1,5}\))?$"
)


def sent_at(date: pl.Series) -> pl.Series:
    """UTC instants of Date values (unfolded, stripped); null where ``parse_date`` finds no date."""
    core = date.str.replace(r"^[A-Za-z]{3}, ", "").str.replace(r" \(.*\)$", "")
    fast = (
        pl.DataFrame([date, core.alias("core")])
        .select(
            pl.when(pl.col(date.name).str.contains(_SHAPE)).then(
                pl.col("core").str.strptime(UTC_US, "%d %b %Y %H:%M:%S %z", strict=False)
            )
        )
        .to_series()
    )
    rest = date.filter(fast.is_null() & date.is_not_null()).unique()
    if not len(rest):
        return fast.alias("sent_at")
    values = rest.to_list()
    parsed = pl.Series([parse_date(v)[0] for v in values], dtype=UTC_US)
    return fast.fill_null(date.replace_strict(values, parsed, default=None, return_dtype=UTC_US)).alias("sent_at")


def utc_offset(date: pl.Series) -> pl.Series:
    """``dates.utc_offset_minutes`` of Date values: the common shape's zone read here, the rest per value."""
    zone = date.str.extract(r" ([+-][0-9]{4})(?: \([A-Za-z]{1,5}\))?$", 1)
    minutes = (
        pl.DataFrame([zone.alias("z")])
        .select(
            pl.when(date.str.contains(_SHAPE) & (pl.col("z") != "-0000")).then(
                (pl.col("z").str.slice(1, 2).cast(pl.Int32) * 60 + pl.col("z").str.slice(3, 2).cast(pl.Int32))
                * pl.when(pl.col("z").str.starts_with("-")).then(-1).otherwise(1)
            )
        )
        .to_series()
    )
    rest = date.filter(~date.str.contains(_SHAPE).fill_null(True) & date.is_not_null()).unique()
    if not len(rest):
        return minutes.alias("utc_offset_minutes")
    values = rest.to_list()
    found = pl.Series([utc_offset_minutes(v) for v in values], dtype=pl.Int32)
    filled = date.replace_strict(values, found, default=None, return_dtype=pl.Int32)
    return minutes.fill_null(filled).alias("utc_offset_minutes")
