"""The contract of an API connector (Gmail, Google Calendar, Outlook mail and calendar).

A sync source reads one account. It has one or more streams (Gmail: one; Calendar: one per calendar; Graph mail:
one per folder), and for each stream turns the last committed cursor into pages. Each page's cursor must be enough
to resume after that page; the loader commits rows, removals, rejects and cursor together
(``tiepulse.pipelines.sync.sync_account``), so a kill at any moment loses and doubles nothing.

A connector takes explicit options (its own pydantic models) and an ``ImportContext``; it never reads the app's
settings. Options it cannot work with raise ``OptionsError``, which the caller reports as a configuration error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from .base import Page


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


KnownIds = Callable[[list[str]], set[str]]
"""Which of these source ids the warehouse already holds for the account."""


@runtime_checkable
class SkipsStored(Protocol):
    """A source that can skip fetching records the warehouse already holds (Gmail: a resumed or restarted full
    sync spends no quota on messages it has). The sync sets ``known_ids`` before reading."""

    known_ids: KnownIds | None


class OptionsError(ValueError):
    """Options a connector cannot work with, explained for a person (which option, what to change)."""
