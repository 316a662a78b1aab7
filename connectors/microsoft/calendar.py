"""Outlook calendar metadata through Graph: one ``calendarView/delta`` stream per mailbox over a fixed window.

The window (default two years back, 30 days ahead) is set when the delta starts and carried by its links;
``$select`` is not supported there, so whole events arrive and ``body`` / ``bodyPreview`` are dropped at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from connectors.base import ImportContext, Page, Reject, Removal
from connectors.microsoft.delta import DeltaPage, delta_pages
from connectors.microsoft.graph import GraphClient
from connectors.microsoft.mail import page_problem, user_path
from connectors.microsoft.mapping import BODY_FIELDS, Mapper, Removed, Skipped
from connectors.microsoft.settings import MicrosoftOptions
from connectors.raw_schemas import to_table

TABLE = "raw.graph_events"
STREAM = "calendar"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        window: tuple[dt.datetime, dt.datetime],
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.account = account
        self.options = options
        self.window = window
        self.mapper = Mapper(ctx, owner=account, source=self.source)
        self.resyncs = 0

    def streams(self) -> list[str]:
        return [STREAM]

    def initial_url(self) -> str:
        start, end = self.window
        return f"{user_path(self.mailbox)}/calendarView/delta?startDateTime={_iso(start)}&endDateTime={_iso(end)}"

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        def resynced(reason: str) -> None:
            self.resyncs += 1

        for delta in delta_pages(
            self.client, self.mailbox, self.initial_url(), cursor, prefetch=self.options.prefetch, on_resync=resynced
        ):
            yield self._page(delta)

    def _page(self, delta: DeltaPage) -> Page:
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
        page = Page(cursor=delta.cursor, rejects=rejects, removals=removals)
        if rows:
            page.rows[TABLE] = to_table(TABLE, rows.values())
        return page
