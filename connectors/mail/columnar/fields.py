"""``headers.extract`` for a column of header blocks: one column per wanted field, as the Python extraction gives.

Continuation lines are unfolded first (``\\r?\\n`` before a blank removed, as ``headers._FOLD``), which keeps
every field start where it was, except for a field name followed by blanks and a line break before its colon
(``From \\n : x``): such rows are marked inexact, as are rows with To, Cc or Bcc more than once (the Python
extraction joins them). Then the lines that start with a wanted name and a colon give (row, field, value); the
first occurrence of a field wins.
"""

from __future__ import annotations

import re

import polars as pl

from ..headers import FIELDS
from .text import strip

_NAMES = "|".join(re.escape(f) for f in FIELDS)
_FIELD_LINE = rf"^(?i:{_NAMES})[ \t]*:"
_FOLD = r"\r?\n([ \t])"
_NAME_FOLDED = rf"(?:^|\n)(?i:{_NAMES})[ \t]*\r?\n[ \t]"
_CODES = {name: code for code, name in enumerate(FIELDS)}
_JOINED = [_CODES[name] for name in ("to", "cc", "bcc")]


def _unfold(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(text with continuation lines unfolded, mask of rows whose unfolding could move a field start)."""
    folded = text.str.contains(r"\n[ \t]").arg_true()
    odd = pl.Series("odd", [False] * len(text))
    if not len(folded):
        return text, odd
    some = text.gather(folded)
    text = text.clone().scatter(folded, some.str.replace_all(_FOLD, "${1}"))
    return text, odd.scatter(folded, some.str.contains(_NAME_FOLDED))


def header_fields(text: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """(frame of ``r`` and one column per ``headers.FIELDS`` name, null when absent; mask of inexact rows)."""
    n = len(text)
    text, inexact = _unfold(text)
    rows = pl.Series("r", range(n), dtype=pl.UInt32)
    colon = pl.col("line").str.find(":", literal=True)
    lines = (
        pl.DataFrame([rows, text.str.split("\n").alias("line")])
        .explode("line")
        .filter(pl.col("line").str.contains(_FIELD_LINE))
        .select(
            "r",
            pl.col("line")
            .str.head(colon)
            .str.strip_chars_end(" \t")
            .str.to_lowercase()
            .replace_strict(_CODES, return_dtype=pl.UInt8)
            .alias("field"),
            strip(pl.col("line").str.slice(colon + 1)).alias("value"),
        )
        .with_columns(first=(pl.col("r").cast(pl.UInt64) * len(FIELDS) + pl.col("field")).is_first_distinct())
    )
    repeated = lines.filter(~pl.col("first") & pl.col("field").is_in(_JOINED))["r"].unique()
    if len(repeated):
        inexact = inexact.scatter(repeated, True)
    wide = lines.filter("first").pivot(on="field", index="r", values="value")
    present = {int(c): c for c in wide.columns if c != "r"}
    columns = [
        (pl.col(present[code]) if code in present else pl.lit(None, pl.String)).alias(name)
        for name, code in _CODES.items()
    ]
    frame = pl.DataFrame([rows]).join(wide, on="r", how="left", maintain_order="left").select("r", *columns)
    return frame, inexact
