"""Parse and map an import's upcoming .ics files in worker processes while earlier files are committed.

``icalendar`` reads about 1,500 events a second, so an organisation's calendars (a MB a person and year) kept one
core busy for minutes while the other waited. A ``CalendarAhead`` (one per import with ``ctx.workers`` > 1, on the
import's ``ParsePool``: see ``calendars_ahead``) sends each .ics file, in import order and at most ``2 x workers``
ahead, to a worker that tells its owner and maps all its pages for that owner (or for the owner given to the
import), exactly as ``IcsFileSource`` does in the importing process. The file's source then takes them from there;
it reads the file itself when the import resumes it from a cursor, files it under another owner (the configured
ego when none was told), or the worker failed (it says why).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .base import ImportContext, OwnerGuess, Page
from .calendar_ics import IcsFileSource
from .mail.workers import ParsePool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file read in a worker: its owner as inferred and its pages for ``owner`` (the owner given to the import, else
    the inferred one)."""

    guess: OwnerGuess | None
    owner: str
    pages: list[Page]


def prepare(ctx: ImportContext, path: str, given: str | None) -> Prepared:
    """In a worker: the owner of the .ics file at ``path`` and every page of it for ``given`` or that owner."""
    source = IcsFileSource(Path(path))
    guess = source.infer_owner(ctx)
    owner = given or (guess.address if guess else "")
    return Prepared(guess, owner, list(source.pages(owner, ctx, None)))


class CalendarAhead:
    """The .ics files of an import, each read in the import's workers ahead of its turn."""

    def __init__(self, sources: Sequence[object], ctx: ImportContext, pool: ParsePool, given: str | None) -> None:
        self.ctx = ctx
        self.pool = pool
        self.given = given
        self._order = [s for s in sources if isinstance(s, IcsFileSource)]
        self._index = {id(source): i for i, source in enumerate(self._order)}
        self._next = 0  # the first file not sent off yet
        self._sent: dict[int, Future[Prepared]] = {}
        self._current: tuple[int, Prepared | None] | None = None  # the file asked for last, as read
        self._refused = False
        self.taken = 0
        """Files whose pages came from the workers."""
        for source in self._order:
            source.ahead = self

    def prepared(self, source: IcsFileSource, ctx: ImportContext) -> Prepared | None:
        """``source`` as a worker read it (the next files sent off), or None when it must be read here. Files are
        asked for in import order, each until the next one is."""
        index = self._index.get(id(source))
        if index is None or ctx != self.ctx:
            return None
        if self._current is None or self._current[0] != index:
            for passed in [i for i in self._sent if i < index]:  # skipped by the import (unchanged files)
                self._sent.pop(passed).cancel()
            self._next = max(self._next, index)
            self._send()
            future = self._sent.pop(index, None)
            if future is None:  # the pool refused it (see ``_send``), or asked again after a later file
                return None
            try:
                self._current = (index, future.result())
            except Exception as exc:  # read again here, which raises or quarantines as usual
                log.warning("%s: not read ahead (%s: %s); reading it here", source.path, type(exc).__name__, exc)
                self._current = (index, None)
            self._send()
        return self._current[1]

    def pages(self, source: IcsFileSource, owner: str, ctx: ImportContext) -> list[Page] | None:
        """``source``'s pages for ``owner`` from its start, when a worker mapped them for that owner."""
        prepared = self.prepared(source, ctx)
        if prepared is None or prepared.owner != owner:
            return None
        self.taken += 1
        return prepared.pages

    def _send(self) -> None:
        """Send the next files off, up to ``2 x workers`` in flight; none once the pool refuses one (a worker died:
        the files are then read here)."""
        while not self._refused and len(self._sent) < 2 * self.ctx.workers and self._next < len(self._order):
            path = str(self._order[self._next].path)
            try:
                self._sent[self._next] = self.pool.run(prepare, path, self.given)
            except Exception as exc:
                log.warning("calendars are no longer read ahead (%s: %s)", type(exc).__name__, exc)
                self._refused = True
                return
            self._next += 1

    def close(self) -> None:
        for future in self._sent.values():
            future.cancel()
        self._sent.clear()
        self._current = None
        for source in self._order:
            source.ahead = None


@contextmanager
def calendars_ahead(
    sources: Sequence[object], ctx: ImportContext, pool: ParsePool | None, given: str | None
) -> Iterator[CalendarAhead | None]:
    """A ``CalendarAhead`` for the .ics files among ``sources`` while the block runs; None without a pool.
    ``given`` is the owner given to the import (normalised), if any."""
    if pool is None:
        yield None
        return
    ahead = CalendarAhead(sources, ctx, pool, given)
    try:
        yield ahead
    finally:
        ahead.close()
