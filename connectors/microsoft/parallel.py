"""Run several generators in worker threads and yield their items in one stream, as they come.

The mail source reads a mailbox's folders this way: each folder's delta is sequential (a page's link names the
next), so folders side by side are what keeps several requests in flight. Items of one generator keep their order;
the consumer (the thread that commits to DuckDB) is the only one that sees them all. An error in any generator
stops the others and is raised to the consumer; closing the stream stops them too.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")

_POLL_SECONDS = 0.1


def interleave(
    sources: Sequence[Callable[[], Generator[T, None, None]]], *, workers: int, buffer: int = 2
) -> Iterator[T]:
    """Items of every ``sources[i]()``, at most ``workers`` generators running at once, ``buffer`` items each
    waiting for the consumer at most."""
    if not sources:
        return
    out: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(1, buffer * workers))
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                out.put((kind, value), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def run(source: Callable[[], Generator[T, None, None]]) -> None:
        try:
            with contextlib.closing(source()) as items:
                for item in items:
                    if not put("item", item):
                        return
        except BaseException as exc:  # handed to the consumer, which raises it
            put("error", exc)
            return
        put("done", None)

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources))), thread_name_prefix="graph-folder")
    for source in sources:
        pool.submit(run, source)
    running = len(sources)
    try:
        while running:
            kind, value = out.get()
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            if kind == "done":
                running -= 1
            else:
                yield cast(T, value)
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
