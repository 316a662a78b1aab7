"""Walk a Graph delta query page by page: links followed verbatim, the next page fetched while this one commits.

Each yielded page carries the cursor to resume after it: the page's ``@odata.nextLink``, or on the last page its
``@odata.deltaLink`` (the next sync starts there). A resync signal (410 Gone, ``syncStateNotFound``,
``resyncRequired``) at any point, even on a stored link, restarts the delta from its initial URL; rows already
stored are keyed, so the replayed items add nothing. The first page of a delta read from its initial URL (a first
sync, or a restart) is marked ``fresh``, the last ``final``: between them lies a full re-read, after which whatever
was not seen again is gone upstream (the loader sweeps it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .graph import GraphClient, GraphError, ResyncRequired

MAX_RESYNCS = 3


@dataclass(slots=True)
class DeltaPage:
    items: list[Any]
    cursor: str
    final: bool
    resynced: bool
    """This page belongs to a delta restarted after a resync."""
    fresh: bool = False
    """The first page of a delta read from its initial URL (everything the collection holds follows)."""
    problem: str | None = None
    """Set when the page's ``value`` was not a list (the page is then empty and quarantined by the caller)."""


def delta_pages(
    client: GraphClient,
    mailbox: str,
    initial_url: str,
    cursor: str | None,
    *,
    prefetch: bool = True,
    on_resync: Callable[[str], None] | None = None,
) -> Iterator[DeltaPage]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="graph-prefetch") if prefetch else None

    def fetch(url: str) -> Future[dict[str, Any]]:
        if pool is not None:
            return pool.submit(client.get, url, mailbox=mailbox)
        future: Future[dict[str, Any]] = Future()
        try:
            future.set_result(client.get(url, mailbox=mailbox))
        except BaseException as exc:  # delivered through the future like the threaded path
            future.set_exception(exc)
        return future

    resyncs = 0
    fresh = cursor is None
    try:
        pending = fetch(cursor or initial_url)
        while True:
            try:
                body = pending.result()
            except ResyncRequired as exc:
                resyncs += 1
                if resyncs > MAX_RESYNCS:
                    raise GraphError(f"the delta of {initial_url} kept asking for a resync ({exc})") from None
                if on_resync is not None:
                    on_resync(str(exc))
                pending = fetch(initial_url)
                fresh = True
                continue
            next_link = body.get("@odata.nextLink")
            delta_link = body.get("@odata.deltaLink")
            if not isinstance(next_link, str) and not isinstance(delta_link, str):
                raise GraphError(f"a delta page of {initial_url} has neither @odata.nextLink nor @odata.deltaLink")
            if isinstance(next_link, str):
                pending = fetch(next_link)
            value = body.get("value")
            problem = None
            if not isinstance(value, list):
                problem = f"page value is {type(value).__name__}, not a list"
                value = []
            yield DeltaPage(
                items=value,
                cursor=next_link if isinstance(next_link, str) else str(delta_link),
                final=not isinstance(next_link, str),
                resynced=resyncs > 0,
                fresh=fresh,
                problem=problem,
            )
            fresh = False
            if not isinstance(next_link, str):
                return
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
