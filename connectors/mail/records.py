"""One message's header block -> a ``raw.mail_messages`` row (a tuple in schema order) or a quarantine record.

Checks, in order, each with a stable reason code: ``no_sender`` (no From, or no valid address in it),
``missing_date``, ``unparseable_date``, ``implausible_date`` (outside ``ctx.plausibility``),
``no_valid_address`` (To/Cc/Bcc name addresses but none is valid). A message whose recipient fields are absent
or only group syntax (``undisclosed-recipients:;``) is kept with no recipients: that is how Bcc'd and list
mail arrives, and the mailbox owner is its recipient.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from typing import Any

from ..base import ImportContext, Reject, stable_hash
from ..raw_schemas import MAIL_MESSAGES
from . import exchange, headers, subjects
from .address_lists import AddressLists
from .dates import parse_date, utc_offset_minutes

COLUMNS = tuple(MAIL_MESSAGES.names)
Row = tuple[Any, ...]

_ANGLE = re.compile(r"<([^<>]*)>")
_KINDS = ("to", "cc", "bcc")

# Column positions used by owner inference and de-duplication.
KEY = COLUMNS.index("message_key")
FROM = COLUMNS.index("from_address")
RECIPIENTS = COLUMNS.index("recipients")


def message_id(value: str | None) -> str | None:
    """The first ``<id>`` of a Message-ID-like header (brackets, whitespace stripped), else the bare value."""
    if not value:
        return None
    found = _ANGLE.search(value)
    ident = (found.group(1) if found else value).strip()
    return ident or None


def references(value: str | None) -> list[str] | None:
    if not value:
        return None
    ids = [i.strip() for i in _ANGLE.findall(value) if i.strip()] or value.split()
    return ids or None


def labels(value: str | None) -> list[str] | None:
    """X-Gmail-Labels: comma separated, optionally quoted, possibly RFC 2047 encoded."""
    if not value:
        return None
    parts = next(csv.reader([value], skipinitialspace=True)) if '"' in value else value.split(",")
    found = [subjects.decode_subject(p.strip()) for p in parts if p.strip()]
    return found or None


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


@lru_cache(maxsize=4)
def _address_lists(ctx: ImportContext) -> AddressLists:
    """One parser cache per import context and process: the same lists recur across the mailboxes of an import."""
    return AddressLists(ctx.normaliser())


class MessageParser:
    """Parses header blocks of one mailbox; address parsing is cached per header value."""

    def __init__(self, ctx: ImportContext, *, owner: str, source: str, source_file: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self.source = source
        self.source_file = source_file
        self.lists = _address_lists(ctx)
        self.pseudonymised = self.lists.normaliser.pseudonymised
        self._addresses = self.lists.parse

    def reject(self, position: str, reason: str, detail: str, fields: dict[str, str]) -> Reject:
        return Reject(
            kind="message",
            source=self.source,
            source_file=self.source_file,
            position=position,
            reason=reason,
            detail=detail,
            excerpt=headers.excerpt(fields, pseudonymised=self.pseudonymised),
            content_key=stable_hash(*(f"{name}:{value}" for name, value in sorted(fields.items()))),
        )

    def parse(self, position: str, block: bytes, folder: str | None = None) -> Row | Reject:
        fields = headers.extract(block)
        get = fields.get

        raw_from = get("from")
        if not raw_from:
            return self.reject(position, "no_sender", "no From header", fields)
        senders, bad = self._addresses(raw_from)
        if not senders:
            return self.reject(position, "no_sender", f"From has no valid address ({bad} unusable)", fields)
        from_address, from_name = senders[0]

        sent_at, problem = parse_date(get("date"))
        if sent_at is None:
            detail = "no Date header" if problem == "missing_date" else "Date header is not an RFC 5322 date"
            return self.reject(position, problem or "unparseable_date", detail, fields)
        if not self.ctx.plausibility.accepts(sent_at):
            return self.reject(
                position,
                "implausible_date",
                f"Date {sent_at.isoformat()} is outside the plausible range",
                fields,
            )

        merged: dict[str, tuple[str, str, str | None]] = {}
        recipient_bad = 0
        x500_recipients: list[dict[str, str | None]] = []
        normalise = self.lists.normaliser.normalise
        for kind in _KINDS:
            value = get(kind)
            found, n_bad = self._addresses(value) if value else ((), 0)
            if kind != "bcc" and exchange.has_path(x_value := get("x-" + kind)):
                addresses = [address for address, _ in found]
                x500_recipients += exchange.recipient_x500(kind, x_value, addresses, n_bad, normalise)
            recipient_bad += n_bad
            for address, name in found:
                if address not in merged:
                    merged[address] = (kind, address, name)
        if not merged and recipient_bad:
            detail = f"To/Cc/Bcc hold {recipient_bad} addresses, none usable"
            return self.reject(position, "no_valid_address", detail, fields)
        bad += recipient_bad
        recipients = list(merged.values())

        mid = message_id(get("message-id"))
        key = mid.lower() if mid else "h:" + stable_hash(from_address, sent_at.isoformat(), *sorted(merged))

        subject = get("subject")
        is_reply = is_forward = False
        subject_hash = subject_digest = None
        if subject:
            subject = subjects.decode_subject(subject)
            is_reply, is_forward, stripped = subjects.classify(subject)
            if self.ctx.subject_key is not None:
                subject_hash = subjects.subject_hash(self.ctx.subject_key, stripped)
            if self.ctx.copy_key is not None:
                subject_digest = subjects.subject_digest(self.ctx.copy_key, stripped)

        list_id = _lower(message_id(get("list-id")))
        return (
            key,
            self.owner,
            self.source,
            self.source_file,
            position,
            mid,
            sent_at,
            from_address,
            from_name,
            recipients,
            bad,
            message_id(get("in-reply-to")),
            references(get("references")),
            is_reply,
            is_forward,
            subject_hash,
            get("x-gm-thrid") or None,
            labels(get("x-gmail-labels")),
            folder or get("x-folder") or None,
            list_id,
            bool(get("list-unsubscribe")),
            _lower(get("precedence")),
            _lower(get("auto-submitted")),
            utc_offset_minutes(get("date")),
            subject_digest,
            exchange.sender_x500(get("x-from"), normalise),
            x500_recipients or None,
            self.lists.normaliser.non_person_addresses([from_address, *merged], list_id),
        )
