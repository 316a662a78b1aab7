"""Outlook calendar metadata through Graph: one ``calendarView/delta`` stream per mailbox over a sliding window.

A calendarView delta keeps the window it started with (default two years back, 30 days ahead), so the cursor
stores it beside the link: JSON ``{"window": [start, end], "link": ...}``. When the stored window ends less than
half the look-ahead after the analysis date (or starts later than the wanted one), the delta starts afresh over
the wanted window; that full re-read replaces what it sees and, once complete, removes the stored events inside
the new window it did not see (events older than the window stay). ``$select`` is not supported there, so whole
events arrive and ``body`` / ``bodyPreview`` are dropped at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from ..base import Copies, ImportContext, Page, Reject, Removal, copy_items
from ..raw_schemas import to_table
from .delta import DeltaPage, delta_pages
from .graph import GraphClient
from .mail import page_problem, user_path
from .mapping import BODY_FIELDS, Mapper, Removed, Skipped, parse_time
from .settings import CalendarWindow, MicrosoftOptions

TABLE = "raw.graph_events"
STREAM = "calendar"

Span = tuple[dt.datetime, dt.datetime]


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_cursor(cursor: str | None) -> tuple[str | None, Span | None]:
    """(link, window) of a stored cursor; (None, None) when there is none or it is not readable (start afresh)."""
    try:
        data = json.loads(cursor) if cursor else None
    except ValueError:
        return None, None
    if not isinstance(data, dict) or not isinstance(data.get("link"), str):
        return None, None
    bounds = data.get("window")
    start = parse_time(bounds[0]) if isinstance(bounds, list) and len(bounds) == 2 else None
    end = parse_time(bounds[1]) if isinstance(bounds, list) and len(bounds) == 2 else None
    if start is None or end is None:
        return None, None
    return data["link"], (start, end)


class OutlookCalendarSource:
    """One mailbox's calendar view (a ``SyncSource``)."""

    source = "outlook_calendar"

    def __init__(
        self,
        client: GraphClient,
        mailbox: str,
        account: str,
        ctx: ImportContext,
        options: MicrosoftOptions,
        window: CalendarWindow,
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.account = account
        self.options = options
        self.window = window
        self.mapper = Mapper(ctx, owner=account, source=self.source)
        self.resyncs = 0
        self.renewals = 0
        """Deltas started afresh because their window no longer covered what is wanted."""

    def streams(self) -> list[str]:
        return [STREAM]

    def initial_url(self) -> str:
        start, end = _iso(self.window.start), _iso(self.window.end)
        return f"{user_path(self.mailbox)}/calendarView/delta?startDateTime={start}&endDateTime={end}"

    def keeps(self, window: Span) -> bool:
        """Whether a delta over ``window`` still covers the wanted window well enough to continue."""
        return window[0] <= self.window.start and window[1] >= self.window.renew_before

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        link, window = read_cursor(cursor)
        if link is not None and window is not None and not self.keeps(window):
            self.renewals += 1
            link = None
        wanted = (self.window.start, self.window.end)

        def resynced(reason: str) -> None:
            self.resyncs += 1

        for delta in delta_pages(
            self.client, self.mailbox, self.initial_url(), link, prefetch=self.options.prefetch, on_resync=resynced
        ):
            if delta.fresh or window is None:
                window = wanted  # a delta read from the initial URL covers the wanted window
            page = self._page(delta, wanted)
            page.cursor = json.dumps({"window": [_iso(window[0]), _iso(window[1])], "link": delta.cursor})
            yield page

    def _page(self, delta: DeltaPage, wanted: Span) -> Page:
        latest: dict[str, Any] = {}
        rejects: list[Reject] = []
        if delta.problem:
            rejects.append(page_problem(self.source, self.account, "event", delta))
        for item in delta.items:
            if isinstance(item, dict):
                for name in BODY_FIELDS:  # never let a body travel further than this
                    item.pop(name, None)
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                latest.pop(item["id"], None)
                latest[item["id"]] = item
            else:
                rejects.append(self.mapper.event(item))  # type: ignore[arg-type]
        rows: dict[str, dict[str, Any]] = {}
        copies: dict[str, str] = {}
        removals: list[Removal] = []
        for item in latest.values():
            mapped = self.mapper.event(item)
            if isinstance(mapped, Removed):
                removals.append(Removal(TABLE, self.account, mapped.id))
            elif isinstance(mapped, Reject):
                rejects.append(mapped)
            elif isinstance(mapped, Skipped):
                continue
            else:
                rows[mapped["event_key"]] = mapped  # events change: the latest version wins
                copies[item["id"]] = mapped["event_key"]
        items = copy_items(copies)
        page = Page(
            rejects=rejects,
            removals=removals,
            copies=[
                Copies(
                    TABLE,
                    self.account,
                    STREAM,
                    items,
                    restart=delta.fresh,
                    restart_window=wanted if delta.fresh else None,
                    final=delta.final,
                )
            ],
        )
        if rows:
            page.rows[TABLE] = to_table(TABLE, rows.values())
        return page
