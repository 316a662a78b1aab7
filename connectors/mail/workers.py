"""Parsing header blocks in worker processes, results returned in submission order.

Each worker builds one ``MessageParser`` at start-up (the import context and mailbox are picklable) and parses
batches of ``(position, header block, folder)``; the parent keeps at most ``2 x workers`` batches in flight so
memory stays bounded and pages come out in file order. Workers are spawned, not forked: a forked child of a
process that has used Polars inherits its thread pool without the threads, and can hang.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from connectors.base import ImportContext
from connectors.mail.batches import Batch, Item
from connectors.mail.columnar import parse_batch
from connectors.mail.records import MessageParser

_parser: MessageParser | None = None


def _start(ctx: ImportContext, source: str, source_file: str) -> None:
    global _parser
    _parser = MessageParser(ctx, owner="", source=source, source_file=source_file)  # the page sets the owner


def _parse_batch(items: list[Item]) -> Batch:
    assert _parser is not None, "worker not initialised"
    return parse_batch(_parser, items)


def _context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context("spawn")


def parse_in_workers(
    batches: Iterable[tuple[list[Item], str]],
    *,
    ctx: ImportContext,
    source: str,
    source_file: str,
) -> Iterator[tuple[Batch, str]]:
    """Parse each ``(items, cursor after them)`` batch in ``ctx.workers`` processes; yield them in order."""
    pool = ProcessPoolExecutor(
        max_workers=ctx.workers,
        mp_context=_context(),
        initializer=_start,
        initargs=(ctx, source, source_file),
    )
    pending: deque[tuple[Future[Batch], str]] = deque()
    try:
        for items, cursor in batches:
            pending.append((pool.submit(_parse_batch, items), cursor))
            if len(pending) >= 2 * ctx.workers:
                future, after = pending.popleft()
                yield future.result(), after
        while pending:
            future, after = pending.popleft()
            yield future.result(), after
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
