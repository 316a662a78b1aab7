"""Outlook mail metadata through Graph: one delta per folder (Inbox and SentItems by default), read side by side.

``GET /users/{id}/mailFolders/{folder}/messages/delta?$select=...`` with ``Prefer: odata.maxpagesize``. A folder's
delta is sequential (each page names the next), so the folders of a mailbox are read concurrently, within the
client's 4 requests in flight, and their pages are committed one at a time by the caller's thread. The mailbox
has one cursor (stream ``mail``): JSON ``{"folders": {folder: link}}``, each link the folder's last committed
nextLink or, once caught up, its deltaLink, verbatim.

Every page also reports the copies it read (``connectors.base.Copies``): a message in Inbox and Sent Items is one
row with two copies, so an ``@removed`` copy removes the row only when it was the last one; a folder read from
its initial URL (first sync, resync) is a full re-read after which the copies not seen again are removed. Drafts
are skipped; replays and duplicates are absorbed (keyed rows, and the last sighting of an id in a page wins).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..base import Copies, ImportContext, Page, Reject, Removal, copy_items
from ..raw_schemas import to_table
from .delta import DeltaPage, delta_pages
from .graph import MAX_BATCH, BatchRequest, GraphClient
from .mapping import HEADER_SELECT, MESSAGE_SELECT, Mapper, Removed, Skipped
from .parallel import interleave
from .settings import MicrosoftOptions

TABLE = "raw.graph_messages"
STREAM = "mail"
DEFAULT_FOLDERS = ("inbox", "sentitems")
WELL_KNOWN = ("inbox", "sentitems", "drafts", "deleteditems", "junkemail", "archive", "outbox", "conversationhistory")
"""Well-known folder names that ``folders: all`` recognises among the enumerated folder ids."""


def user_path(mailbox: str) -> str:
    return f"/users/{quote(mailbox, safe='@')}"


def page_problem(source: str, owner: str, kind: str, page: DeltaPage) -> Reject:
    return Reject(
        kind=kind,  # type: ignore[arg-type]
        source=source,
        source_file=owner,
        position=page.cursor[-120:],
        reason="malformed_page",
        detail=page.problem or "",
        excerpt="",
    )


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder to read: its well-known name (``inbox``) or, for other folders, its Graph id and display name."""

    scope: str
    """The key of its link in the cursor and of its copies: the well-known name, else the folder id."""
    label: str
    """The ``folder`` column: the well-known name, else the display name."""


def folder_links(cursor: str | None) -> dict[str, str]:
    """The folders' links of a stored cursor; an empty or unreadable one means every folder starts afresh."""
    try:
        data = json.loads(cursor) if cursor else None
    except ValueError:
        return {}
    folders = data.get("folders") if isinstance(data, dict) else None
    if not isinstance(folders, dict):
        return {}
    return {str(k): v for k, v in folders.items() if isinstance(v, str)}


class OutlookMailSource:
    """One mailbox's mail (a ``SyncSource``): ``mailbox`` is the address Graph knows, ``account`` the stored one."""

    source = "outlook"

    def __init__(
        self, client: GraphClient, mailbox: str, account: str, ctx: ImportContext, options: MicrosoftOptions
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.account = account
        self.options = options
        self.mapper = Mapper(ctx, owner=account, source=self.source)
        self.resyncs = 0
        self._lock = threading.Lock()

    def streams(self) -> list[str]:
        return [STREAM]

    def folders(self) -> list[Folder]:
        chosen = self.options.folders
        if chosen == "default":
            return [Folder(name, name) for name in DEFAULT_FOLDERS]
        if isinstance(chosen, list):
            names = dict.fromkeys(f.strip().lower() for f in chosen if f.strip())
            return [Folder(name, name) for name in names]
        return self.all_folders()

    def all_folders(self) -> list[Folder]:
        """Every mail folder, enumerated through the folder delta (which lists child folders too); the well-known
        ones by name."""
        url: str | None = f"{user_path(self.mailbox)}/mailFolders/delta?$select=displayName,parentFolderId"
        names: dict[str, str] = {}
        while url:
            body = self.client.get(url, mailbox=self.mailbox)
            for item in body.get("value") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                if "@removed" in item:
                    names.pop(item["id"], None)
                else:
                    names[item["id"]] = str(item.get("displayName") or item["id"])
            url = body.get("@odata.nextLink")
        known = self._well_known_ids()
        return [Folder(known[i], known[i]) if i in known else Folder(i, name) for i, name in names.items()]

    def _well_known_ids(self) -> dict[str, str]:
        """Folder id -> well-known name, from one ``$batch`` of ``GET mailFolders/{name}`` (absent ones answer 404)."""
        base = user_path(self.mailbox)
        asks = [BatchRequest(name, f"{base}/mailFolders/{name}?$select=id") for name in WELL_KNOWN]
        found: dict[str, str] = {}
        for name, (status, body) in self.client.batch(asks, mailbox=self.mailbox).items():
            if status == 200 and isinstance(body, dict) and isinstance(body.get("id"), str):
                found[body["id"]] = name
        return found

    def initial_url(self, folder: Folder) -> str:
        path = quote(folder.scope, safe="")
        return f"{user_path(self.mailbox)}/mailFolders/{path}/messages/delta?$select={MESSAGE_SELECT}"

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        folders = self.folders()
        stored = folder_links(cursor)
        links: dict[str, str | None] = {f.scope: stored.get(f.scope) for f in folders}

        def reader(folder: Folder, start: str | None) -> Generator[tuple[str, str, Page], None, None]:
            for delta in delta_pages(
                self.client,
                self.mailbox,
                self.initial_url(folder),
                start,
                prefetch=self.options.prefetch,
                on_resync=self._resynced,
            ):
                yield folder.scope, delta.cursor, self._page(delta, folder)

        readers = [lambda f=folder, start=links[folder.scope]: reader(f, start) for folder in folders]
        for scope, link, page in interleave(readers, workers=self.client.max_concurrency):
            links[scope] = link
            page.cursor = json.dumps({"folders": links}, sort_keys=True)
            yield page

    def _resynced(self, reason: str) -> None:
        with self._lock:
            self.resyncs += 1

    def _page(self, delta: DeltaPage, folder: Folder) -> Page:
        latest: dict[str, Any] = {}
        rejects: list[Reject] = []
        if delta.problem:
            rejects.append(page_problem(self.source, self.account, "message", delta))
        for item in delta.items:
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                latest.pop(item["id"], None)  # the last sighting of an id in the page wins
                latest[item["id"]] = item
            else:
                rejects.append(self.mapper.message(item, folder.label))  # type: ignore[arg-type]
        headers = self._headers(latest) if self.options.internet_headers else {}
        rows: dict[str, dict[str, Any]] = {}
        copies: dict[str, str] = {}
        removals: list[Removal] = []
        for ident, item in latest.items():
            mapped = self.mapper.message(item, folder.label, headers.get(ident))
            if isinstance(mapped, Removed):
                removals.append(Removal(TABLE, self.account, mapped.id))
            elif isinstance(mapped, Reject):
                rejects.append(mapped)
            elif isinstance(mapped, Skipped):
                continue
            else:
                rows.setdefault(mapped["message_key"], mapped)
                copies[ident] = mapped["message_key"]
        items = copy_items(copies)
        page = Page(
            rejects=rejects,
            removals=removals,
            copies=[Copies(TABLE, self.account, folder.scope, items, restart=delta.fresh, final=delta.final)],
        )
        if rows:
            page.rows[TABLE] = to_table(TABLE, rows.values())
        return page

    def _headers(self, items: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """internetMessageHeaders of the page's live messages, 20 per ``$batch``; missing ones are left out."""
        wanted = [i for i, item in items.items() if "@removed" not in item and item.get("isDraft") is not True]
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(wanted), MAX_BATCH):
            chunk = wanted[start : start + MAX_BATCH]
            requests = [
                BatchRequest(
                    str(n),
                    f"{user_path(self.mailbox)}/messages/{quote(ident, safe='')}?$select={HEADER_SELECT}",
                )
                for n, ident in enumerate(chunk)
            ]
            replies = self.client.batch(requests, mailbox=self.mailbox)
            for n, ident in enumerate(chunk):
                status, body = replies.get(str(n), (0, None))
                if status == 200 and isinstance(body, dict) and isinstance(body.get(HEADER_SELECT), list):
                    found[ident] = body[HEADER_SELECT]
        return found
