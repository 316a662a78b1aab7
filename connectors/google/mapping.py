"""Google payloads -> raw rows (``raw.gmail_messages``, ``raw.gcal_events``) or quarantine records.

Gmail: the metadata headers are handed to the mail importer's ``MessageParser`` (``connectors.mail.records``), so
a message read through the API gets exactly the ``message_key``, addresses, reply/forward flags and automation
fields it gets from a Takeout mbox of the same mailbox, and the two sightings fold into one message in staging.
Only the Gmail-specific columns differ: ``source_position`` is the Gmail message id, ``thread_id`` the threadId,
``labels`` the labelIds. A missing or unreadable Date header falls back to ``internalDate`` (Gmail's own receipt
time); the Subject is read only to tell replies and forwards (and for the optional HMAC) and never stored.

Calendar: one row per event (``singleEvents=True`` expands series into instances). ``event_key`` is the iCalUID,
or ``iCalUID|<original start in UTC>`` for an instance, the same key the .ics importer gives an occurrence.
``description`` is never requested; the title (``summary``) only when a title HMAC is wanted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..base import ImportContext, Reject, StatusChange
from ..calendar_ics import (
    _ONLINE_LOCATION,
    _ONLINE_URL,
    REASON_END_BEFORE_START,
    STATUSES,
    occurrence_key,
    title_hash,
    utc_iso,
)
from ..mail.dates import parse_date
from ..mail.records import COLUMNS, MessageParser, Row
from ..raw_schemas import CALENDAR_EVENTS

GMAIL_TABLE = "raw.gmail_messages"
GCAL_TABLE = "raw.gcal_events"

METADATA_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "Precedence",
    "Auto-Submitted",
)
SKIPPED_LABELS = frozenset({"SPAM", "TRASH", "DRAFT"})
"""Messages carrying one of these are not communication (yet): not stored."""

_POSITION = COLUMNS.index("source_position")
_THREAD = COLUMNS.index("thread_id")
_LABELS = COLUMNS.index("labels")
_FOLDER = COLUMNS.index("folder")
_OFFSET = COLUMNS.index("utc_offset_minutes")
_UTC = dt.UTC


def _excerpt(payload: Any) -> str:
    """Structure of a payload for the quarantine: its keys and header names, never values."""
    if not isinstance(payload, dict):
        return f"({type(payload).__name__}) {str(payload)[:80]}"
    names = [h.get("name") for h in (payload.get("payload") or {}).get("headers") or [] if isinstance(h, dict)]
    return json.dumps({"keys": sorted(payload), "headers": names})[:500]


class GmailMapper:
    """Maps ``messages.get(format=metadata)`` payloads of one mailbox to rows."""

    def __init__(self, ctx: ImportContext, *, owner: str, window_start: dt.datetime | None = None) -> None:
        self.owner = owner
        self.window_start = window_start
        self.parser = MessageParser(ctx, owner=owner, source="gmail", source_file=owner)

    def reject(self, position: str, reason: str, detail: str, payload: Any = None) -> Reject:
        return Reject(
            kind="message",
            source="gmail",
            source_file=self.owner,
            position=position,
            reason=reason,
            detail=detail,
            excerpt=_excerpt(payload) if payload is not None else "",
        )

    @staticmethod
    def internal_date(payload: dict[str, Any]) -> dt.datetime | None:
        try:
            return dt.datetime.fromtimestamp(int(payload["internalDate"]) / 1000, tz=_UTC)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            return None

    def map(self, payload: Any) -> Row | Reject | None:
        """A row, a quarantine record, or None for a message that is not stored (draft, spam, outside window)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            return self.reject("?", "malformed_payload", "message without an id", payload)
        gmail_id = payload["id"]
        labels = payload.get("labelIds") or []
        headers = (payload.get("payload") or {}).get("headers") if isinstance(payload.get("payload"), dict) else None
        if not isinstance(labels, list) or not isinstance(headers, list):
            return self.reject(gmail_id, "malformed_payload", "labelIds or payload.headers missing", payload)
        if SKIPPED_LABELS.intersection(labels):
            return None
        received = self.internal_date(payload)
        if self.window_start is not None and received is not None and received < self.window_start:
            return None
        lines = []
        date_value: str | None = None
        for header in headers:
            if not isinstance(header, dict):
                continue
            name, value = header.get("name"), header.get("value")
            if not isinstance(name, str) or not isinstance(value, str) or ":" in name:
                continue
            value = " ".join(value.split())
            if name.lower() == "date":
                date_value = value if date_value is None else date_value
                continue
            lines.append(f"{name}: {value}")
        from_received = parse_date(date_value)[0] is None and received is not None
        if from_received and received is not None:
            date_value = received.strftime("%a, %d %b %Y %H:%M:%S +0000")
        if date_value is not None:
            lines.append(f"Date: {date_value}")
        result = self.parser.parse(gmail_id, "\n".join(lines).encode("utf-8"))
        if isinstance(result, Reject):
            return result
        row = list(result)
        row[_POSITION] = gmail_id
        thread = payload.get("threadId")
        row[_THREAD] = thread if isinstance(thread, str) else None
        row[_LABELS] = [str(label) for label in labels] or None
        row[_FOLDER] = None
        if from_received:
            row[_OFFSET] = None  # Gmail's receipt time says nothing of the sender's zone
        return tuple(row)


# ---------------------------------------------------------------------------------------------- calendar

EVENT_FIELDS = (
    "id,status,iCalUID,recurringEventId,originalStartTime,start,end,organizer(email,displayName),"
    "attendees(email,displayName,responseStatus,optional,organizer,resource,self),hangoutLink,"
    "conferenceData(conferenceId,entryPoints(entryPointType)),location,updated,sequence,eventType"
)
RESPONSES = {"needsAction": "needs_action", "accepted": "accepted", "declined": "declined", "tentative": "tentative"}


def parse_when(value: Any) -> tuple[dt.datetime | None, bool, str | None, str | None]:
    """(UTC instant, is all-day, time zone, problem) of an event's ``start``/``end``/``originalStartTime``."""
    if not isinstance(value, dict):
        return None, False, None, "missing"
    zone = value.get("timeZone") if isinstance(value.get("timeZone"), str) else None
    if isinstance(value.get("dateTime"), str):
        try:
            when = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        except ValueError:
            return None, False, zone, "unparseable"
        if when.tzinfo is None:
            when = when.replace(tzinfo=_UTC)
        return when.astimezone(_UTC), False, zone, None
    if isinstance(value.get("date"), str):
        try:
            day = dt.date.fromisoformat(value["date"])
        except ValueError:
            return None, True, None, "unparseable"
        return dt.datetime(day.year, day.month, day.day, tzinfo=_UTC), True, None, None
    return None, False, zone, "missing"


class EventMapper:
    """Maps ``events.list`` items of one calendar to ``raw.gcal_events`` rows."""

    def __init__(self, ctx: ImportContext, *, owner: str, calendar_id: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self.calendar_id = calendar_id
        self.normaliser = ctx.normaliser()

    def reject(self, position: str, reason: str, detail: str, payload: Any) -> Reject:
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        return Reject(
            kind="event",
            source="gcal",
            source_file=f"{self.owner}/{self.calendar_id}",
            position=position,
            reason=reason,
            detail=detail,
            excerpt=json.dumps({"keys": keys})[:500],
        )

    def _person(self, value: Any) -> tuple[str | None, str | None]:
        if not isinstance(value, dict) or not isinstance(value.get("email"), str):
            return None, None
        address = self.normaliser.normalise(value["email"])
        name = value.get("displayName") if isinstance(value.get("displayName"), str) else None
        return address, (None if self.normaliser.pseudonymised else name)

    def map(self, item: Any, calendar_zone: str | None = None) -> dict[str, Any] | Reject | StatusChange:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return self.reject("?", "malformed_payload", "event without an id", item)
        event_id = item["id"]
        status = item.get("status") if item.get("status") in STATUSES else "confirmed"
        start, all_day, zone, problem = parse_when(item.get("start"))
        uid = item.get("iCalUID") if isinstance(item.get("iCalUID"), str) else None
        if status == "cancelled" and (start is None or uid is None):
            # A deleted event: Google guarantees only its id. Mark what we stored.
            return StatusChange(GCAL_TABLE, self.owner, event_id, "cancelled")
        if start is None:
            reason = "missing_start" if problem == "missing" else "unparseable_date"
            return self.reject(event_id, reason, f"start is {problem}", item)
        if not self.ctx.plausibility.accepts(start):
            return self.reject(event_id, "implausible_date", f"start {start.isoformat()} is implausible", item)
        end, _, _, _ = parse_when(item.get("end"))
        if end is None:
            end = start + dt.timedelta(days=1) if all_day else start
        if end < start:  # as the .ics importer does: a negative duration is not a meeting to count
            detail = f"ends {end.isoformat()}, before it starts {start.isoformat()}"
            return self.reject(event_id, REASON_END_BEFORE_START, detail, item)
        uid = uid or event_id
        recurrence_id = None
        if isinstance(item.get("recurringEventId"), str) and item.get("originalStartTime") is not None:
            original, _, _, _ = parse_when(item.get("originalStartTime"))
            recurrence_id = utc_iso(original) if original is not None else None
        organizer_address, organizer_name = self._person(item.get("organizer"))
        attendees: dict[str, dict[str, Any]] = {}
        named = 0
        for attendee in item.get("attendees") or []:
            if not isinstance(attendee, dict):
                continue
            named += 1
            address, name = self._person(attendee)
            if address is None or address in attendees:
                continue
            attendees[address] = {
                "address": address,
                "name": name,
                "response": RESPONSES.get(str(attendee.get("responseStatus")), "needs_action"),
                "role": "opt_participant" if attendee.get("optional") else "req_participant",
                "is_resource": bool(attendee.get("resource")),
            }
        if named and not attendees and organizer_address is None:
            return self.reject(event_id, "no_valid_address", f"{named} attendees, none usable", item)
        location = item.get("location") if isinstance(item.get("location"), str) else None
        conference = item.get("conferenceData")
        is_online = (
            bool(item.get("hangoutLink"))
            or bool(conference)
            or bool(location and (_ONLINE_LOCATION.search(location) or _ONLINE_URL.search(location)))
        )
        title = item.get("summary")
        updated, _, _, _ = parse_when({"dateTime": item["updated"]} if isinstance(item.get("updated"), str) else None)
        sequence = item.get("sequence")
        return {
            "event_key": occurrence_key(uid, recurrence_id) if recurrence_id else uid,
            "calendar_owner": self.owner,
            "source": "gcal",
            "source_file": f"{self.owner}/{self.calendar_id}",
            "source_position": event_id,
            "uid": uid,
            "recurrence_id": recurrence_id,
            "start_at": start,
            "end_at": end,
            "is_all_day": all_day,
            "timezone": None if all_day else (zone or calendar_zone),
            "status": status,
            "organizer_address": organizer_address,
            "organizer_name": organizer_name,
            "attendees": list(attendees.values()) or None,
            "non_person_addresses": self.normaliser.non_person_addresses(
                [a for a in (organizer_address, *attendees) if a is not None], None
            ),
            "location": location,
            "is_online": is_online,
            "title_hash": (
                title_hash(self.ctx.subject_key, title)
                if self.ctx.subject_key is not None and isinstance(title, str)
                else None
            ),
            "series_id": uid if recurrence_id else None,
            "updated_at": updated,
            "sequence": sequence if isinstance(sequence, int) else None,
        }


EVENT_COLUMNS = tuple(CALENDAR_EVENTS.names)
