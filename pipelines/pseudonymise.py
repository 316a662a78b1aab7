"""Pseudonymise what the connectors leave in clear, before a page is stored (with ``TIEPULSE_PSEUDONYM_KEY`` set).

The connectors already replace addresses and drop display names. Here the other identifying values become keyed
hashes (``k~`` + 32 hex digits of HMAC-SHA-256 with the pseudonym key): Message-IDs, In-Reply-To and References
(hashed alike, so threading still joins), thread ids, folders, labels, list ids, calendar UIDs, series ids and
locations, file paths (``source_file``) and record positions that are not plain offsets (file names, UIDs, API item
ids, also where removals, status changes and Graph item copies name them). A quarantined record keeps its reason
and loses its header excerpt and detail. Empty values stay empty, so "has a location" still means what it did.

What names no one stays: system folders and labels (``INBOX``, ``SENT``, ``sentitems``: the observation windows
read them) and an API account's pseudonym heading ``source_file`` (``p~<hex>@domain/<calendar>`` keeps the
account and hashes the calendar), which ``forget`` finds the account's quarantined records by.

A sync's cursors (Graph delta links name the mailbox) are sealed: encrypted with a key derived from the pseudonym
key, so they resume the sync and show nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re

import duckdb
import pyarrow as pa
from cryptography.fernet import Fernet, InvalidToken

from tiepulse.connectors.addresses import PSEUDONYM_PREFIX
from tiepulse.connectors.base import COPY_SCHEMA, Copies, Page, Reject, Removal, StatusChange
from tiepulse.core.keyed_hash import install_keyed_hash, keyed_hash
from tiepulse.pipelines.providers import raw_table

_MACRO = "tp_pseudonym"
_HASHED = ("message_id", "in_reply_to", "thread_id", "list_id", "uid", "series_id", "location", "event_key")
_PLAIN_POSITION = r"^[0-9]+$"  # a byte offset or row number identifies nobody
_SYSTEM_FOLDERS = frozenset(
    {
        # Gmail's system labels and Outlook's well-known folders, as the APIs and exports name them
        *("inbox", "sent", "sentitems", "sent items", "sent mail", "drafts", "draft", "deleteditems", "trash"),
        *("spam", "junkemail", "archive", "outbox", "important", "starred", "unread", "chat", "opened"),
        *("category_personal", "category_social", "category_promotions", "category_updates", "category_forums"),
        "conversationhistory",
    }
)
_SYSTEM_SQL = "[" + ", ".join(f"'{name}'" for name in sorted(_SYSTEM_FOLDERS)) + "]"
_CURSOR_CONTEXT = b"tiepulse sync cursor"
_ACCOUNT_PSEUDONYM = re.compile(rf"^{PSEUDONYM_PREFIX}(auto~)?[0-9a-f]{{32}}@[^/]+$")
"""An API account's pseudonym as the normaliser makes it (``tiepulse.connectors.addresses``)."""


def _token_sql(value: str) -> str:
    """SQL of the keyed hash of ``value`` (a quoted column or a lambda variable); empty values stay."""
    return f"case when coalesce(trim({value}), '') = '' then {value} else 'k~' || left({_MACRO}({value}), 32) end"


def _folder_sql(value: str) -> str:
    """Like :func:`_token_sql`, but a system folder or label (``SENT``, ``sentitems``) stays as it is."""
    return f"case when list_contains({_SYSTEM_SQL}, lower(trim({value}))) then {value} else {_token_sql(value)} end"


def _position_sql(value: str) -> str:
    return f"case when regexp_matches({value}, '{_PLAIN_POSITION}') then {value} else {_token_sql(value)} end"


def _key_sql(value: str) -> str:
    """A message key: 'h:' keys are already hashes of header values."""
    return f"case when starts_with({value}, 'h:') then {value} else {_token_sql(value)} end"


def _source_file_sql(value: str) -> str:
    """A file path becomes a token; an API account's pseudonym stays, with what follows it hashed."""
    head = f"split_part({value}, '/', 1)"
    tail = f"{value}[length({head}) + 2:]"
    return (
        f"case when not regexp_matches({head}, '{_ACCOUNT_PSEUDONYM.pattern}') then {_token_sql(value)} "
        f"when {tail} = '' then {value} else {head} || '/' || {_token_sql(tail)} end"
    )


class Pseudonymiser:
    """Keyed hashes of a page's identifying values, in DuckDB for whole columns and in Python for single values."""

    def __init__(self, con: duckdb.DuckDBPyConnection, key: bytes) -> None:
        self._key = key
        install_keyed_hash(con, key, _MACRO)
        derived = hmac.new(key, _CURSOR_CONTEXT, hashlib.sha256).digest()
        self._sealer = Fernet(base64.urlsafe_b64encode(derived))

    def token(self, value: str) -> str:
        """The keyed hash of one value, the same as the SQL gives a column's value."""
        return value if not value.strip() else "k~" + keyed_hash(self._key, value)[:32]

    def position(self, value: str) -> str:
        """A record position as stored: plain offsets stay, anything else is hashed."""
        return value if value.isdigit() else self.token(value)

    def _source_file(self, value: str) -> str:
        head, _, tail = value.partition("/")
        if not _ACCOUNT_PSEUDONYM.match(head):
            return self.token(value)
        return f"{head}/{self.token(tail)}" if tail else value

    def seal(self, cursor: str | None) -> str | None:
        """A cursor as stored: encrypted, so the links and ids in it show nothing."""
        return None if cursor is None else self._sealer.encrypt(cursor.encode("utf-8")).decode("ascii")

    def unseal(self, stored: str | None) -> str | None:
        """The cursor :meth:`seal` stored; None (start afresh) when it is missing or was not sealed with this key."""
        if stored is None:
            return None
        try:
            return self._sealer.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            return None

    def page(self, con: duckdb.DuckDBPyConnection, page: Page) -> None:
        """Replace the page's identifying values by their keyed hashes, in place."""
        page.rows = {table: self._rows(con, rows) for table, rows in page.rows.items()}
        page.rejects = [self._reject(reject) for reject in page.rejects]
        page.removals = [Removal(r.table, r.owner, self.position(r.source_position)) for r in page.removals]
        page.status_changes = [
            StatusChange(c.table, c.owner, self.position(c.source_position), c.status) for c in page.status_changes
        ]
        page.copies = [self._copies(con, copies) for copies in page.copies]

    def _reject(self, reject: Reject) -> Reject:
        # The quarantine key is computed from the clear values first, so a re-import still adds nothing.
        return dataclasses.replace(
            reject,
            source_file=self._source_file(reject.source_file),
            position=self.position(reject.position),
            detail="",
            excerpt="",
            content_key=reject.key,
        )

    def _copies(self, con: duckdb.DuckDBPyConnection, copies: Copies) -> Copies:
        """Item ids hashed like positions, record keys like the key column of the rows they name."""
        key_column = raw_table(copies.table).key[0]
        record_key = _key_sql("record_key") if key_column == "message_key" else _token_sql("record_key")
        items = self._select(con, copies.items, {"item_id": _position_sql("item_id"), "record_key": record_key})
        return dataclasses.replace(copies, scope=self.token(copies.scope), items=items.cast(COPY_SCHEMA))

    def _rows(self, con: duckdb.DuckDBPyConnection, rows: pa.Table) -> pa.Table:
        names = set(rows.column_names)
        replaced = {column: _token_sql(f'"{column}"') for column in _HASHED if column in names}
        if "references" in names:
            replaced["references"] = f'list_transform("references", lambda v: {_token_sql("v")})'
        if "labels" in names:
            replaced["labels"] = f'list_transform("labels", lambda v: {_folder_sql("v")})'
        if "folder" in names:
            replaced["folder"] = _folder_sql("folder")
        if "message_key" in names:
            replaced["message_key"] = _key_sql("message_key")
        if "source_file" in names:
            replaced["source_file"] = _source_file_sql("source_file")
        if "source_position" in names:
            replaced["source_position"] = _position_sql("source_position")
        return self._select(con, rows, replaced).cast(rows.schema) if replaced else rows

    @staticmethod
    def _select(con: duckdb.DuckDBPyConnection, rows: pa.Table, replaced: dict[str, str]) -> pa.Table:
        select = ", ".join(
            f'{replaced[name]} as "{name}"' if name in replaced else f'"{name}"' for name in rows.column_names
        )
        con.register("_pseudonymising", rows)
        try:
            return con.sql(f"select {select} from _pseudonymising").to_arrow_table()
        finally:
            con.unregister("_pseudonymising")
