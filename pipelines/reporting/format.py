"""Small formatting helpers shared by the report pages."""

from __future__ import annotations

from typing import Any

import polars as pl


def pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def who() -> pl.Expr:
    """A tie's alter by name, else by address."""
    return pl.coalesce(pl.col("alter_name"), pl.col("alter_id"))
