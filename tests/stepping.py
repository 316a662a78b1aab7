"""Stopping a child process at an exact point, whatever the machine's speed.

The child prints a line after each committed page, then waits for a go-ahead line on its stdin (given at once when
stdin is empty, as in an uninterrupted run). The test lets it commit exactly the pages it wants, then kills it.
"""

from __future__ import annotations

import signal
import subprocess

GO_AHEAD = "sys.stdin.readline()  # wait for the test's go-ahead (none needed when stdin is empty)"
"""The child's line to run after reporting each committed page."""


def stdin_for(stepped: bool) -> int:
    return subprocess.PIPE if stepped else subprocess.DEVNULL


def kill_after(process: subprocess.Popen[str], pages: int) -> list[str]:
    """Let ``process`` report ``pages`` committed pages, then SIGKILL it while it waits; return the lines read."""
    assert process.stdout is not None and process.stdin is not None
    lines = []
    for n in range(pages):
        lines.append(process.stdout.readline())
        if n < pages - 1:
            process.stdin.write("\n")
            process.stdin.flush()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return lines
