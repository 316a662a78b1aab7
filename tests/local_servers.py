"""What the tests' own servers (Redis, PostgreSQL, an S3-compatible store) share: a free port on 127.0.0.1, a wait
for a condition, and children that die with the test process."""

from __future__ import annotations

import ctypes
import signal
import socket
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05
WAIT_SECONDS = 180.0  # generous: a Celery worker's first step imports Dagster and the code location on a busy machine


def die_with_parent() -> None:
    """A child of the test dies with it (PR_SET_PDEATHSIG), even when the test process is killed. Changing the
    child's user clears the setting, so a child that changes user calls this afterwards."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """Return once ``condition()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(POLL_SECONDS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
