"""Parse the heads of an import's upcoming mbox files in worker processes while earlier files are committed.

Importing many small files (a folder of Sent folders) is mostly owner inference: each file's first
``owner.SAMPLE`` messages are parsed before its pages start, and for a small file that is all of it. A
``ParseAhead`` (one per import with ``ctx.workers`` > 1: see ``parse_ahead``) sends the heads of the next files
to the import's ``ParsePool``, several small files per task so that one columnar pass covers them, at most
``2 x workers`` tasks ahead; a file's pages then take its head from there and send the rest of its batches to the
same pool. Files are still committed one after another in import order, each page with its own file's cursor. A
head that could not be parsed ahead (the file vanished, a worker died) is parsed again in the importing process,
which reports why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from ..base import ImportContext
from .batches import batch_size
from .reading import MBOX_FORMATS
from .workers import FileRef, Parsed, ParsePool

if TYPE_CHECKING:
    from .source import MailFileSource

log = logging.getLogger(__name__)

GROUP_BYTES = 4 * 1024 * 1024
"""Consecutive files are sent to one worker until their heads span about this many bytes of file."""
_HEAD_BYTES = 2 * 1024 * 1024
"""What a head is counted as at most (``owner.SAMPLE`` messages of a few KiB)."""


class ParseAhead:
    """The import's worker pool, and the heads of its mbox files parsed ahead in import order."""

    def __init__(self, sources: Sequence[object], ctx: ImportContext) -> None:
        from .source import MailFileSource

        self.ctx = ctx
        self.pool = ParsePool(ctx)
        self._order = [s for s in sources if isinstance(s, MailFileSource) and s.format in MBOX_FORMATS]
        self._index = {source: i for i, source in enumerate(self._order)}
        self._done = 0  # files before this one have been imported
        self._next = 0  # the first file whose head is not sent off yet
        self._heads: dict[MailFileSource, tuple[Future[list[Parsed]], int]] = {}
        self._sending: threading.Thread | None = None
        self.taken = 0
        """Heads that came parsed from the workers (not the first file's: it is parsed here while they start)."""
        for source in self._order:
            source.ahead = self

    def head(self, source: MailFileSource, ctx: ImportContext) -> Parsed | None:
        """``source``'s head parsed ahead (and the next files' heads sent off), or None when it was not."""
        index = self._index.get(source)
        if index is None or ctx != self.ctx:
            return None
        self._wait_sending()
        for passed in self._order[self._done : index]:  # imported without asking (an owner was given)
            self._heads.pop(passed, None)
        self._done = max(self._done, index + 1)
        entry = self._heads.pop(source, None)
        self._next = max(self._next, index + 1)
        if entry is None:
            # Not sent off (the first file): parsed here while a thread sends the next ones off, as starting the
            # workers takes a while.
            self._sending = threading.Thread(target=self._submit, name="parse-ahead", daemon=True)
            self._sending.start()
            return None
        self._submit()
        future, at = entry
        try:
            parsed = future.result()[at]
        except Exception as exc:  # parsed again in this process, which raises or quarantines as usual
            log.warning(
                "%s: its head was not parsed ahead (%s: %s); parsing it here", source.path, type(exc).__name__, exc
            )
            return None
        self.taken += 1
        return parsed

    def _wait_sending(self) -> None:
        if self._sending is not None:
            self._sending.join()
            self._sending = None

    def _submit(self) -> None:
        in_flight = {id(future) for future, _ in self._heads.values()}
        while len(in_flight) < 2 * self.ctx.workers and self._next < len(self._order):
            group: list[MailFileSource] = []
            span = 0
            while self._next < len(self._order) and (not group or span < GROUP_BYTES):
                source = self._order[self._next]
                group.append(source)
                span += min(_size(source), _HEAD_BYTES)
                self._next += 1
            refs: list[FileRef] = [(str(s.path), s.format, s.source, s.source_file) for s in group]
            future = self.pool.parse_heads(refs, batch_size(self.ctx))
            in_flight.add(id(future))
            for at, source in enumerate(group):
                self._heads[source] = (future, at)

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._wait_sending()
        for source in self._order:
            source.ahead = None
        self._heads.clear()
        self.pool.close()


def _size(source: MailFileSource) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0


@contextmanager
def parse_ahead(sources: Sequence[object], ctx: ImportContext) -> Iterator[ParseAhead | None]:
    """A ``ParseAhead`` for the import of ``sources`` while the block runs; None with a single worker."""
    if ctx.workers <= 1:
        yield None
        return
    with ParseAhead(sources, ctx) as ahead:
        yield ahead
