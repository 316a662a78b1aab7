"""Outlook mail metadata through Graph: one delta stream per folder (Inbox and SentItems by default).

``GET /users/{id}/mailFolders/{folder}/messages/delta?$select=...`` with ``Prefer: odata.maxpagesize``; the cursor
of a stream is the page's nextLink or, once caught up, the deltaLink, verbatim. ``@removed`` items become
``Removal`` of the row with that Graph id; drafts are skipped; replays and duplicates are absorbed (keyed rows,
and the last sighting of an id inside a page wins).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from connectors.base import ImportContext, Page, Reject, Removal
from connectors.microsoft.delta import DeltaPage, delta_pages
from connectors.microsoft.graph import MAX_BATCH, BatchRequest, GraphClient
from connectors.microsoft.mapping import HEADER_SELECT, MESSAGE_SELECT, Mapper, Removed, Skipped
from connectors.microsoft.settings import MicrosoftOptions
from connectors.raw_schemas import to_table

TABLE = "raw.graph_messages"
DEFAULT_FOLDERS = ("inbox", "sentitems")


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
        self.folder_names: dict[str, str] = {}
        self.resyncs = 0

    def streams(self) -> list[str]:
        folders = self.options.folders
        if folders == "default":
            return list(DEFAULT_FOLDERS)
        if isinstance(folders, list):
            return [f.strip().lower() for f in folders if f.strip()]
        return self.all_folders()

    def all_folders(self) -> list[str]:
        """Every mail folder (ids), enumerated through the folder delta (which lists child folders too)."""
        url: str | None = f"{user_path(self.mailbox)}/mailFolders/delta?$select=displayName,parentFolderId"
        ids: dict[str, str] = {}
        while url:
            body = self.client.get(url, mailbox=self.mailbox)
            for item in body.get("value") or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                if "@removed" in item:
                    ids.pop(item["id"], None)
                else:
                    ids[item["id"]] = str(item.get("displayName") or item["id"])
            url = body.get("@odata.nextLink")
        self.folder_names.update(ids)
        return list(ids)

    def initial_url(self, stream: str) -> str:
        return f"{user_path(self.mailbox)}/mailFolders/{quote(stream, safe='')}/messages/delta?$select={MESSAGE_SELECT}"

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        folder = self.folder_names.get(stream, stream)

        def resynced(reason: str) -> None:
            self.resyncs += 1

        for delta in delta_pages(
            self.client,
            self.mailbox,
            self.initial_url(stream),
            cursor,
            prefetch=self.options.prefetch,
            on_resync=resynced,
        ):
            yield self._page(delta, folder)

    def _page(self, delta: DeltaPage, folder: str) -> Page:
        latest: dict[str, Any] = {}
        rejects: list[Reject] = []
        if delta.problem:
            rejects.append(page_problem(self.source, self.account, "message", delta))
        for item in delta.items:
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                latest.pop(item["id"], None)  # the last sighting of an id in the page wins
                latest[item["id"]] = item
            else:
                rejects.append(self.mapper.message(item, folder))  # type: ignore[arg-type]
        headers = self._headers(latest) if self.options.internet_headers else {}
        rows: dict[str, dict[str, Any]] = {}
        removals: list[Removal] = []
        for ident, item in latest.items():
            mapped = self.mapper.message(item, folder, headers.get(ident))
            if isinstance(mapped, Removed):
                removals.append(Removal(TABLE, self.account, mapped.id))
            elif isinstance(mapped, Reject):
                rejects.append(mapped)
            elif isinstance(mapped, Skipped):
                continue
            else:
                rows.setdefault(mapped["message_key"], mapped)
        page = Page(cursor=delta.cursor, rejects=rejects, removals=removals)
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
