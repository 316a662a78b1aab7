"""Gmail mailbox metadata as pages for ``tiepulse.pipelines.sync.sync_account``: full sync once, then the history.

Cursor (JSON in ``ops.sync_state.cursor``, stream ``messages``):

- ``{"mode": "full", "history_id": H, "page_token": T, "after": ID}`` during a full sync: ``H`` is the mailbox's
  history id taken (``getProfile``) before listing began, ``T`` the ``messages.list`` page being read (null: the
  first), ``ID`` the last message of that page already committed. Page tokens are re-sent verbatim on resume.
- ``{"mode": "incremental", "history_id": H}`` afterwards: ``history.list(startHistoryId=H)`` pages, each
  committed with the id of its last history record, the last with the mailbox's current ``historyId``.

A full sync lists the mailbox newest first (``includeSpamTrash`` false keeps SPAM and TRASH out; ``q`` is refused
under the metadata scope, so the window is applied by ``internalDate``: listing stops after the first list page
whose messages all predate it) and fetches ``format=metadata`` in paced batches. When it reaches the end it
continues from ``H`` through the history, so mail that arrived meanwhile is not lost. A 404 on ``history.list``
(history id too old) starts a fresh full sync; messages already stored are not fetched again (``known_ids``)
and nothing is removed. History deletions (and moves to SPAM/TRASH) become ``Removal``s by Gmail message id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from googleapiclient.discovery import build
from googleapiclient.http import HttpRequest

from ..base import ImportContext, Page, Reject, Removal
from ..mail.batches import rows_table
from ..mail.records import Row
from ..sync_source import KnownIds
from .client import GoogleCaller
from .errors import MalformedResponse, NotFound
from .mapping import GMAIL_TABLE, METADATA_HEADERS, SKIPPED_LABELS, GmailMapper
from .settings import GmailOptions

log = logging.getLogger(__name__)

STREAM = "messages"
MESSAGE_FIELDS = "id,threadId,labelIds,internalDate,payload/headers"
_TEMPLATE_ID = "0000000000000000"
HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]


@dataclass
class SyncProgress:
    """What a progress bar shows: items handled so far out of the work known (None: not known yet)."""

    total: int | None = None
    """Gmail's full sync starts from ``messagesTotal`` (an upper bound: it counts SPAM, TRASH, drafts and mail
    older than the window) and settles on the exact count when listing ends; history pages add what they list."""
    done: int = 0
    phase: str = ""

    def expect(self, more: int) -> None:
        """``more`` items are about to be handled: the total is at least what that makes."""
        if self.total is None or self.total < self.done + more:
            self.total = self.done + more


@dataclass
class _Cursor:
    mode: str
    history_id: str
    page_token: str | None = None
    after: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def dump(self) -> str:
        if self.mode == "incremental":
            return json.dumps({"mode": "incremental", "history_id": self.history_id})
        return json.dumps(
            {"mode": "full", "history_id": self.history_id, "page_token": self.page_token, "after": self.after}
        )

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            mode, history_id = data["mode"], str(data["history_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable Gmail cursor %r: starting a full sync", text[:80])
            return None
        if mode not in ("full", "incremental"):
            return None
        return cls(mode, history_id, data.get("page_token"), data.get("after"))


class GmailSource:
    """One mailbox (``account``) read through the Gmail API as the ``SyncSource`` ``gmail``."""

    source = "gmail"

    def __init__(
        self,
        account: str,
        *,
        caller: GoogleCaller,
        endpoint: str,
        options: GmailOptions,
        ctx: ImportContext,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.account = account
        self.caller = caller
        self.endpoint = endpoint
        self.options = options
        self.ctx = ctx
        self.clock = clock
        self.known_ids: KnownIds | None = None
        self.progress = SyncProgress()
        self.resyncs = 0
        self._service: Any = None
        self._template: HttpRequest | None = None

    # ------------------------------------------------------------------------------------------ plumbing

    @property
    def users(self) -> Any:
        if self._service is None:
            self._service = build(
                "gmail",
                "v1",
                http=self.caller.http,
                client_options={"api_endpoint": self.endpoint},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._service.users()

    def streams(self) -> list[str]:
        return [STREAM]

    def _headers(self) -> list[str]:
        return [*METADATA_HEADERS, "Subject"] if self.options.read_subject else list(METADATA_HEADERS)

    def _mapper(self) -> GmailMapper:
        window_start = self.clock() - dt.timedelta(days=self.options.window_days)
        return GmailMapper(self.ctx, owner=self.account, window_start=window_start)

    def _unknown(self, ids: list[str]) -> list[str]:
        if not ids or self.known_ids is None:
            return ids
        known = self.known_ids(ids)
        return [i for i in ids if i not in known]

    def _get_request_factory(self) -> Callable[[str], HttpRequest]:
        """``messages.get(format=metadata)`` for an id: the discovery-built request, copied per id.

        Building each request through the discovery document costs more client time than the whole rest of a
        message's handling; the copies differ from it only in the id in the path.
        """
        if self._template is None:
            self._template = self.users.messages().get(
                userId="me", id=_TEMPLATE_ID, format="metadata", metadataHeaders=self._headers(), fields=MESSAGE_FIELDS
            )
        template = self._template
        head, tail = template.uri.split(f"/messages/{_TEMPLATE_ID}?", 1)

        def request(message_id: str) -> HttpRequest:
            uri = f"{head}/messages/{urllib.parse.quote(message_id, safe='')}?{tail}"
            return HttpRequest(
                template.http,
                template.postproc,
                uri,
                method=template.method,
                headers=dict(template.headers),
                methodId=template.methodId,
            )

        return request

    def _fetch(self, ids: list[str], mapper: GmailMapper) -> tuple[list[Row], list[Reject], int]:
        """Rows and rejects for ``ids`` (metadata in batches) and how many of them predate the window."""
        request = self._get_request_factory()
        self.progress.expect(len(ids))
        outcome = self.caller.get_many(ids, request, "gmail.messages.get", valid=lambda m: "id" in m)
        rows: list[Row] = []
        rejects: list[Reject] = []
        old = 0
        seen: set[str] = set()
        for message_id in ids:
            if message_id in outcome.failed:
                reason = outcome.failed[message_id]
                rejects.append(mapper.reject(message_id, reason, f"messages.get answered {reason}"))
                continue
            payload = outcome.ok.get(message_id)
            if payload is None:
                continue  # deleted meanwhile
            result = mapper.map(payload)
            if result is None:
                received = mapper.internal_date(payload)
                if received is not None and mapper.window_start is not None and received < mapper.window_start:
                    old += 1
            elif isinstance(result, Reject):
                rejects.append(result)
            elif result[0] not in seen:
                seen.add(result[0])
                rows.append(result)
        self.progress.done += len(ids)
        return rows, rejects, old

    def _page(self, rows: list[Row], rejects: list[Reject], cursor: str, removals: list[Removal] | None = None) -> Page:
        return Page(rows={GMAIL_TABLE: rows_table(rows)}, rejects=rejects, cursor=cursor, removals=removals or [])

    def _stall(self, exc: MalformedResponse, cursor: _Cursor | None, position: str) -> Page:
        """A list page stayed malformed: quarantine the event and stop here; the next sync resumes from here."""
        reject = Reject(
            kind="message",
            source="gmail",
            source_file=self.account,
            position=position,
            reason="malformed_response",
            detail=str(exc)[:300],
        )
        return Page(rejects=[reject], cursor=cursor.dump() if cursor else None)

    # ------------------------------------------------------------------------------------------ syncing

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        if stream != STREAM:
            raise ValueError(f"Gmail has one stream, {STREAM!r}, not {stream!r}")
        state = _Cursor.load(cursor)
        if state is None or state.mode == "full":
            yield from self._full(state)
        else:
            yield from self._incremental(state)

    def _full(self, state: _Cursor | None) -> Iterator[Page]:
        mapper = self._mapper()
        if state is None:
            self.progress.phase = "full sync"
            try:
                profile = self.caller.call(self.users.getProfile(userId="me"), "gmail.getProfile", "getProfile")
                history_id = str(profile["historyId"])
            except (MalformedResponse, KeyError) as exc:
                yield self._stall(MalformedResponse(f"getProfile: {exc}"), None, "getProfile")
                return
            total = profile.get("messagesTotal")
            self.progress.total = total if isinstance(total, int) else None
            state = _Cursor("full", history_id)
            yield Page(cursor=state.dump())  # the starting point of the history is fixed before listing
        step = self.options.commit_rows
        while True:
            try:
                listing = self.caller.call(
                    self.users.messages().list(
                        userId="me",
                        maxResults=self.options.list_page_size,
                        pageToken=state.page_token,
                        includeSpamTrash=False,
                    ),
                    "gmail.messages.list",
                    "messages.list",
                )
            except MalformedResponse as exc:
                yield self._stall(exc, state, f"messages.list:{state.page_token or 'first'}")
                return
            entries = listing.get("messages") or []
            ids = [m["id"] for m in entries if isinstance(m, dict) and isinstance(m.get("id"), str)]
            if state.after is not None and state.after in ids:
                ids = ids[ids.index(state.after) + 1 :]
            listed = len(ids)
            ids = self._unknown(ids)
            self.progress.done += listed - len(ids)
            next_token = listing.get("nextPageToken") if isinstance(listing.get("nextPageToken"), str) else None
            fetched = old = 0
            chunks = [ids[i : i + step] for i in range(0, len(ids), step)] or [[]]
            for n, chunk in enumerate(chunks):
                rows, rejects, chunk_old = self._fetch(chunk, mapper)
                fetched += len(chunk)
                old += chunk_old
                last_chunk = n == len(chunks) - 1
                if not last_chunk:
                    after = _Cursor("full", state.history_id, state.page_token, chunk[-1])
                    yield self._page(rows, rejects, after.dump())
                    continue
                window_done = fetched > 0 and old == fetched
                if next_token and not window_done:
                    state = _Cursor("full", state.history_id, next_token, None)
                else:
                    state = _Cursor("incremental", state.history_id)
                    self.progress.total = self.progress.done  # listing is over: now the count is exact
                yield self._page(rows, rejects, state.dump())
            if state.mode == "incremental":
                break
        self.progress.phase = "catching up"
        yield from self._incremental(state)

    def _incremental(self, state: _Cursor) -> Iterator[Page]:
        mapper = self._mapper()
        if not self.progress.phase:
            self.progress.phase = "incremental"
        page_token: str | None = None
        while True:
            try:
                response = self.caller.call(
                    self.users.history().list(
                        userId="me",
                        startHistoryId=state.history_id,
                        historyTypes=HISTORY_TYPES,
                        maxResults=self.options.list_page_size,
                        pageToken=page_token,
                    ),
                    "gmail.history.list",
                    "history.list",
                )
            except NotFound:
                log.warning("%s: history id %s expired: full resync", self.account, state.history_id)
                self.resyncs += 1
                self.progress = SyncProgress(phase="full resync")
                yield from self._full(None)
                return
            except MalformedResponse as exc:
                yield self._stall(exc, state, f"history.list:{state.history_id}")
                return
            records = response.get("history") or []
            wanted: dict[str, bool] = {}  # message id -> fetch (True) or remove (False); the last event wins
            last_record = state.history_id
            for record in records:
                if not isinstance(record, dict):
                    continue
                for kind, fetch in (("messagesAdded", True), ("messagesDeleted", False)):
                    for entry in record.get(kind) or []:
                        message = entry.get("message") if isinstance(entry, dict) else None
                        if isinstance(message, dict) and isinstance(message.get("id"), str):
                            labels = set(message.get("labelIds") or [])
                            wanted.pop(message["id"], None)
                            wanted[message["id"]] = fetch and not (labels & SKIPPED_LABELS)
                for kind, added in (("labelsAdded", True), ("labelsRemoved", False)):
                    for entry in record.get(kind) or []:
                        if not isinstance(entry, dict) or not isinstance(entry.get("message"), dict):
                            continue
                        message = entry["message"]
                        changed = set(entry.get("labelIds") or []) & {"SPAM", "TRASH"}
                        if not changed or not isinstance(message.get("id"), str):
                            continue
                        labels = set(message.get("labelIds") or [])
                        wanted.pop(message["id"], None)
                        wanted[message["id"]] = not added and not (labels & SKIPPED_LABELS)
                if record.get("id") is not None:
                    last_record = str(record["id"])
            next_token = response.get("nextPageToken") if isinstance(response.get("nextPageToken"), str) else None
            add = self._unknown([i for i, fetch in wanted.items() if fetch])
            removals = [Removal(GMAIL_TABLE, self.account, i) for i, fetch in wanted.items() if not fetch]
            rows, rejects, _ = self._fetch(add, mapper) if add else ([], [], 0)
            if next_token:
                cursor = _Cursor("incremental", last_record)
            else:
                current = response.get("historyId")
                cursor = _Cursor("incremental", str(current) if current is not None else last_record)
            yield self._page(rows, rejects, cursor.dump(), removals)
            if not next_token:
                return
            page_token = next_token
