"""iCalendar (.ics) files: one ``raw.calendar_events`` row per event occurrence.

Parsing is ``icalendar``'s; recurrence expansion (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides,
X-WR-TIMEZONE) is ``recurring_ical_events``'. This module groups the file's VEVENTs by UID, checks each
component, expands the recurring groups inside ``ctx.calendar_window`` and maps every occurrence to a raw row.
Only metadata is kept: the title becomes an HMAC (when ``ctx.subject_key`` is set); DESCRIPTION is read only
to tell whether a meeting is online and is never stored.

Rules (see ``connectors/README.md``):

- Time: every instant is stored in UTC. A TZID is resolved by icalendar (IANA names, Windows names, or the
  file's VTIMEZONE); floating times and times with an unknown TZID are read as UTC; all-day events start at
  00:00 UTC of their date and end at DTEND (or DTSTART + DURATION, or the next day).
- Keys: a single event is ``UID``; an occurrence of a series (RRULE / RDATE, or any component with
  RECURRENCE-ID) is ``UID|<recurrence id in UTC, YYYY-MM-DDTHH:MM:SSZ>``, the recurrence id being the
  occurrence's original start, so a moved or cancelled override replaces the occurrence it overrides.
- Window: series are expanded inside ``ctx.calendar_window`` (occurrences overlapping it); single events are
  kept whatever the window (the file holds them), subject to ``ctx.plausibility`` like every occurrence.
- Participants: an event with no ORGANIZER and no ATTENDEE at all is kept (a block in the owner's own
  calendar); an event that names participants of which none has a usable address is quarantined as
  ``no_valid_address``.
- Paging: the cursor is ``"<group>:<offset>"``: the index of the next UID group in file order (groups are
  numbered by the first appearance of their UID) and how many of that group's occurrences (sorted by start,
  then key) were already emitted. Resuming from any cursor yields exactly what a full run yields after it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import icalendar
import recurring_ical_events
from icalendar import Component

from .addresses import PSEUDONYM_PREFIX, AddressNormaliser, decode_name
from .base import ImportContext, OwnerGuess, Page, Reject
from .raw_schemas import to_table

if TYPE_CHECKING:
    from .calendar_ahead import CalendarAhead

FORMAT = "ics"
SOURCE = "ics"
TABLE = "raw.calendar_events"

REASON_MISSING_START = "missing_start"
REASON_UNPARSEABLE_DATE = "unparseable_date"
REASON_IMPLAUSIBLE_DATE = "implausible_date"
REASON_NO_VALID_ADDRESS = "no_valid_address"
REASON_BAD_RECURRENCE = "bad_recurrence"
REASON_END_BEFORE_START = "end_before_start"
REASON_UNPARSEABLE_FILE = "unparseable_file"

STATUSES = frozenset({"confirmed", "tentative", "cancelled"})
RESOURCE_CUTYPES = frozenset({"RESOURCE", "ROOM"})
ONLINE_PROPERTIES = (
    "X-GOOGLE-CONFERENCE",
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-MICROSOFT-ONLINEMEETINGCONFLINK",
    "CONFERENCE",
)
ONLINE_HOSTS = (
    "teams.microsoft.com",
    "teams.live.com",
    "zoom.us",
    "zoomgov.com",
    "meet.google.com",
    "webex.com",
)
_ONLINE_URL = re.compile(
    r"https?://(?:[a-z0-9-]+\.)*(?:" + "|".join(re.escape(h) for h in ONLINE_HOSTS) + r")(?![a-z0-9-])",
    re.IGNORECASE,
)
_ONLINE_LOCATION = re.compile(r"\b(?:microsoft teams(?: meeting)?|zoom meeting|google meet|webex)\b", re.IGNORECASE)
MAX_OCCURRENCES_PER_SERIES = 5_000
"""A series with more occurrences inside the window (an hourly or per-minute rule) is quarantined."""
_MAILTO = re.compile(r"^\s*mailto:", re.IGNORECASE)
_SNIFF_BYTES = 256
_BOM = b"\xef\xbb\xbf"


def claims(path: Path) -> str | None:
    """``"ics"`` for a ``.ics`` file or a file whose content starts with ``BEGIN:VCALENDAR``; else None."""
    if not path.is_file():
        return None
    if path.suffix.lower() == ".ics":
        return FORMAT
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None
    head = head.removeprefix(_BOM).lstrip()
    return FORMAT if head[:15].upper() == b"BEGIN:VCALENDAR" else None


def occurrence_key(uid: str, recurrence_id: str) -> str:
    """The ``event_key`` of one occurrence of a series."""
    return f"{uid}|{recurrence_id}"


def utc_iso(when: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of an aware UTC datetime (the recurrence-id format of event keys)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_title(title: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the text the title HMAC is taken of."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def title_hash(key: bytes, title: str) -> str:
    return hmac.new(key, normalise_title(title).encode("utf-8"), hashlib.sha256).hexdigest()


def canonical_owner(owner: str, normaliser: AddressNormaliser) -> str:
    """The owner as stored: normalised when it is a raw address, untouched when already a pseudonym."""
    text = owner.strip()
    if not text or (normaliser.pseudonymised and text.lower().startswith(PSEUDONYM_PREFIX)):
        return text
    return normaliser.normalise(text) or text.lower()


def to_utc(value: dt.date) -> dt.datetime:
    """A DTSTART-like value as an aware UTC datetime (dates at 00:00 UTC, floating times read as UTC)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# ------------------------------------------------------------------------------------------ parsing the file


@dataclass(slots=True)
class _Component:
    index: int
    """Position of the VEVENT in the file (0-based); ``source_position`` is ``vevent#<index>``."""
    event: Component
    calendar: icalendar.Calendar

    @property
    def position(self) -> str:
        return f"vevent#{self.index}"


@dataclass(slots=True)
class _Group:
    uid: str
    components: list[_Component] = field(default_factory=list)


@dataclass(slots=True)
class _Parsed:
    calendars: list[icalendar.Calendar]
    groups: list[_Group]
    error: str | None = None


_LAST_PARSED: dict[tuple[str, int, int], _Parsed] = {}
"""The file ``infer_owner`` parsed, kept for the ``pages`` call that follows (one entry, taken by it)."""


def _fingerprint(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _parse(path: Path) -> _Parsed:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Parsed([], [], error=f"cannot read: {exc.strerror or exc}")
    data = data.removeprefix(_BOM)
    if not data.strip():
        return _Parsed([], [])
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # icalendar raises ValueError and friends on garbled content
        # The message quotes the offending line, which may be a title: keep only the kind of error.
        return _Parsed([], [], error=f"icalendar cannot parse the file ({type(exc).__name__})")
    if not calendars:
        return _Parsed([], [], error="no complete VCALENDAR (BEGIN/END) found")
    groups: dict[str, _Group] = {}
    index = 0
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            component = _Component(index, event, calendar)
            index += 1
            uid = _text(event.get("UID")) or f"nouid:{_synthetic_uid(event)}"
            groups.setdefault(uid, _Group(uid)).components.append(component)
    return _Parsed(list(calendars), list(groups.values()))


def _synthetic_uid(event: Component) -> str:
    """A stable stand-in for a missing UID, from what identifies the event (never its title)."""
    parts: list[str] = []
    for name in ("DTSTART", "DTEND", "DURATION", "ORGANIZER", "RRULE"):
        value = event.get(name)
        parts.append("" if value is None else _ical_text(value))
    parts.extend(sorted(_ical_text(a) for a in _as_list(event.get("ATTENDEE"))))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _ical_text(value: Any) -> str:
    try:
        raw = value.to_ical()
    except Exception:
        return str(value)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _when(event: Component, name: str) -> dt.date | None:
    """The date or datetime of a DTSTART-like property; None when absent or not a point in time."""
    value: Any = event.get(name)
    when = getattr(value, "dt", None)
    return when if isinstance(when, dt.date) else None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------- checking components


def _broken(event: Component, name: str) -> str | None:
    """The parse error of property ``name`` when icalendar could not read it, else None."""
    values = _as_list(event.get(name))
    for value in values:
        if isinstance(value, icalendar.vBroken):
            return f"{name}: {_ical_text(value)!r}"
    for prop, message in getattr(event, "errors", []) or []:
        if prop == name:
            return f"{name}: {message}"
    return None


def _check(component: _Component, normaliser: AddressNormaliser, source_file: str) -> Reject | None:
    """Why a component cannot be used (before expansion), or None."""
    event = component.event

    def reject(reason: str, detail: str) -> Reject:
        return Reject("event", SOURCE, source_file, component.position, reason, detail, _excerpt(event))

    if event.get("DTSTART") is None:
        return reject(REASON_MISSING_START, "VEVENT without DTSTART")
    for name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
        problem = _broken(event, name)
        if problem:
            return reject(REASON_UNPARSEABLE_DATE, problem)
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        if event.get(name) is not None and _when(event, name) is None:
            return reject(REASON_UNPARSEABLE_DATE, f"{name}: not a date or date-time")
    start = _when(event, "DTSTART")
    if start is not None and (end := _end(event, start)) < to_utc(start):
        return reject(REASON_END_BEFORE_START, f"ends {end.isoformat()}, before it starts {to_utc(start).isoformat()}")
    for name in ("RRULE", "RDATE", "EXDATE"):
        problem = _broken(event, name)
        if problem:
            return reject(REASON_BAD_RECURRENCE, problem)
    organizer = event.get("ORGANIZER")
    attendees = _as_list(event.get("ATTENDEE"))
    if organizer is None and not attendees:
        return None  # the owner's own block: kept
    if _address(organizer, normaliser) is None and all(_address(a, normaliser) is None for a in attendees):
        return reject(REASON_NO_VALID_ADDRESS, "no organizer or attendee with a usable address")
    return None


def _excerpt(event: Component) -> str:
    """The identifying lines of a component (never SUMMARY, DESCRIPTION or LOCATION)."""
    keep = ("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE", "STATUS")
    lines = []
    for name in keep:
        for value in _as_list(event.get(name)):
            lines.append(f"{name}:{_ical_text(value)}")
    return "\n".join(lines)


def _address(value: Any, normaliser: AddressNormaliser) -> str | None:
    if value is None:
        return None
    text = _MAILTO.sub("", str(value)).strip()
    return normaliser.normalise(text) if text else None


def _name(value: Any, normaliser: AddressNormaliser) -> str | None:
    if normaliser.pseudonymised or value is None:
        return None
    cn = getattr(value, "params", {}).get("CN")
    return decode_name(str(cn)) if cn else None


# --------------------------------------------------------------------------------------- occurrences -> rows


@dataclass(slots=True)
class _Occurrences:
    rows: list[dict[str, Any]]
    rejects: list[Reject]


def _rank(component: _Component) -> tuple[int, dt.datetime, int]:
    """Which copy of a component wins: higher SEQUENCE, newer LAST-MODIFIED, later in the file."""
    return (
        _sequence(component.event) or 0,
        _updated(component.event) or dt.datetime.min.replace(tzinfo=dt.UTC),
        component.index,
    )


def _is_series(group: list[_Component]) -> bool:
    return any(
        c.event.get("RRULE") is not None or c.event.get("RDATE") is not None or c.event.get("RECURRENCE-ID") is not None
        for c in group
    )


def _recurrence_key(component: _Component) -> str | None:
    value = _when(component.event, "RECURRENCE-ID")
    return None if value is None else utc_iso(to_utc(value))


def _deduplicate(components: list[_Component]) -> list[_Component]:
    """One master and one override per recurrence id (copies of an event in one file: the newest wins)."""
    best: dict[str | None, _Component] = {}
    for component in components:
        key = _recurrence_key(component)
        current = best.get(key)
        if current is None or _rank(component) > _rank(current):
            best[key] = component
    return sorted(best.values(), key=lambda c: c.index)


class _Mapper:
    """Maps one group of components to rows and rejects."""

    def __init__(self, owner: str, ctx: ImportContext, source_file: str) -> None:
        self.owner = owner
        self.ctx = ctx
        self.source_file = source_file
        self.normaliser = ctx.normaliser()
        self._statics: dict[int, dict[str, Any]] = {}

    def group(self, group: _Group) -> _Occurrences:
        rejects: list[Reject] = []
        usable: list[_Component] = []
        for component in group.components:
            problem = _check(component, self.normaliser, self.source_file)
            if problem is None:
                usable.append(component)
            else:
                rejects.append(problem)
        usable = _deduplicate(usable)
        if not usable:
            return _Occurrences([], rejects)
        rows: list[dict[str, Any]] = []
        if not _is_series(usable):
            component = usable[0]
            self._emit(component, component.event, group.uid, None, rows, rejects)
        else:
            self._expand(group.uid, usable, rows, rejects)
        rows.sort(key=lambda r: (r["start_at"], r["event_key"]))
        return _Occurrences(rows, rejects)

    def _expand(
        self, uid: str, components: list[_Component], rows: list[dict[str, Any]], rejects: list[Reject]
    ) -> None:
        master = next((c for c in components if c.event.get("RECURRENCE-ID") is None), components[0])
        calendar = icalendar.Calendar()
        for name in ("X-WR-TIMEZONE", "CALSCALE", "METHOD"):
            if master.calendar.get(name) is not None:
                calendar[name] = master.calendar[name]
        for component in components:
            calendar.add_component(component.event)
        by_recurrence = {_recurrence_key(c): c for c in components if c.event.get("RECURRENCE-ID") is not None}
        # An override with RANGE=THISANDFUTURE moves every later occurrence by its own move; the library gives
        # those occurrences the override's RECURRENCE-ID, so their own is their start less that move.
        moves = {
            key: adapter.move_recurrences_by
            for key, c in by_recurrence.items()
            if (adapter := recurring_ical_events.EventAdapter(c.event)).this_and_future
        }
        try:
            occurrences = self._occurrences(calendar, master)
        except Exception as exc:  # the library raises its own errors, ValueError or worse on odd rules
            rejects.append(
                Reject(
                    "event",
                    SOURCE,
                    self.source_file,
                    master.position,
                    REASON_BAD_RECURRENCE,
                    f"{type(exc).__name__}: {exc}"[:300],
                    _excerpt(master.event),
                )
            )
            return
        seen: set[str] = set()
        for occurrence in occurrences:
            start = _when(occurrence, "DTSTART")
            declared = _when(occurrence, "RECURRENCE-ID") or start
            if start is None or declared is None:
                continue
            origin_key = utc_iso(to_utc(declared))
            move = moves.get(origin_key)
            recurrence_id = origin_key if move is None else utc_iso(to_utc(start - move))
            if recurrence_id in seen:
                continue
            seen.add(recurrence_id)
            origin = by_recurrence.get(origin_key, master)
            self._emit(origin, occurrence, uid, recurrence_id, rows, rejects)

    def _occurrences(self, calendar: icalendar.Calendar, master: _Component) -> list[Component]:
        """Occurrences overlapping the window; a rule that would flood it is an error, not a meeting."""
        rule = master.event.get("RRULE")
        if rule is not None:
            rules = rule if isinstance(rule, list) else [rule]
            for item in rules:
                freq = str(_first(item.get("FREQ"))).upper()
                bounded = item.get("COUNT") is not None or item.get("UNTIL") is not None
                if freq in ("SECONDLY", "MINUTELY") or (freq == "HOURLY" and not bounded):
                    raise ValueError(f"FREQ={freq} rule: too frequent to be a meeting series")
        start, end = self.ctx.calendar_window
        found: list[Component] = recurring_ical_events.of(calendar).between(start, end)
        if len(found) > MAX_OCCURRENCES_PER_SERIES:
            raise ValueError(f"more than {MAX_OCCURRENCES_PER_SERIES} occurrences inside the import window")
        return found

    def _emit(
        self,
        origin: _Component,
        event: Component,
        uid: str,
        recurrence_id: str | None,
        rows: list[dict[str, Any]],
        rejects: list[Reject],
    ) -> None:
        row = self._row(origin, event, uid, recurrence_id)
        if not self.ctx.plausibility.accepts(row["start_at"]):
            position = origin.position if recurrence_id is None else f"{origin.position}@{recurrence_id}"
            rejects.append(
                Reject(
                    "event",
                    SOURCE,
                    self.source_file,
                    position,
                    REASON_IMPLAUSIBLE_DATE,
                    f"start {row['start_at'].isoformat()} outside the plausible range",
                    _excerpt(origin.event),
                )
            )
            return
        rows.append(row)

    def _row(self, origin: _Component, event: Component, uid: str, recurrence_id: str | None) -> dict[str, Any]:
        start_value = _when(event, "DTSTART")
        if start_value is None:  # checked before expansion; the library always sets it
            raise ValueError(f"{origin.position}: occurrence without DTSTART")
        is_all_day = not isinstance(start_value, dt.datetime)
        return {
            "event_key": uid if recurrence_id is None else occurrence_key(uid, recurrence_id),
            "calendar_owner": self.owner,
            "source": SOURCE,
            "source_file": self.source_file,
            "source_position": origin.position,
            "uid": uid,
            "recurrence_id": recurrence_id,
            "start_at": to_utc(start_value),
            "end_at": _end(event, start_value),
            "is_all_day": is_all_day,
            "timezone": None if is_all_day else _timezone(origin.event, start_value),
            "series_id": None if recurrence_id is None else uid,
            **self._static(origin),
        }

    def _static(self, origin: _Component) -> dict[str, Any]:
        """What every occurrence of a component shares (an occurrence is a copy with other times)."""
        cached = self._statics.get(origin.index)
        if cached is not None:
            return cached
        event, normaliser = origin.event, self.normaliser
        organizer = event.get("ORGANIZER")
        attendees: dict[str, dict[str, Any]] = {}
        for attendee in _as_list(event.get("ATTENDEE")):
            address = _address(attendee, normaliser)
            if address is None or address in attendees:
                continue
            params = getattr(attendee, "params", {})
            attendees[address] = {
                "address": address,
                "name": _name(attendee, normaliser),
                "response": _lower(params.get("PARTSTAT")),
                "role": _lower(params.get("ROLE")),
                "is_resource": str(params.get("CUTYPE", "")).upper() in RESOURCE_CUTYPES,
            }
        summary = _text(event.get("SUMMARY"))
        key = self.ctx.subject_key
        organizer_address = _address(organizer, normaliser)
        static = {
            "status": _status(event, origin.calendar),
            "organizer_address": organizer_address,
            "organizer_name": _name(organizer, normaliser),
            "attendees": list(attendees.values()),
            "non_person_addresses": normaliser.non_person_addresses(
                [a for a in (organizer_address, *attendees) if a is not None], None
            ),
            "location": _text(event.get("LOCATION")),
            "is_online": _is_online(event),
            "title_hash": title_hash(key, summary) if key is not None and summary else None,
            "updated_at": _updated(event),
            "sequence": _sequence(event),
        }
        self._statics[origin.index] = static
        return static


def _end(event: Component, start_value: dt.date) -> dt.datetime:
    end = _when(event, "DTEND")
    if end is not None:
        return to_utc(end)
    duration = getattr(event.get("DURATION"), "dt", None)
    if isinstance(duration, dt.timedelta):
        return to_utc(start_value) + duration
    if not isinstance(start_value, dt.datetime):
        return to_utc(start_value) + dt.timedelta(days=1)
    return to_utc(start_value)


def _timezone(event: Component, start_value: dt.date) -> str | None:
    """TZID of the series' DTSTART as written, ``UTC`` for UTC times, None for floating times."""
    tzid = event["DTSTART"].params.get("TZID")
    if tzid:
        return str(tzid)
    if isinstance(start_value, dt.datetime) and start_value.tzinfo is not None:
        key = getattr(start_value.tzinfo, "key", None)
        return str(key) if key else "UTC" if start_value.utcoffset() == dt.timedelta(0) else None
    return None


def _status(event: Component, calendar: icalendar.Calendar) -> str:
    """STATUS lower-cased; a missing or unknown status is ``confirmed``; an iTIP CANCEL file cancels."""
    if str(calendar.get("METHOD", "")).strip().upper() == "CANCEL":
        return "cancelled"
    status = str(event.get("STATUS", "")).strip().lower()
    if status == "canceled":
        return "cancelled"
    return status if status in STATUSES else "confirmed"


def _lower(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.lower().replace("-", "_")


def _is_online(event: Component) -> bool:
    if any(event.get(name) is not None for name in ONLINE_PROPERTIES):
        return True
    location = _text(event.get("LOCATION")) or ""
    if _ONLINE_LOCATION.search(location):
        return True
    return any(_ONLINE_URL.search(_text(event.get(name)) or "") for name in ("LOCATION", "URL", "DESCRIPTION"))


def _updated(event: Component) -> dt.datetime | None:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = event.get(name)
        if value is None or isinstance(value, icalendar.vBroken):
            continue
        when = getattr(value, "dt", None)
        if isinstance(when, dt.date):
            return to_utc(when)
    return None


def _sequence(event: Component) -> int | None:
    value = event.get("SEQUENCE")
    if value is None or isinstance(value, icalendar.vBroken):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -(2**31) <= number < 2**31 else None


# ------------------------------------------------------------------------------------------- the file source


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    """``"<group>:<offset>"`` (or a bare group index) as numbers; None starts at the beginning."""
    if cursor is None or cursor == "":
        return 0, 0
    group, _, offset = cursor.partition(":")
    try:
        values = int(group), int(offset or 0)
    except ValueError:
        raise ValueError(f"ics cursor {cursor!r} is not '<group>:<offset>'") from None
    if values[0] < 0 or values[1] < 0:
        raise ValueError(f"ics cursor {cursor!r} is negative")
    return values


@dataclass(slots=True)
class IcsFileSource:
    """One .ics file (one or more VCALENDARs) as a ``tiepulse.connectors.files.FileSource``."""

    path: Path
    format: str = FORMAT
    source: str = SOURCE
    ahead: CalendarAhead | None = field(default=None, compare=False, repr=False)
    """Set by the import's ``CalendarAhead`` while it runs."""

    def infer_owner(self, ctx: ImportContext) -> OwnerGuess | None:
        """X-WR-CALNAME when it is an address, else the address in most events (organizer or attendee)."""
        if self.ahead is not None and (prepared := self.ahead.prepared(self, ctx)) is not None:
            return prepared.guess
        parsed = _parse(self.path)
        _LAST_PARSED.clear()
        _LAST_PARSED[_fingerprint(self.path)] = parsed  # pages() usually follows for the same file
        normaliser = ctx.normaliser()
        for calendar in parsed.calendars:
            name = _text(calendar.get("X-WR-CALNAME"))
            address = normaliser.normalise(name) if name else None
            if address:
                return OwnerGuess(address, "calendar_owner", 1.0)
        counts: Counter[str] = Counter()
        events = 0
        for group in parsed.groups:
            for component in group.components:
                found = set(_participants(component.event, normaliser))
                if found:
                    events += 1
                    counts.update(found)
        if not counts:
            return None
        address, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
        return OwnerGuess(address, "most_frequent_address", count / events)

    def pages(self, owner: str, ctx: ImportContext, cursor: str | None) -> Iterator[Page]:
        if cursor is None and self.ahead is not None and (ready := self.ahead.pages(self, owner, ctx)) is not None:
            yield from ready
            return
        source_file = str(self.path)
        start_group, start_offset = parse_cursor(cursor)
        parsed = _LAST_PARSED.pop(_fingerprint(self.path), None) or _parse(self.path)
        _LAST_PARSED.clear()
        if parsed.error is not None:
            reject = Reject(
                "event",
                SOURCE,
                source_file,
                "file",
                REASON_UNPARSEABLE_FILE,
                parsed.error[:300],
                _head(self.path),
            )
            yield Page(rows={TABLE: to_table(TABLE, [])}, rejects=[reject], cursor="0:0")
            return
        mapper = _Mapper(canonical_owner(owner, ctx.normaliser()), ctx, source_file)
        page_size = max(1, ctx.page_size)
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        emitted = False
        total = len(parsed.groups)
        for index in range(start_group, total):
            result = mapper.group(parsed.groups[index])
            offset = start_offset if index == start_group else 0
            if offset == 0:
                rejects.extend(result.rejects)
            while offset < len(result.rows):
                take = page_size - len(rows)
                rows.extend(result.rows[offset : offset + take])
                offset = min(offset + take, len(result.rows))
                if len(rows) >= page_size:
                    cursor_after = f"{index}:{offset}" if offset < len(result.rows) else f"{index + 1}:0"
                    yield Page(rows={TABLE: to_table(TABLE, rows)}, rejects=rejects, cursor=cursor_after)
                    emitted = True
                    rows, rejects = [], []
            if len(rejects) >= page_size:
                yield Page(rows={TABLE: to_table(TABLE, rows)}, rejects=rejects, cursor=f"{index + 1}:0")
                emitted = True
                rows, rejects = [], []
        if rows or rejects or not emitted:
            yield Page(rows={TABLE: to_table(TABLE, rows)}, rejects=rejects, cursor=f"{max(total, start_group)}:0")


def _participants(event: Component, normaliser: AddressNormaliser) -> Iterable[str]:
    organizer = _address(event.get("ORGANIZER"), normaliser)
    if organizer:
        yield organizer
    for attendee in _as_list(event.get("ATTENDEE")):
        if str(getattr(attendee, "params", {}).get("CUTYPE", "")).upper() in RESOURCE_CUTYPES:
            continue
        address = _address(attendee, normaliser)
        if address:
            yield address


_SAFE_HEAD = ("BEGIN:", "END:", "VERSION:", "PRODID:", "METHOD:", "CALSCALE:", "UID:", "DTSTART", "DTEND")


def _head(path: Path) -> str:
    """The first structural lines of a file that cannot be parsed (never titles or people)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(2_000).decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in head.splitlines()[:40] if line.upper().startswith(_SAFE_HEAD)]
    return "\n".join(lines) if lines else f"<{len(head)} characters, no iCalendar structure>"
