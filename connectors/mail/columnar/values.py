"""The other ``raw.mail_messages`` columns of a batch: message ids, references, labels and subject flags.

Each function is the column form of its namesake in ``records`` / ``subjects``; values those do not read with a
plain pattern (RFC 2047 encoded subjects and labels, quoted labels) are computed by those functions, once per
distinct value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from .. import records, subjects
from .text import NOT_SPACE, PY_SPACE, SPACE, null_if_empty, strip

_ANGLE = r"<([^<>]*)>"
_PREFIXES = "|".join(sorted(subjects.REPLY_PREFIXES + subjects.FORWARD_PREFIXES, key=len, reverse=True))
_PREFIX = rf"(?i:{SPACE}*(?:\[[^\]]{{0,60}}\]{SPACE}*)*({_PREFIXES}){SPACE}*(?:\[[0-9]+\]|\([0-9]+\))?{SPACE}*[:：])"
_TAGS = rf"{SPACE}*(?:\[[^\]]{{0,60}}\]{SPACE}*)+"


def message_id(value: pl.Expr) -> pl.Expr:
    """``records.message_id``: the first ``<id>`` stripped (null when empty), else the value stripped."""
    found = value.str.extract(_ANGLE, 1)
    return null_if_empty(strip(pl.when(found.is_not_null()).then(found).otherwise(value)))


def references(value: pl.Expr) -> pl.Expr:
    """``records.references``: the ``<id>``s stripped, else the value's words; null when there are none."""
    ids = (
        value.str.extract_all(r"<[^<>]*>")
        .list.eval(strip(pl.element().str.slice(1, pl.element().str.len_bytes() - 2)))
        .list.eval(pl.element().filter(pl.element().str.len_bytes() > 0))
    )
    found = pl.when(ids.list.len() > 0).then(ids).otherwise(value.str.extract_all(rf"{NOT_SPACE}+"))
    return pl.when(found.list.len() > 0).then(found)


def lower(value: pl.Expr) -> pl.Expr:
    """``records._lower``."""
    return null_if_empty(value).str.to_lowercase()


def _per_value(values: pl.Series, rows: pl.Series, fn: Callable[[str], Any], dtype: pl.DataType) -> pl.Series:
    """``fn`` of ``values`` where ``rows`` is true (once per distinct value), null elsewhere."""
    distinct = values.filter(rows).unique()
    mapped = pl.DataFrame([distinct.alias("value"), pl.Series("mapped", [fn(v) for v in distinct.to_list()], dtype)])
    looked_up = pl.DataFrame([values.alias("value")]).join(mapped, on="value", how="left", maintain_order="left")
    return looked_up["mapped"].alias(values.name)


def labels(value: pl.Series) -> pl.Series:
    """``records.labels``: comma separated; quoted or RFC 2047 encoded values go through it."""
    special = value.str.contains('"', literal=True) | value.str.contains("=?", literal=True)
    parts = (
        value.str.split(",")
        .list.eval(strip(pl.element()))
        .list.eval(pl.element().filter(pl.element().str.len_bytes() > 0))
    )
    plain = pl.select(pl.when(parts.list.len() > 0).then(parts)).to_series()
    if not special.any():
        return plain.alias(value.name)
    return plain.zip_with(~special.fill_null(False), _per_value(value, special, records.labels, plain.dtype))


def subject_columns(subject: pl.Series, key: bytes | None, copy_key: bytes | None) -> pl.DataFrame:
    """is_reply, is_forward, subject_hash and subject_digest (each with its key, else null) as ``MessageParser``."""
    text = pl.col("subject")
    prefix = text.str.extract("^" + _PREFIX, 1).str.to_lowercase()
    rest = text.str.replace(f"^(?:{_PREFIX})+", "")
    tagged = (
        pl.when(prefix.is_not_null())
        .then(rest.str.strip_chars_start(PY_SPACE).str.starts_with("["))
        .otherwise(text.str.starts_with("["))
    )
    encoded = text.str.contains("=?", literal=True).fill_null(False)
    frame = pl.DataFrame([subject.alias("subject")]).select(
        "subject",
        encoded.alias("encoded"),
        prefix.is_in(subjects.REPLY_PREFIXES).fill_null(False).alias("is_reply"),
        (prefix.is_not_null() & ~prefix.is_in(subjects.REPLY_PREFIXES)).fill_null(False).alias("is_forward"),
        pl.when(tagged).then(rest.str.replace(_TAGS, " ")).otherwise(rest).alias("stripped"),
    )
    if frame["encoded"].any():
        distinct = frame.filter("encoded")["subject"].unique()
        found = [subjects.classify(subjects.decode_subject(s)) for s in distinct.to_list()]
        decoded = pl.DataFrame(
            [
                distinct,
                *(pl.Series(name, column) for name, column in zip(_CLASSIFIED, zip(*found, strict=True), strict=True)),
            ]
        )
        frame = frame.join(decoded, on="subject", how="left", maintain_order="left", suffix="_decoded").select(
            "subject", *(pl.coalesce(f"{name}_decoded", name).alias(name) for name in _CLASSIFIED)
        )
    kept = frame.filter(pl.col("subject").str.len_bytes() > 0)["stripped"].unique()
    return frame.select(
        "is_reply",
        "is_forward",
        _keyed(kept, key, subjects.subject_hash).alias("subject_hash"),
        _keyed(kept, copy_key, subjects.subject_digest).alias("subject_digest"),
    )


def _keyed(kept: pl.Series, key: bytes | None, digest: Callable[[bytes, str], str]) -> pl.Expr:
    """``digest(key, stripped subject)`` of every non-empty subject; null without a key."""
    if key is None:
        return pl.lit(None, pl.String)
    values = [digest(key, s) for s in kept.to_list()]
    return pl.when(pl.col("subject").str.len_bytes() > 0).then(
        pl.col("stripped").replace_strict(kept, values, default=None, return_dtype=pl.String)
    )


_CLASSIFIED = ("is_reply", "is_forward", "stripped")
