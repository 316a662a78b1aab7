"""Write messages as mbox files and meetings as iCalendar files, byte for byte reproducible."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from email.utils import format_datetime
from pathlib import Path

import icalendar

from tiepulse.sample.headers import address_header
from tiepulse.sample.model import Attendance, Meeting, Message, Person

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PRODID = "-//tiepulse//sample organisation//EN"


def asctime(when: dt.datetime) -> str:
    """The mbox separator's date (ctime style, UTC), independent of the locale."""
    u = when.astimezone(dt.UTC)
    return f"{_DAYS[u.weekday()]} {_MONTHS[u.month - 1]} {u.day:2d} {u:%H:%M:%S} {u.year}"


def _addresses(entries: list[tuple[Person, str]]) -> str:
    return ",\n ".join(address_header(p.name, address) for p, address in entries)


def _references(msg: Message) -> list[str]:
    chain: list[str] = []
    parent = msg.parent
    while parent is not None and len(chain) < 10:
        chain.append(parent.message_id)
        parent = parent.parent
    chain.reverse()
    return chain


def render_message(msg: Message, *, with_bcc: bool) -> bytes:
    """One mbox entry: separator line, headers, one body line, and the blank line that ends it."""
    lines = [f"From {msg.from_address} {asctime(msg.when)}", f"Message-ID: {msg.message_id}"]
    if msg.date_header is not None:
        lines.append(f"Date: {msg.date_header}")
    elif not msg.omit_date:
        lines.append(f"Date: {format_datetime(msg.when)}")
    lines.append(f"From: {msg.from_header}")
    if msg.to:
        lines.append(f"To: {_addresses(msg.to)}")
    if msg.cc:
        lines.append(f"Cc: {_addresses(msg.cc)}")
    if msg.bcc and with_bcc:
        lines.append(f"Bcc: {_addresses(msg.bcc)}")
    lines.append(f"Subject: {msg.subject}")
    if msg.parent is not None:
        lines.append(f"In-Reply-To: {msg.parent.message_id}")
        lines.append("References: " + "\n ".join(_references(msg)))
    lines.extend(f"{name}: {value}" for name, value in msg.extra_headers)
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
    ]
    lines += ["", msg.body, "", ""]
    return "\n".join(lines).encode("utf-8")


def mailbox_copies(msg: Message) -> list[tuple[Person, bool]]:
    """Whose mbox holds the message: (owner, sees the Bcc line). The sender's copy is the Sent one."""
    if msg.mailboxes_only is not None:
        return [(p, False) for p in msg.mailboxes_only]
    seen: set[int] = set()
    copies: list[tuple[Person, bool]] = []
    if msg.sender is not None and msg.sender.internal:
        copies.append((msg.sender, True))
        seen.add(msg.sender.idx)
    for person, _address in msg.recipients:
        if person.internal and person.idx not in seen:
            copies.append((person, False))
            seen.add(person.idx)
    return copies


def write_mboxes(
    directory: Path,
    people: list[Person],
    messages: list[Message],
    tick: Callable[[], None],
) -> dict[str, int]:
    """Write ``<local>.mbox`` for every internal person; return the number of messages in each."""
    directory.mkdir(parents=True, exist_ok=True)
    boxes: dict[int, list[bytes]] = {p.idx: [] for p in people}
    for msg in messages:
        plain: bytes | None = None
        for owner, with_bcc in mailbox_copies(msg):
            if with_bcc and msg.bcc:
                boxes[owner.idx].append(render_message(msg, with_bcc=True))
            else:
                plain = plain or render_message(msg, with_bcc=False)
                boxes[owner.idx].append(plain)
    counts: dict[str, int] = {}
    for person in people:
        (directory / f"{person.local}.mbox").write_bytes(b"".join(boxes[person.idx]))
        counts[person.local] = len(boxes[person.idx])
        tick()
    return counts


# --- iCalendar ----------------------------------------------------------------------------------------------


def _cal_address(person: Person, address: str, **params: str) -> icalendar.vCalAddress:
    value = icalendar.vCalAddress(f"mailto:{address}")
    value.params["CN"] = person.name
    for key, param in params.items():
        value.params[key.replace("_", "-").upper()] = param
    return value


def _event(
    meeting: Meeting,
    stamp: dt.datetime,
    *,
    start: dt.datetime | dt.date,
    end: dt.datetime | dt.date,
    recurrence_id: dt.datetime | None = None,
    status: str | None = None,
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", meeting.uid)
    event.add("dtstamp", stamp)
    if recurrence_id is not None:
        event.add("recurrence-id", recurrence_id)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", meeting.title)
    event.add("organizer", _cal_address(meeting.organizer, meeting.organizer.email))
    for attendance in meeting.attendees:
        event.add("attendee", _attendee(attendance, organizer=attendance.person is meeting.organizer))
    if meeting.room is not None:
        name, address = meeting.room
        room = icalendar.vCalAddress(f"mailto:{address}")
        room.params.update({"CN": name, "CUTYPE": "ROOM", "ROLE": "NON-PARTICIPANT", "PARTSTAT": "ACCEPTED"})
        event.add("attendee", room)
    if meeting.location:
        event.add("location", meeting.location)
    if meeting.conference:
        event.add("x-google-conference", meeting.conference)
    event.add("status", status or meeting.status)
    event.add("sequence", 1 if recurrence_id is not None else 0)
    if meeting.all_day:
        event.add("transp", "TRANSPARENT")
    if recurrence_id is None and meeting.weekly_interval:
        rule: dict[str, object] = {"freq": "weekly"}
        if meeting.weekly_interval > 1:
            rule["interval"] = meeting.weekly_interval
        if meeting.byday:
            rule["byday"] = list(meeting.byday)
        if meeting.until is not None:
            rule["until"] = meeting.until
        event.add("rrule", rule)
        if meeting.exdates:
            event.add("exdate", meeting.exdates)
    return event


def _attendee(attendance: Attendance, *, organizer: bool) -> icalendar.vCalAddress:
    return _cal_address(
        attendance.person,
        attendance.address,
        cutype="INDIVIDUAL",
        role="CHAIR" if organizer else "REQ-PARTICIPANT",
        partstat=attendance.partstat,
    )


def render_meeting(meeting: Meeting, stamp: dt.datetime) -> bytes:
    """The VEVENT of the meeting (the series master) and one VEVENT per moved occurrence."""
    parts = [_event(meeting, stamp, start=meeting.start, end=meeting.end).to_ical()]
    for override in meeting.overrides:
        event = _event(
            meeting,
            stamp,
            start=override.start,
            end=override.end,
            recurrence_id=override.recurrence_id,
            status=override.status,
        )
        parts.append(event.to_ical())
    return b"".join(parts)


def _sort_key(meeting: Meeting) -> tuple[dt.datetime, str]:
    start = meeting.start
    if not isinstance(start, dt.datetime):
        start = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    return start.astimezone(dt.UTC), meeting.uid


def write_calendars(
    directory: Path,
    people: list[Person],
    meetings: list[Meeting],
    *,
    stamp: dt.datetime,
    tz_window: tuple[dt.date, dt.date],
    tick: Callable[[], None],
) -> dict[str, int]:
    """Write ``<local>.ics`` for every internal person who has meetings; return VEVENTs per file."""
    directory.mkdir(parents=True, exist_ok=True)
    per_person: dict[int, list[Meeting]] = {p.idx: [] for p in people}
    for meeting in sorted(meetings, key=_sort_key):
        for attendance in meeting.attendees:
            if attendance.person.internal:
                per_person[attendance.person.idx].append(meeting)
    rendered: dict[str, bytes] = {}
    zones: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for person in people:
        mine = per_person[person.idx]
        if not mine:
            tick()
            continue
        tzids = sorted({_tzid(m.start) for m in mine if isinstance(m.start, dt.datetime)})
        for tzid in tzids:
            if tzid not in zones:
                zone = icalendar.Timezone.from_tzid(tzid, first_date=tz_window[0], last_date=tz_window[1])
                zones[tzid] = zone.to_ical()
        body: list[bytes] = [zones[t] for t in tzids]
        n_events = 0
        for meeting in mine:
            if meeting.uid not in rendered:
                rendered[meeting.uid] = render_meeting(meeting, stamp)
            body.append(rendered[meeting.uid])
            n_events += 1 + len(meeting.overrides)
        (directory / f"{person.local}.ics").write_bytes(_calendar_bytes(person, body))
        counts[person.local] = n_events
        tick()
    return counts


def _tzid(when: dt.datetime) -> str:
    return str(getattr(when.tzinfo, "key", "UTC"))


CALENDAR_END = b"END:VCALENDAR\r\n"


def calendar_head(person: Person) -> bytes:
    """The calendar's properties, without events and without its closing line."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", person.email)
    cal.add("x-wr-timezone", person.tz)
    head = cal.to_ical()
    assert head.endswith(CALENDAR_END)
    return head[: -len(CALENDAR_END)]


def _calendar_bytes(person: Person, body: Iterable[bytes]) -> bytes:
    return calendar_head(person) + b"".join(body) + CALENDAR_END
