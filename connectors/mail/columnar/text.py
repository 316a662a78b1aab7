"""Header blocks as one text column, and Python ``re``/``str`` whitespace semantics for Polars' Rust regexes.

Only blocks that are plain ASCII without NUL bytes enter the column (the others are ``""`` and marked unsafe: they
go to ``MessageParser``). On ASCII text Python's ``\\s``, ``str.strip()`` and ``str.split()`` mean exactly the
characters below; Rust's ``\\s`` lacks \\x1c-\\x1f, so patterns use ``SPACE`` instead.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

PY_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
SPACE = r"[ \t\n\r\x0b\x0c\x1c-\x1f]"
NOT_SPACE = r"[^ \t\n\r\x0b\x0c\x1c-\x1f]"


def block_text(blocks: list[bytes]) -> tuple[pl.Series, pl.Series]:
    """(the blocks as text, "" where unsafe; the mask of unsafe blocks: any byte that is NUL or not ASCII)."""
    binary = pl.Series("text", blocks, dtype=pl.Binary)
    joined = b"".join(blocks)
    if joined.isascii() and b"\x00" not in joined:  # the usual batch: no row-by-row check needed
        return binary.cast(pl.String), pl.Series("unsafe", [False] * len(blocks))
    arrow = binary.to_arrow()
    unsafe = pc.match_substring_regex(arrow, r"[^\x01-\x7f]")
    text = pc.if_else(unsafe, pa.scalar(b"", arrow.type), arrow)
    return pl.Series("text", text).cast(pl.String), pl.Series("unsafe", unsafe)


def strip(expr: pl.Expr) -> pl.Expr:
    """``str.strip()`` of ASCII text."""
    return expr.str.strip_chars(PY_SPACE)


def null_if_empty(expr: pl.Expr) -> pl.Expr:
    """The ``value or None`` idiom."""
    return pl.when(expr.str.len_bytes() > 0).then(expr)
