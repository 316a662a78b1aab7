"""Google Calendar events as pages for ``tiepulse.pipelines.sync.sync_account``: one stream per calendar.

Cursor (JSON, stream = the calendar id):

- ``{"mode": "full", "page_token": T}`` during a full sync (``T`` null: the first page),
- ``{"mode": "incremental", "sync_token": S, "page_token": T}`` afterwards (``T`` set while paging).

A full sync asks ``events.list(singleEvents=True, showDeleted=True, timeMin=<window start>)``; the last page
carries ``nextSyncToken``, and later syncs send it back with the same ``singleEvents``/``showDeleted`` and no
``timeMin`` (Google refuses it with a sync token). A 410 (``fullSyncRequired``), at the first page or in the middle
of paging, drops the token and starts a clean full sync; rows are replaced by key, so nothing doubles. Events come
back ``cancelled`` when deleted: a full payload is stored with that status, a bare ``{"id", "status"}`` marks the
stored row cancelled (``StatusChange``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from googleapiclient.discovery import build

from ..base import ImportContext, Page, Reject, StatusChange
from ..raw_schemas import to_table
from .client import GoogleCaller
from .errors import Gone, GoogleError, MalformedResponse
from .gmail import SyncProgress
from .mapping import EVENT_FIELDS, GCAL_TABLE, EventMapper
from .settings import CalendarOptions

log = logging.getLogger(__name__)


def _load(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("mode") not in ("full", "incremental"):
        return None
    if data["mode"] == "incremental" and not isinstance(data.get("sync_token"), str):
        return None
    return data


class CalendarSource:
    """The calendars of one account read through the Calendar API as the ``SyncSource`` ``gcal``."""

    source = "gcal"

    def __init__(
        self,
        account: str,
        *,
        caller: GoogleCaller,
        endpoint: str,
        options: CalendarOptions,
        ctx: ImportContext,
        window_days_back: int,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.account = account
        self.caller = caller
        self.endpoint = endpoint
        self.options = options
        self.ctx = ctx
        self.window_days_back = options.window_days_back or window_days_back
        self.clock = clock
        self.progress = SyncProgress()
        self.resyncs = 0
        self._service: Any = None

    @property
    def service(self) -> Any:
        if self._service is None:
            self._service = build(
                "calendar",
                "v3",
                http=self.caller.http,
                client_options={"api_endpoint": self.endpoint},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._service

    def streams(self) -> list[str]:
        if self.options.calendars != "all":
            return list(dict.fromkeys(self.options.calendars))
        found: list[str] = []
        token: str | None = None
        while True:
            response = self.caller.call(
                self.service.calendarList().list(pageToken=token, minAccessRole="reader", showHidden=False),
                "calendar.calendarList.list",
                "calendarList.list",
            )
            for item in response.get("items") or []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found.append("primary" if item.get("primary") else item["id"])
            token = response.get("nextPageToken")
            if not isinstance(token, str):
                return list(dict.fromkeys(found)) or ["primary"]

    def _request(self, calendar_id: str, state: dict[str, Any]) -> Any:
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "singleEvents": True,
            "showDeleted": True,
            "maxResults": self.options.page_size,
            "fields": f"items({EVENT_FIELDS}),nextPageToken,nextSyncToken,timeZone",
        }
        if self.ctx.subject_key is not None:
            params["fields"] = params["fields"].replace("items(id,", "items(id,summary,")
        if state.get("page_token"):
            params["pageToken"] = state["page_token"]
        if state["mode"] == "incremental":
            params["syncToken"] = state["sync_token"]
        else:
            start = self.clock() - dt.timedelta(days=self.window_days_back)
            params["timeMin"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.service.events().list(**params)

    def _where(self, stream: str) -> str:
        """The account and calendar for a log line; pseudonymised, the account only (a calendar id is an address)."""
        return self.account if self.ctx.hmac_key is not None else f"{self.account}/{stream}"

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        mapper = EventMapper(self.ctx, owner=self.account, calendar_id=stream)
        state = _load(cursor) or {"mode": "full", "page_token": None}
        if state["mode"] == "full" and not state.get("page_token"):
            self.progress.phase = "full sync"
        resumed_token = bool(state.get("page_token"))
        while True:
            try:
                response = self.caller.call(
                    self._request(stream, state), "calendar.events.list", f"events.list {stream}"
                )
            except Gone:
                log.warning("%s: sync token no longer valid: full resync", self._where(stream))
                self.resyncs += 1
                self.progress.phase = "full resync"
                state = {"mode": "full", "page_token": None}
                yield Page(cursor=json.dumps(state))
                resumed_token = False
                continue
            except GoogleError as exc:
                if resumed_token and not isinstance(exc, MalformedResponse):
                    # A page token saved before a crash may have expired: start this phase again.
                    log.warning("%s: saved page token refused: restarting", self._where(stream))
                    state = {**state, "page_token": None}
                    if state["mode"] == "full":
                        state = {"mode": "full", "page_token": None}
                    resumed_token = False
                    continue
                if isinstance(exc, MalformedResponse):
                    yield Page(
                        rejects=[
                            Reject(
                                kind="event",
                                source="gcal",
                                source_file=f"{self.account}/{stream}",
                                position=f"events.list:{state.get('page_token') or 'first'}",
                                reason="malformed_response",
                                detail=str(exc)[:300],
                            )
                        ],
                        cursor=json.dumps(state),
                    )
                    return
                raise
            resumed_token = False
            rows: dict[str, dict[str, Any]] = {}
            rejects: list[Reject] = []
            changes: list[StatusChange] = []
            zone = response.get("timeZone") if isinstance(response.get("timeZone"), str) else None
            for item in response.get("items") or []:
                result = mapper.map(item, zone)
                if isinstance(result, Reject):
                    rejects.append(result)
                elif isinstance(result, StatusChange):
                    changes.append(result)
                else:
                    rows[result["event_key"]] = result
            self.progress.done += len(response.get("items") or [])
            next_page = response.get("nextPageToken")
            if isinstance(next_page, str) and next_page:
                state = {**state, "page_token": next_page}
            elif isinstance(response.get("nextSyncToken"), str):
                state = {"mode": "incremental", "sync_token": response["nextSyncToken"], "page_token": None}
            else:
                raise GoogleError(f"events.list {stream}: last page without nextSyncToken")
            yield Page(
                rows={GCAL_TABLE: to_table(GCAL_TABLE, rows.values())},
                rejects=rejects,
                cursor=json.dumps(state),
                status_changes=changes,
            )
            if not state.get("page_token"):
                return
