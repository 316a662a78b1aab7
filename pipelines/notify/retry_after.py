"""When a throttled webhook asked to be tried again: the ``Retry-After`` of a 429 or 503 answer during one send.

apprise (2.3) returns only True/False from a send and ignores ``Retry-After`` in its JSON, Slack and Teams plugins;
they post through ``requests`` without a session of their own. While one send runs, every ``requests`` session
made in this process gets a response hook that notes the header of a 429/503 answered to the sending thread, and
the hook is gone again when the send ends. A wait longer than ``MAX_WAIT`` is cut to it, so a broken header
cannot silence a channel for good.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tiepulse.connectors.http.retry import parse_retry_after

MAX_WAIT = dt.timedelta(hours=24)
_THROTTLED = {429, 503}


@dataclass(slots=True)
class RetryAfter:
    """The moment the channel's server asked to be tried again, if it asked (set while the send runs)."""

    thread: int
    at: dt.datetime | None = None

    def note(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A ``requests`` response hook; leaves the response as it is."""
        if response.status_code not in _THROTTLED or threading.get_ident() != self.thread:
            return
        now = dt.datetime.now(dt.UTC)
        wait = parse_retry_after(response.headers.get("Retry-After"), now=now.timestamp())
        if wait is not None:
            self.at = now + min(dt.timedelta(seconds=wait), MAX_WAIT)


@contextmanager
def noting_retry_after() -> Iterator[RetryAfter]:
    """Note the ``Retry-After`` answered to this thread's HTTP requests while the block runs."""
    import requests.sessions

    retry_after = RetryAfter(threading.get_ident())
    plain = requests.sessions.default_hooks

    def with_note() -> dict[str, list[Any]]:
        hooks = plain()
        hooks["response"].append(retry_after.note)
        return hooks

    requests.sessions.default_hooks = with_note
    try:
        yield retry_after
    finally:
        requests.sessions.default_hooks = plain
