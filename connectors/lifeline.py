"""Worker processes that exit when the process they work for dies, however it dies (even SIGKILL).

A ``ProcessPoolExecutor`` worker left behind by a killed parent keeps running and holding memory (an import's
parse workers hold hundreds of MB each). ``exit_with(pid)``, called first in a worker's initializer, starts a
daemon thread that waits on a pidfd of ``pid`` (Linux) and ends the worker the moment ``pid`` has exited; elsewhere
it checks once a second. The parent's pid is passed in, not read from ``os.getppid()``: a forkserver worker's parent
is the fork server, not the process that asked for it.
"""

from __future__ import annotations

import os
import select
import threading
import time

_POLL_SECONDS = 1.0


def exit_with(parent: int) -> None:
    """End this process as soon as ``parent`` has exited (at once when it already has)."""
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(parent)
        except ProcessLookupError:
            os._exit(1)
        threading.Thread(target=_wait_on_pidfd, args=(fd,), name="lifeline", daemon=True).start()
    else:
        threading.Thread(target=_poll, args=(parent,), name="lifeline", daemon=True).start()


def _wait_on_pidfd(fd: int) -> None:
    select.select([fd], [], [])  # a pidfd turns readable when its process exits
    os._exit(1)


def _poll(parent: int) -> None:
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        time.sleep(_POLL_SECONDS)
