"""Parsing header blocks (and other files' parses: ``ParsePool.run``) in worker processes.

A ``ParsePool`` is ``ctx.workers`` processes for one import context, started on first use. Each worker parses
what it is sent with a ``MessageParser`` of the batch's file (cheap: address parsing is cached per context and
process): batches of ``(position, header block, folder)`` framed by the parent (``parse_in_workers`` keeps at
most ``2 x workers`` of them in flight, so memory stays bounded and pages come out in file order), or whole
heads of small files that the worker reads itself (``parse_heads``, for ``ahead.ParseAhead``). Workers are not
forked from the importing process (a forked child of a process that has used Polars inherits its thread pool
without the threads, and can hang) but from a fork server that has only imported this module (and the main
module), so they start in milliseconds; where there is no fork server they are spawned. Each exits when the importing
process dies (``lifeline``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..base import ImportContext
from ..lifeline import exit_with
from .batches import Batch, Item, head_batches
from .columnar import parse_batches
from .records import MessageParser

Parsed = list[tuple[Batch, str]]
"""Parsed batches of one file, each with the cursor after it."""
FileRef = tuple[str, str, str, str]
"""(path, format, source, source_file) of a file a worker reads."""

_ctx: ImportContext | None = None

T = TypeVar("T")


def _start(ctx: ImportContext, parent: int) -> None:
    global _ctx
    exit_with(parent)
    _ctx = ctx


def _parser(source: str, source_file: str) -> MessageParser:
    assert _ctx is not None, "worker not initialised"
    return MessageParser(_ctx, owner="", source=source, source_file=source_file)  # the page sets the owner


def _with_context(work: Callable[..., T], *args: Any) -> T:
    assert _ctx is not None, "worker not initialised"
    return work(_ctx, *args)


def _parse_batch(source: str, source_file: str, items: list[Item]) -> Batch:
    return parse_batches([(_parser(source, source_file), items)])[0]


def _parse_heads(files: list[FileRef], size: int) -> list[Parsed]:
    """The heads of several files, parsed in one pass (see ``columnar.parse_batches``)."""
    heads = [(ref, head_batches(Path(ref[0]), ref[1], size)) for ref in files]
    parts = [(_parser(ref[2], ref[3]), items) for ref, head in heads for items, _ in head]
    parsed = iter(parse_batches(parts))
    return [[(next(parsed), after) for _, after in head] for _, head in heads]


def _start_method() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Once per process: later pools fork from the same server. pyarrow imports pandas (when installed) on its first
    # conversion of Python values; importing it once in the server spares each worker half a second. The calendars'
    # parser is there for the .ics files read ahead (``calendar_ahead``).
    context.set_forkserver_preload(["__main__", __name__, "pandas", "tiepulse.connectors.calendar_ics"])
    return context


class ParsePool:
    """``ctx.workers`` worker processes for one import context, started on first use."""

    def __init__(self, ctx: ImportContext) -> None:
        self.ctx = ctx
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.ctx.workers,
                mp_context=_start_method(),
                initializer=_start,
                initargs=(self.ctx, os.getpid()),
            )
        return self._pool

    def parse_heads(self, files: list[FileRef], size: int) -> Future[list[Parsed]]:
        """Parse the heads (see ``head_batches``) of ``files`` in one worker."""
        return self._executor().submit(_parse_heads, files, size)

    def run(self, work: Callable[..., T], *args: Any) -> Future[T]:
        """``work(ctx, *args)`` in a worker (``work`` a module-level function, ``args`` picklable)."""
        return self._executor().submit(_with_context, work, *args)

    def parse_in_workers(
        self, batches: Iterable[tuple[list[Item], str]], *, source: str, source_file: str
    ) -> Iterator[tuple[Batch, str]]:
        """Parse each ``(items, cursor after them)`` batch in the workers; yield them in order."""
        pool = self._executor()
        pending: deque[tuple[Future[Batch], str]] = deque()
        try:
            for items, cursor in batches:
                pending.append((pool.submit(_parse_batch, source, source_file, items), cursor))
                if len(pending) >= 2 * self.ctx.workers:
                    future, after = pending.popleft()
                    yield future.result(), after
            while pending:
                future, after = pending.popleft()
                yield future.result(), after
        finally:
            for future, _ in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
