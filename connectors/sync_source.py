"""The contract of an API connector (Gmail, Google Calendar, Outlook mail and calendar).

A sync source reads one account. It has one or more streams (Gmail: one; Calendar: one per calendar; Graph mail:
one per folder), and for each stream turns the last committed cursor into pages. Each page's cursor must be enough
to resume after that page; the loader commits rows, removals, rejects and cursor together
(``tiepulse.pipelines.sync.sync_account``), so a kill at any moment loses and doubles nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from tiepulse.connectors.base import Page


class SyncSource(Protocol):
    source: str
    """gmail | gcal | outlook | outlook_calendar (the ``source`` column of raw rows and of ops.sync_state)."""
    account: str
    """The normalised address of the mailbox or calendar owner."""

    def streams(self) -> list[str]:
        """Names of the independent cursors of this account."""
        ...

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Pages from ``cursor`` (None: first, full sync). Handles resyncs (expired history id, 410) itself."""
        ...
