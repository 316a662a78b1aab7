"""What every connector yields: pages of raw rows, the records it rejected, and the cursor after the page.

A connector never opens the warehouse. The loader (``pipelines.loader``) commits a page's rows, its rejects and its
cursor in one DuckDB transaction, so a crash at any moment resumes from the last committed page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from .addresses import AddressNormaliser

RejectKind = Literal["message", "event", "csv_row"]

EXCERPT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that cannot be trusted; it lands in ``ops.quarantine`` with its reason."""

    kind: RejectKind
    source: str
    source_file: str
    position: str
    reason: str
    """Short stable code, e.g. ``no_sender``, ``unparseable_date``, ``implausible_date``, ``no_valid_address``."""
    detail: str = ""
    excerpt: str = ""
    content_key: str | None = None
    """Set when the record can be told by its content (a message's headers): the same bad message found in several
    files or mailboxes is then quarantined once."""

    @property
    def key(self) -> str:
        if self.content_key is not None:
            return stable_hash(self.kind, self.reason, self.content_key)
        return stable_hash(self.source, self.source_file, self.position, self.reason)

    def as_row(self) -> dict[str, str]:
        return {
            "quarantine_key": self.key,
            "kind": self.kind,
            "source": self.source,
            "source_file": self.source_file,
            "source_position": self.position,
            "reason": self.reason,
            "detail": self.detail,
            "raw_excerpt": self.excerpt[:EXCERPT_CHARS],
        }


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part of a source that could not be read this time (a file of a folder without read permission, a dangling
    link): reported per part, never quarantined, and read again on the next import."""

    position: str
    """Where in the source: a file name in an .eml folder, ``<folder>/<unique name>`` or ``<folder>/cur`` in a
    maildir."""
    reason: str


def os_reason(exc: OSError) -> str:
    """An OS error as a short reason without the path (``Permission denied``)."""
    return exc.strerror or type(exc).__name__


@dataclass(frozen=True, slots=True)
class Removal:
    """A record the source says is gone (Gmail history deletion, Graph ``@removed``, cancelled sync item)."""

    table: str
    owner: str
    """The mailbox or calendar owner the row was stored under."""
    source_position: str
    """The source's own id for the record, as stored in ``source_position``."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A record whose status changed upstream without a full payload (a deleted Google Calendar event arrives as
    ``{"id": ..., "status": "cancelled"}``): the stored row keeps its columns and takes the new ``status``."""

    table: str
    owner: str
    source_position: str
    status: str


COPY_SCHEMA = pa.schema([("item_id", pa.string()), ("record_key", pa.string())])


@dataclass(frozen=True, slots=True)
class Copies:
    """The source items of one scope (a mail folder, a calendar) that a page read, each naming the key of the row
    it carries: a message in Inbox and Sent Items of one mailbox is one row with two copies, and removing one copy
    keeps the row (``tiepulse.pipelines.loader``). Item ids are unique within ``items`` (``COPY_SCHEMA``)."""

    table: str
    owner: str
    scope: str
    items: pa.Table
    restart: bool = False
    """The page begins a full re-read of the scope: every copy already stored is stale until the re-read sees it
    again (only those of rows overlapping ``restart_window``, when set)."""
    restart_window: tuple[dt.datetime, dt.datetime] | None = None
    final: bool = False
    """The page ends a read of the scope: copies still stale are removed, and rows left without a copy."""


def copy_items(keys: dict[str, str]) -> pa.Table:
    """``Copies.items`` from item id -> record key."""
    return pa.table({"item_id": list(keys), "record_key": list(keys.values())}, schema=COPY_SCHEMA)


@dataclass(slots=True)
class Page:
    """One unit of work for the loader: rows per raw table, removals, rejects, and the cursor after this page."""

    rows: dict[str, pa.Table] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    cursor: str | None = None
    removals: list[Removal] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    """Applied after ``rows`` and ``removals``; only for tables with a ``status`` column (calendar events)."""
    copies: list[Copies] = field(default_factory=list)
    """For sources whose removals name copies (Graph): which items carry which rows (see :class:`Copies`)."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Parts of the source this page could not read; the loader ignores them, the file import reports them."""

    @property
    def row_count(self) -> int:
        return sum(t.num_rows for t in self.rows.values())


@dataclass(frozen=True, slots=True)
class Plausibility:
    """Timestamps outside [earliest, latest] are quarantined as ``implausible_date``."""

    earliest: dt.datetime
    latest: dt.datetime

    def accepts(self, when: dt.datetime) -> bool:
        return self.earliest <= when <= self.latest


def stable_hash(*parts: object) -> str:
    """A short, stable, collision-resistant key from parts (sha256, first 32 hex characters)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ImportContext:
    """Everything an importer needs to know from the settings; picklable for worker processes."""

    plausibility: Plausibility
    calendar_window: tuple[dt.datetime, dt.datetime]
    """Recurring events are expanded inside [start, end)."""
    fold_gmail: bool = True
    hmac_key: bytes | None = None
    """Pseudonymise every address with this key (``p~<hex>@domain``) and drop display names."""
    subject_key: bytes | None = None
    """Keep an HMAC of the normalised subject / event title with this key; None keeps nothing."""
    copy_key: bytes | None = None
    """Key of ``subject_digest``, the short subject HMAC that tells copies of one message apart; None keeps none."""
    workers: int = 1
    page_size: int = 5_000
    automated_patterns: tuple[str, ...] = ()
    """Regular expressions of automated senders: they mark pseudonyms (``p~auto~``) and non-person addresses."""
    group_patterns: tuple[str, ...] = ()
    """Regular expressions of distribution-list and role addresses, classified in clear at import."""
    ego_addresses: tuple[tuple[str, str], ...] = ()
    """(normalised address, ego) of the configured egos: owner inference prefers them."""

    def normaliser(self) -> AddressNormaliser:
        return AddressNormaliser(
            fold_gmail=self.fold_gmail,
            hmac_key=self.hmac_key,
            automated_patterns=self.automated_patterns,
            group_patterns=self.group_patterns,
        )


@dataclass(frozen=True, slots=True)
class OwnerGuess:
    """Whose mailbox or calendar a file is, and how we know."""

    address: str
    method: str
    """How it was told: ``given`` (--owner), ``config`` (the only configured ego), ``configured_ego`` (a configured
    ego present in most sampled messages), ``takeout_account``, ``sent_folder_sender``, ``calendar_owner`` or
    ``most_frequent_address``."""
    share: float = 1.0
    """Share of the sampled records that support the guess."""
