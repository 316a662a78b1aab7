"""Shared benchmark plumbing: timing, peak memory, markdown output."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


TIEPULSE = Path(sys.executable).with_name("tiepulse")
"""The installed entry point of the interpreter running the benchmark."""


def tiepulse_seconds(home: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of one whole `tiepulse ARGS` process on the warehouse in ``home`` (output discarded).

    The caller's TIEPULSE_CONFIG and DAGSTER_HOME are left out, so the run sees only ``home`` and ``env``.
    """
    run_env = {**os.environ, **(env or {}), "TIEPULSE_HOME": str(home)}
    run_env.pop("TIEPULSE_CONFIG", None)
    run_env.pop("DAGSTER_HOME", None)
    _, took = timed(lambda: subprocess.run([str(TIEPULSE), *args], env=run_env, check=True, stdout=subprocess.DEVNULL))
    return took


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
