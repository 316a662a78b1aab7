"""One look for progress bars: what is being read, a bar, a running note (rows, pages), time taken."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def work_progress(console: Console, *, transient: bool = False) -> Progress:
    """Bars whose tasks carry a ``rows`` field for the running note; silent when output is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )
