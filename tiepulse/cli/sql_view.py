"""How `tiepulse sql` shows a result in the terminal: a table when it fits, else one block per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Below this many characters per column a table is unreadable: the rows are shown one under another instead.
MIN_COLUMN_WIDTH = 10
# Rows shown one under another; more would scroll away what the reader asked for.
MAX_VERTICAL_ROWS = 50


def cell(value: Any) -> str:
    """A value as the terminal shows it: floats rounded (csv and json keep every digit), None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{round(value, 4):g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    return str(value)


def render_result(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if len(columns) * MIN_COLUMN_WIDTH <= console.width:
        table = Table(*columns)
        for r in rows:
            table.add_row(*(cell(v) for v in r))
        console.print(table)
        console.print(f"{len(rows):,} rows")
        return
    width = max(len(c) for c in columns)
    for n, r in enumerate(rows[:MAX_VERTICAL_ROWS], start=1):
        console.print(f"[bold]-- row {n} --[/bold]")
        for name, value in zip(columns, r, strict=True):
            console.print(f"{name:<{width}}  {cell(value)}", soft_wrap=False, overflow="ellipsis", crop=True)
    more = f"; the first {MAX_VERTICAL_ROWS} shown" if len(rows) > MAX_VERTICAL_ROWS else ""
    console.print(
        f"{len(rows):,} rows of {len(columns)} columns{more}, one under another as they are too wide for "
        f"{console.width} columns. Name fewer columns, or use --format csv / json for everything."
    )
