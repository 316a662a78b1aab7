"""Graph payloads -> raw rows (``raw.graph_messages``, ``raw.graph_events``), removals, or quarantine records.

Messages follow the mail file importer's rules (``connectors.mail.records``): ``message_key`` is the lower-cased
``internetMessageId`` without brackets (so the same message from a file, another mailbox or another folder is one
message in staging), recipients are deduplicated keeping the strongest kind (to, cc, bcc), reply / forward come
from the subject prefix and the subject itself is never stored. Events keep times, people and responses; their
``body`` and ``bodyPreview`` are dropped before anything else looks at them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ..base import ImportContext, Reject, stable_hash
from ..calendar_ics import REASON_END_BEFORE_START, title_hash, utc_iso
from ..mail import subjects
from ..mail.dates import utc_offset_minutes
from ..mail.records import message_id, references

MESSAGE_FIELDS = (
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "internetMessageId",
    "conversationId",
    "isDraft",
    "subject",  # read for the reply/forward flags (and the optional keyed hash); never stored
)
MESSAGE_SELECT = ",".join(MESSAGE_FIELDS)
HEADER_SELECT = "internetMessageHeaders"
BODY_FIELDS = ("body", "bodyPreview", "uniqueBody")
_KINDS = (("toRecipients", "to"), ("ccRecipients", "cc"), ("bccRecipients", "bcc"))
_RESPONSES = {
    "accepted": "accepted",
    "tentativelyaccepted": "tentative",
    "declined": "declined",
    "notresponded": "needs_action",
    "none": "needs_action",
    "organizer": "accepted",
}
_ROLES = {"required": "req_participant", "optional": "opt_participant", "resource": "non_participant"}


@dataclass(frozen=True, slots=True)
class Removed:
    """A ``@removed`` item: the Graph id of a record gone from the folder or calendar window."""

    id: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item deliberately not stored (a draft, a series master)."""

    id: str
    why: str


Mapped = dict[str, Any] | Removed | Skipped | Reject


def parse_time(value: Any) -> dt.datetime | None:
    """A Graph timestamp (``2024-03-04T09:00:00Z``, or 7 fraction digits without a zone) in UTC; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if "." in text:  # Graph writes up to 7 fraction digits; Python reads up to 6
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _email(entry: Any) -> tuple[str | None, str | None]:
    """(address, name) of a Graph recipient ``{"emailAddress": {"address", "name"}}``."""
    if not isinstance(entry, dict):
        return None, None
    inner = entry.get("emailAddress")
    if not isinstance(inner, dict):
        return None, None
    address, name = inner.get("address"), inner.get("name")
    return (address if isinstance(address, str) else None), (name if isinstance(name, str) else None)


class Mapper:
    """Maps one mailbox's or calendar's items; holds the normaliser (and its cache)."""

    def __init__(self, ctx: ImportContext, *, owner: str, source: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self.source = source
        self.normaliser = ctx.normaliser()

    # -- shared ------------------------------------------------------------------------------------------------
    def _address(self, entry: Any) -> tuple[str | None, str | None, bool]:
        """(normalised address, display name, present): ``present`` tells an empty entry from a bad one."""
        raw, name = _email(entry)
        if not raw:
            return None, None, False
        address = self.normaliser.normalise(raw)
        if address is None:
            return None, None, True
        shown = None if self.normaliser.pseudonymised else (" ".join(name.split()) or None if name else None)
        return address, shown, True

    def _excerpt(self, item: dict[str, Any], keys: tuple[str, ...], people: tuple[str, ...]) -> str:
        shown: dict[str, Any] = {k: item.get(k) for k in keys if k in item}
        if not self.normaliser.pseudonymised:
            for key in people:
                value = item.get(key)
                if isinstance(value, list):
                    shown[key] = [_email(v)[0] for v in value]
                elif value is not None:
                    shown[key] = _email(value)[0]
        else:
            shown["note"] = "addresses withheld: pseudonymisation is on"
        return json.dumps(shown, default=str, ensure_ascii=False)

    def _reject(self, kind: str, position: str, reason: str, detail: str, excerpt: str) -> Reject:
        return Reject(
            kind=kind,  # type: ignore[arg-type]
            source=self.source,
            source_file=self.owner,
            position=position,
            reason=reason,
            detail=detail,
            excerpt=excerpt,
        )

    def _malformed(self, kind: str, item: Any) -> Reject:
        text = json.dumps(item, default=str)[:200] if not isinstance(item, dict) else "(object without an id)"
        return self._reject(kind, "h:" + stable_hash(text), "malformed_item", "item is not an object with an id", text)

    # -- messages ----------------------------------------------------------------------------------------------
    def message(self, item: Any, folder: str, headers: list[dict[str, Any]] | None = None) -> Mapped:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            return self._malformed("message", item)
        ident = item["id"]
        if "@removed" in item:
            return Removed(ident)
        if item.get("isDraft") is True:
            return Skipped(ident, "draft")

        def reject(reason: str, detail: str) -> Reject:
            excerpt = self._excerpt(
                item,
                ("id", "internetMessageId", "sentDateTime", "receivedDateTime"),
                ("from", "sender", "toRecipients", "ccRecipients"),
            )
            return self._reject("message", ident, reason, detail, excerpt)

        from_address, from_name, present = self._address(item.get("from"))
        if from_address is None:
            from_address, from_name, sender_present = self._address(item.get("sender"))
            present = present or sender_present
        if from_address is None:
            return reject("no_sender", "from/sender hold no usable address" if present else "no from or sender")

        stamp = item.get("sentDateTime") or item.get("receivedDateTime")
        if not stamp:
            return reject("missing_date", "no sentDateTime or receivedDateTime")
        sent_at = parse_time(stamp)
        if sent_at is None:
            return reject("unparseable_date", "sentDateTime is not an ISO 8601 timestamp")
        if not self.ctx.plausibility.accepts(sent_at):
            return reject("implausible_date", f"sent {sent_at.isoformat()} is outside the plausible range")

        merged: dict[str, dict[str, Any]] = {}
        bad = 0
        for field, kind in _KINDS:
            entries = item.get(field)
            if not isinstance(entries, list):
                continue
            for entry in entries:
                address, name, here = self._address(entry)
                if address is None:
                    bad += here or entry is not None
                elif address not in merged:
                    merged[address] = {"kind": kind, "address": address, "name": name}
        if not merged and bad:
            return reject("no_valid_address", f"recipients hold {bad} addresses, none usable")

        mid = message_id(item.get("internetMessageId") if isinstance(item.get("internetMessageId"), str) else None)
        key = mid.lower() if mid else "h:" + stable_hash(from_address, sent_at.isoformat(), *sorted(merged))

        is_reply = is_forward = False
        hashed = digest = None
        subject = item.get("subject")
        if isinstance(subject, str) and subject:
            is_reply, is_forward, stripped = subjects.classify(subject)
            if self.ctx.subject_key is not None:
                hashed = subjects.subject_hash(self.ctx.subject_key, stripped)
            if self.ctx.copy_key is not None:
                digest = subjects.subject_digest(self.ctx.copy_key, stripped)

        head = _headers(headers)
        conversation = item.get("conversationId")
        list_id = _lower(message_id(head.get("list-id")))
        return {
            "message_key": key,
            "mailbox_owner": self.owner,
            "source": self.source,
            "source_file": self.owner,
            "source_position": ident,
            "message_id": mid,
            "sent_at": sent_at,
            "from_address": from_address,
            "from_name": from_name,
            "recipients": list(merged.values()),
            "bad_address_count": bad,
            "in_reply_to": message_id(head.get("in-reply-to")),
            "references": references(head.get("references")),
            "is_reply": is_reply,
            "is_forward": is_forward,
            "subject_hash": hashed,
            "thread_id": conversation if isinstance(conversation, str) else None,
            "labels": None,
            "folder": folder,
            "list_id": list_id,
            "has_list_unsubscribe": bool(head.get("list-unsubscribe")),
            "precedence": _lower(head.get("precedence")),
            "auto_submitted": _lower(head.get("auto-submitted")),
            # sentDateTime is UTC: the sender's zone is known only when the Date header was asked for
            "utc_offset_minutes": utc_offset_minutes(head.get("date")),
            "subject_digest": digest,
            "non_person_addresses": self.normaliser.non_person_addresses([from_address, *merged], list_id),
        }

    # -- events ------------------------------------------------------------------------------------------------
    def event(self, item: Any) -> Mapped:
        if isinstance(item, dict):
            for name in BODY_FIELDS:
                item.pop(name, None)
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            return self._malformed("event", item)
        ident = item["id"]
        if "@removed" in item:
            return Removed(ident)
        if item.get("type") == "seriesMaster":
            return Skipped(ident, "series master (its occurrences are stored)")

        def reject(reason: str, detail: str) -> Reject:
            excerpt = self._excerpt(
                item,
                ("id", "iCalUId", "type", "start", "end", "isCancelled", "seriesMasterId"),
                ("organizer",),
            )
            return self._reject("event", ident, reason, detail, excerpt)

        start_field, end_field = item.get("start"), item.get("end")
        start_raw = start_field.get("dateTime") if isinstance(start_field, dict) else None
        if not start_raw:
            return reject("missing_start", "no start.dateTime")
        start_at = _zoned(start_field)
        if start_at is None:
            return reject("unparseable_date", "start is not a readable date-time")
        end_at = _zoned(end_field) if isinstance(end_field, dict) and end_field.get("dateTime") else start_at
        if end_at is None:
            return reject("unparseable_date", "end is not a readable date-time")
        if not self.ctx.plausibility.accepts(start_at):
            return reject("implausible_date", f"starts {start_at.isoformat()}, outside the plausible range")
        if end_at < start_at:  # as the .ics importer does: a negative duration is not a meeting to count
            detail = f"ends {end_at.isoformat()}, before it starts {start_at.isoformat()}"
            return reject(REASON_END_BEFORE_START, detail)

        attendees: dict[str, dict[str, Any]] = {}
        named = 0
        for entry in item.get("attendees") or []:
            address, shown, here = self._address(entry)
            named += here
            if address is None or address in attendees:
                continue
            status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
            response = str(status.get("response") or "none").lower()
            role = str(entry.get("type") or "required").lower()
            attendees[address] = {
                "address": address,
                "name": shown,
                "response": _RESPONSES.get(response, "needs_action"),
                "role": _ROLES.get(role, "req_participant"),
                "is_resource": role == "resource",
            }
        organizer, organizer_name, organizer_named = self._address(item.get("organizer"))
        if (named or organizer_named) and not attendees and organizer is None:
            return reject("no_valid_address", "participants named, none with a usable address")

        uid = item.get("iCalUId") if isinstance(item.get("iCalUId"), str) and item.get("iCalUId") else None
        kind = item.get("type")
        recurrence = None
        if kind in ("occurrence", "exception"):
            original = parse_time(item.get("originalStart")) or start_at
            recurrence = utc_iso(original)
        location = item.get("location")
        online_provider = item.get("onlineMeetingProvider")
        subject = item.get("subject")
        shown = item.get("showAs")
        show_as = shown.lower() if isinstance(shown, str) and shown else None
        if item.get("isCancelled") is True:
            status_text = "cancelled"
        elif show_as == "tentative":
            status_text = "tentative"
        else:
            status_text = "confirmed"
        series = item.get("seriesMasterId")
        return {
            "event_key": uid or f"graph:{ident}",
            "calendar_owner": self.owner,
            "source": self.source,
            "source_file": self.owner,
            "source_position": ident,
            "uid": uid,
            "recurrence_id": recurrence,
            "start_at": start_at,
            "end_at": end_at,
            "is_all_day": item.get("isAllDay") is True,
            "timezone": item.get("originalStartTimeZone")
            if isinstance(item.get("originalStartTimeZone"), str)
            else None,
            "status": status_text,
            "organizer_address": organizer,
            "organizer_name": organizer_name,
            "attendees": list(attendees.values()),
            "non_person_addresses": self.normaliser.non_person_addresses(
                [a for a in (organizer, *attendees) if a is not None], None
            ),
            "location": (location.get("displayName") or None) if isinstance(location, dict) else None,
            "is_online": item.get("isOnlineMeeting") is True
            or (isinstance(online_provider, str) and online_provider.lower() not in ("", "unknown")),
            "title_hash": title_hash(self.ctx.subject_key, subject)
            if self.ctx.subject_key is not None and isinstance(subject, str) and subject
            else None,
            "series_id": series if isinstance(series, str) else None,
            "updated_at": parse_time(item.get("lastModifiedDateTime")),
            "sequence": None,
            "show_as": show_as,
        }


def _zoned(field: Any) -> dt.datetime | None:
    """A Graph ``dateTimeTimeZone`` in UTC (the client asks for UTC; other IANA zones are converted)."""
    if not isinstance(field, dict):
        return None
    when = parse_time(field.get("dateTime"))
    if when is None:
        return None
    zone = field.get("timeZone")
    if isinstance(zone, str) and zone and zone.upper() not in ("UTC", "Z", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        try:
            from zoneinfo import ZoneInfo

            local = when.replace(tzinfo=None).replace(tzinfo=ZoneInfo(zone))
            return local.astimezone(dt.UTC)
        except (ValueError, KeyError, OSError):
            return when
    return when


def _headers(values: list[dict[str, Any]] | None) -> dict[str, str]:
    """``internetMessageHeaders`` as lower-cased name -> first value."""
    found: dict[str, str] = {}
    for entry in values or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("value"), str):
            found.setdefault(entry["name"].strip().lower(), entry["value"].strip())
    return found


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None
