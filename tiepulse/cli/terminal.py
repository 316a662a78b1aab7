"""The two consoles every command writes to: results on stdout, errors and progress on stderr."""

from __future__ import annotations

import sys

from rich.console import Console


class ResultConsole(Console):
    """stdout whose reader may stop early (`tiepulse health | head`): that ends the command quietly, status 0."""

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()  # sends the rest of the output to /dev/null, then exits with status 1
        except SystemExit:
            raise SystemExit(0) from None


def reader_left() -> bool:
    """Whether stdout's reader closed the pipe: Typer (with its own copy of Click) then wraps stdout in a
    ``PacifyFlushWrapper`` and exits with status 1, which for a reader that had enough is a success too."""
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


console = ResultConsole()
err = Console(stderr=True)
