"""Hand-kept CSV files: the manual interaction log, the organisation directory, contacts with buckets.

``claims`` recognises a file by its header row (case-insensitive, trimmed; spaces and hyphens in a column
name count as underscores, so ``Org Unit`` is ``org_unit``). Columns a format does not know are ignored. The
delimiter is whichever of ``,`` ``;`` or tab the header uses most (comma on a tie); the encoding is UTF-8 with
or without a BOM, falling back to Windows-1252. Header formats, reason codes and defaults are in
``connectors/README.md``.

Rows that cannot be trusted go to ``ops.quarantine`` (kind ``csv_row``, position = line number of the
record, excerpt = the raw line; with pseudonymisation on, people's cells in the excerpt are pseudonymised or
redacted).

Paging: the cursor is the number of data records (non-blank records after the header) already handled. Every
run reads the file from the top, because the repeat counter of the manual log and the first-row-wins rule of
the directory and contacts need the rows before the cursor; only what comes after it is emitted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .addresses import X500_PREFIX, AddressNormaliser
from .base import ImportContext, OwnerGuess, Page, Reject, stable_hash
from .calendar_ics import canonical_owner
from .raw_schemas import to_table

MANUAL_LOG = "manual_log_csv"
DIRECTORY = "directory_csv"
CONTACTS = "contacts_csv"

CHANNELS = ("call", "in_person", "video", "chat", "note")
CHANNEL_SYNONYMS = {
    "inperson": "in_person",
    "face_to_face": "in_person",
    "phone": "call",
    "phone_call": "call",
    "video_call": "video",
}
KNOWN_BUCKETS = ("client", "prospect", "colleague", "mentor", "friend", "family", "other")
"""Buckets the analytics know by name; any other non-empty word is kept (lower-cased) as its own bucket."""
DATE_ONLY_HOUR = 0
"""A date without a time is taken as 00:00 UTC of that day (docs/data-model.md, stg_manual_interactions)."""
MAX_MINUTES = 24 * 60
MAX_CADENCE_DAYS = 3660
COLUMN_SYNONYMS = {"e_mail": "email", "e_mails": "emails"}
MIN_KNOWN_SHARE = 0.5
"""A header is one of ours only when at least this share of its columns are known to the format, so a wide
export from another tool (Outlook contacts have ``Department`` and ``Location``) is left alone."""
LIST_SEPARATORS = re.compile(r"[;,|]")
CSV_SUFFIXES = frozenset({".csv", ".tsv"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "internal"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "external"})


class CsvHeaderError(ValueError):
    """A CSV whose header looks like one of ours but lacks a required column."""


@dataclass(frozen=True, slots=True)
class CsvLayout:
    format: str
    source: str
    table: str
    label: str
    required: tuple[tuple[str, ...], ...]
    """Each entry is a set of alternatives of which one must be present."""
    optional: tuple[str, ...]
    distinctive: frozenset[str]
    """Columns that identify the format."""
    expected: str

    @property
    def known(self) -> frozenset[str]:
        return frozenset(c for alternatives in self.required for c in alternatives) | frozenset(self.optional)


LAYOUTS: dict[str, CsvLayout] = {
    MANUAL_LOG: CsvLayout(
        MANUAL_LOG,
        "manual_log",
        "raw.manual_interactions",
        "manual interaction log",
        (("date",), ("person",), ("channel",)),
        ("minutes", "name", "owner"),
        frozenset({"person", "channel", "minutes"}),
        "date,person,channel[,minutes][,name][,owner]",
    ),
    DIRECTORY: CsvLayout(
        DIRECTORY,
        "directory",
        "raw.directory",
        "directory",
        (("email", "emails"),),
        ("aliases", "name", "team", "department", "org_unit", "manager", "location", "internal"),
        frozenset({"emails", "aliases", "team", "department", "org_unit", "manager", "internal"}),
        "email (or emails),[aliases],[name],[team],[department],[org_unit],[manager],[location],[internal]",
    ),
    CONTACTS: CsvLayout(
        CONTACTS,
        "contacts",
        "raw.contacts",
        "contacts",
        (("email",), ("bucket",)),
        ("cadence_days", "owner"),
        frozenset({"bucket", "cadence_days"}),
        "email,bucket[,cadence_days][,owner]",
    ),
}
_BY_SOURCE = {layout.source: layout for layout in LAYOUTS.values()}
_PERSONAL_COLUMNS = frozenset({"person", "name", "owner", "email", "emails", "aliases", "manager"})


# --------------------------------------------------------------------------------------------------- reading


def column_name(raw: str) -> str:
    """A header cell as a column name: BOM and spaces trimmed, lower case, spaces/hyphens as ``_``."""
    name = re.sub(r"[\s\-]+", "_", raw.replace("\ufeff", "").strip().lower())
    return COLUMN_SYNONYMS.get(name, name)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts.values())
    return "," if best == 0 or counts[","] == best else max(counts, key=lambda d: counts[d])


@dataclass(slots=True)
class _Record:
    line: int
    raw: str
    values: dict[str, str]


@dataclass(slots=True)
class _CsvText:
    path: Path
    text: str
    header: list[str] = field(default_factory=list)
    delimiter: str = ","
    header_line: int = 0

    @classmethod
    def read(cls, path: Path, *, head_only: bool = False) -> _CsvText:
        if head_only:
            with path.open("rb") as handle:
                data = handle.read(64 * 1024)
        else:
            data = path.read_bytes()
        parsed = cls(path, _decode(data))
        lines = parsed.text.split("\n")
        for number, line in enumerate(lines, start=1):
            if line.strip():
                parsed.delimiter = _delimiter(line)
                parsed.header_line = number
                cells = next(csv.reader([line.rstrip("\r")], delimiter=parsed.delimiter), [])
                parsed.header = [column_name(c) for c in cells]
                break
        return parsed

    def records(self) -> Iterator[_Record]:
        """Data records after the header, blank ones skipped, with the line number each starts on."""
        lines = self.text.split("\n")
        body = "\n".join(lines[self.header_line :])
        reader = csv.reader(io.StringIO(body, newline=""), delimiter=self.delimiter)
        previous_end = self.header_line
        columns = self.header
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a NUL byte; skip the line, report it
                start = previous_end + 1
                previous_end = self.header_line + reader.line_num
                raw = "\n".join(lines[start - 1 : previous_end]).rstrip("\r")
                yield _Record(start, raw, {"__error__": str(exc)})
                continue
            start = previous_end + 1
            previous_end = self.header_line + reader.line_num
            if not any(c.strip() for c in cells):
                continue
            raw = "\n".join(line.rstrip("\r") for line in lines[start - 1 : previous_end])
            values: dict[str, str] = {}
            for index, name in enumerate(columns):
                if name and name not in values:
                    values[name] = " ".join(cells[index].split()) if index < len(cells) else ""
            yield _Record(start, raw, values)


def detect(header: list[str]) -> CsvLayout | None:
    """The layout a header row belongs to, or None.

    The layout with most of its distinctive columns present wins (contacts, then manual log, then directory on
    a tie), provided most of the header's columns are known to it; a header of known directory columns with
    ``email`` or ``emails`` and nothing distinctive (``email,name``) is a directory.
    """
    columns = {c for c in header if c}
    best: CsvLayout | None = None
    best_hits = 0
    for layout in (LAYOUTS[CONTACTS], LAYOUTS[MANUAL_LOG], LAYOUTS[DIRECTORY]):
        hits = len(columns & layout.distinctive)
        if hits > best_hits:
            best, best_hits = layout, hits
    if best is None:
        directory = LAYOUTS[DIRECTORY]
        return directory if columns & {"email", "emails"} and columns <= directory.known else None
    return best if len(columns & best.known) >= MIN_KNOWN_SHARE * len(columns) else None


def check_header(path: Path, header: list[str], layout: CsvLayout) -> None:
    """Raise ``CsvHeaderError`` naming the file, the missing column and the expected header."""
    columns = set(header)
    for alternatives in layout.required:
        if not columns & set(alternatives):
            missing = " or ".join(repr(c) for c in alternatives)
            raise CsvHeaderError(
                f"{path}: this looks like a {layout.label} CSV but has no {missing} column "
                f"(header: {','.join(header)}). Expected header: {layout.expected}"
            )


def claims(path: Path) -> str | None:
    """``manual_log_csv``, ``directory_csv`` or ``contacts_csv`` by the header of a .csv/.tsv file; else None.

    Raises ``CsvHeaderError`` (a ValueError) when the header is recognisably one of these with a required
    column missing: such a file is a mistake to report, not a file to skip silently.
    """
    if not path.is_file() or path.suffix.lower() not in CSV_SUFFIXES:
        return None
    try:
        parsed = _CsvText.read(path, head_only=True)
    except OSError:
        return None
    layout = detect(parsed.header)
    if layout is None:
        return None
    check_header(path, parsed.header, layout)
    return layout.format


# --------------------------------------------------------------------------------------------------- parsing


def parse_when(text: str) -> dt.datetime | None:
    """``YYYY-MM-DD`` (00:00 UTC) or an ISO date-time (naive means UTC) as an aware UTC datetime."""
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        return dt.datetime(day.year, day.month, day.day, DATE_ONLY_HOUR, tzinfo=dt.UTC)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", value):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def parse_channel(text: str) -> str | None:
    """``call | in_person | video | chat | note`` in any case, with spaces or hyphens (``In person``)."""
    value = re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")
    value = CHANNEL_SYNONYMS.get(value, value)
    return value if value in CHANNELS else None


def parse_bool(text: str, *, default: bool) -> bool | None:
    value = text.strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    return None


def _number(text: str) -> float | None:
    value = text.strip().replace(" ", "")
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def split_list(text: str) -> list[str]:
    return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]


class _RowError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ------------------------------------------------------------------------------------------------ the source


@dataclass(slots=True)
class CsvFileSource:
    """One CSV file of a known kind as a ``tiepulse.connectors.files.FileSource``.

    ``kind`` is the format (``manual_log_csv`` / ``directory_csv`` / ``contacts_csv``) or its source name
    (``manual_log`` / ``directory`` / ``contacts``).
    """

    path: Path
    kind: str
    format: str = field(init=False)
    source: str = field(init=False)

    def __post_init__(self) -> None:
        layout = LAYOUTS.get(self.kind) or _BY_SOURCE.get(self.kind)
        if layout is None:
            known = ", ".join(sorted(LAYOUTS) + sorted(_BY_SOURCE))
            raise ValueError(f"{self.path}: unknown CSV kind {self.kind!r}; known: {known}")
        self.format = layout.format
        self.source = layout.source

    @property
    def layout(self) -> CsvLayout:
        return LAYOUTS[self.format]

    @property
    def has_owner_column(self) -> bool:
        """Whether rows can name their own owner (``pages`` may then be called with owner ``''``)."""
        return "owner" in _CsvText.read(self.path, head_only=True).header

    def infer_owner(self, ctx: ImportContext) -> OwnerGuess | None:
        """CSV owners come from ``--owner``, the ``owner`` column or the config, never from guessing."""
        return None

    def pages(self, owner: str, ctx: ImportContext, cursor: str | None) -> Iterator[Page]:
        """Pages of rows in file order after ``cursor`` (records already handled).

        ``owner`` is the default owner (the ego) for rows without an ``owner`` value; for contacts ``''``
        means every ego.
        """
        skip = _parse_cursor(cursor)
        parsed = _CsvText.read(self.path)
        check_header(self.path, parsed.header, self.layout)
        mapper = _Mapper(self, owner, ctx, parsed.delimiter)
        table = self.layout.table
        page_size = max(1, ctx.page_size)
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        handled = 0
        emitted = False
        for record in parsed.records():
            handled += 1
            row, problems = mapper.map(record)
            if handled <= skip:
                continue
            if row is not None:
                rows.append(row)
            rejects.extend(problems)
            if len(rows) + len(rejects) >= page_size:
                yield Page(rows={table: to_table(table, rows)}, rejects=rejects, cursor=str(handled))
                emitted = True
                rows, rejects = [], []
        if rows or rejects or not emitted:
            yield Page(rows={table: to_table(table, rows)}, rejects=rejects, cursor=str(max(handled, skip)))


def _parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    try:
        value = int(cursor)
    except ValueError:
        raise ValueError(f"CSV cursor {cursor!r} is not a record count") from None
    if value < 0:
        raise ValueError(f"CSV cursor {cursor!r} is negative")
    return value


class _Mapper:
    """Turns records into rows of one raw table, remembering what earlier records of the file said."""

    def __init__(self, source: CsvFileSource, owner: str, ctx: ImportContext, delimiter: str) -> None:
        self.source = source
        self.ctx = ctx
        self.delimiter = delimiter
        self.normaliser: AddressNormaliser = ctx.normaliser()
        self.default_owner = canonical_owner(owner, self.normaliser) if owner else ""
        self.source_file = str(source.path)
        self.repeats: Counter[tuple[object, ...]] = Counter()
        self.seen: set[tuple[str, ...]] = set()

    def map(self, record: _Record) -> tuple[dict[str, Any] | None, list[Reject]]:
        """The row of a record (or None) and the rejects it causes (a kept row may carry notes)."""
        notes: list[tuple[str, str]] = []
        try:
            if "__error__" in record.values:
                raise _RowError("unreadable_row", record.values["__error__"])
            fmt = self.source.format
            if fmt == MANUAL_LOG:
                row = self._manual(record)
            elif fmt == DIRECTORY:
                row = self._directory(record, notes)
            else:
                row = self._contact(record)
        except _RowError as err:
            return None, [self._reject(record, err.reason, err.detail)]
        return row, [self._reject(record, reason, detail) for reason, detail in notes]

    # -- shared

    def _reject(self, record: _Record, reason: str, detail: str) -> Reject:
        return Reject(
            "csv_row",
            self.source.source,
            self.source_file,
            str(record.line),
            reason,
            detail,
            self._excerpt(record),
        )

    def _excerpt(self, record: _Record) -> str:
        """The raw line; with pseudonymisation on, people's cells are pseudonymised or redacted."""
        if not self.normaliser.pseudonymised:
            return record.raw
        if "__error__" in record.values:
            return "<redacted: pseudonymisation is on>"
        cells = []
        for column, value in record.values.items():
            if column == "name" and value:
                value = "<redacted>"
            elif column in _PERSONAL_COLUMNS and value:
                value = ";".join(self.normaliser.normalise(part) or "<redacted>" for part in split_list(value))
            cells.append(value)
        return self.delimiter.join(cells)

    def _required(self, record: _Record, column: str) -> str:
        value = record.values.get(column, "")
        if not value:
            raise _RowError("missing_field", f"{column} is empty")
        return value

    def _address(self, text: str, column: str, *, reason: str = "bad_email") -> tuple[str, str | None]:
        """A cell holding ``addr`` or ``Name <addr>`` as (canonical address, display name)."""
        found, _bad = self.normaliser.parse(text)
        if not found:
            raise _RowError(reason, f"{column}: not a usable email address")
        return found[0]

    def _owner(self, record: _Record) -> str:
        value = record.values.get("owner", "")
        if value:
            return self._address(value, "owner")[0]
        return self.default_owner

    def _when(self, record: _Record) -> dt.datetime:
        text = self._required(record, "date")
        when = parse_when(text)
        if when is None:
            raise _RowError("bad_date", "date: expected YYYY-MM-DD or an ISO date-time")
        if not self.ctx.plausibility.accepts(when):
            raise _RowError("implausible_date", f"date {when.date().isoformat()} outside the plausible range")
        return when

    def _once(self, key: tuple[str, ...], reason: str, detail: str) -> None:
        if key in self.seen:
            raise _RowError(reason, detail)
        self.seen.add(key)

    # -- formats

    def _manual(self, record: _Record) -> dict[str, Any]:
        when = self._when(record)
        person, parsed_name = self._address(self._required(record, "person"), "person")
        channel_text = self._required(record, "channel")
        channel = parse_channel(channel_text)
        if channel is None:
            raise _RowError("bad_channel", f"channel: expected one of {', '.join(CHANNELS)}")
        minutes: float | None = None
        minutes_text = record.values.get("minutes", "")
        if minutes_text:
            minutes = _number(minutes_text)
            if minutes is None or not 0 <= minutes <= MAX_MINUTES:
                raise _RowError("bad_minutes", f"minutes: expected a number from 0 to {MAX_MINUTES}")
        owner = self._owner(record)
        if not owner:
            raise _RowError("missing_field", "owner: no owner column value and no owner given for the file")
        name = None if self.normaliser.pseudonymised else (record.values.get("name") or parsed_name)
        identity = (owner, when.isoformat(), person, channel, "" if minutes is None else repr(minutes))
        repeat = self.repeats[identity]
        self.repeats[identity] += 1
        return {
            "row_key": stable_hash(*identity, repeat),
            "owner": owner,
            "source_file": self.source_file,
            "source_position": str(record.line),
            "occurred_at": when,
            "person_address": person,
            "person_name": name,
            "channel": channel,
            "minutes": minutes,
        }

    def _directory(self, record: _Record, notes: list[tuple[str, str]]) -> dict[str, Any]:
        listed = split_list(record.values.get("emails", ""))
        primary_text = record.values.get("email", "") or (listed[0] if listed else "")
        if not primary_text:
            raise _RowError("missing_field", "email is empty")
        others_text = listed if record.values.get("email") else listed[1:]
        primary, parsed_name = self._address(primary_text, "email")
        if primary.startswith(X500_PREFIX) or primary.endswith("@x500.invalid"):
            raise _RowError("bad_email", "email: the primary address must be an SMTP address, not an X.500 path")
        internal = parse_bool(record.values.get("internal", ""), default=True)
        if internal is None:
            raise _RowError("bad_boolean", "internal: expected true/false, yes/no or 1/0")
        self._once((primary,), "duplicate_email", "email already listed on an earlier line (first row wins)")
        others: list[str] = []
        dropped: list[str] = []
        for text in [*others_text, *split_list(record.values.get("aliases", ""))]:
            address = self.normaliser.normalise(text)
            if address is None:
                dropped.append(text)
            elif address != primary and address not in others:
                others.append(address)
        if dropped:
            notes.append(("bad_alias", f"row kept; {len(dropped)} unusable alias(es) dropped"))
        manager: str | None = None
        manager_text = record.values.get("manager", "")
        if manager_text:
            manager = self.normaliser.normalise(manager_text)
            if manager is None:
                notes.append(("bad_manager", "row kept without manager: not a usable email address"))
        name = None if self.normaliser.pseudonymised else (record.values.get("name") or parsed_name)
        return {
            "email": primary,
            "other_emails": others,
            "name": name,
            "team": record.values.get("team") or None,
            "department": record.values.get("department") or None,
            "org_unit": record.values.get("org_unit") or None,
            "manager_email": manager,
            "location": record.values.get("location") or None,
            "is_internal": internal,
            "source_file": self.source_file,
        }

    def _contact(self, record: _Record) -> dict[str, Any]:
        email, _name = self._address(self._required(record, "email"), "email")
        bucket = re.sub(r"[\s\-]+", "_", self._required(record, "bucket").lower())
        cadence: int | None = None
        cadence_text = record.values.get("cadence_days", "")
        if cadence_text:
            number = _number(cadence_text)
            if number is None or number != int(number) or not 0 < number <= MAX_CADENCE_DAYS:
                raise _RowError("bad_cadence", f"cadence_days: expected a whole number from 1 to {MAX_CADENCE_DAYS}")
            cadence = int(number)
        owner = self._owner(record)
        self._once(
            ("contact", owner, email),
            "duplicate_contact",
            "contact already listed on an earlier line (first wins)",
        )
        return {
            "owner": owner,
            "email": email,
            "bucket": bucket,
            "cadence_days": cadence,
            "source_file": self.source_file,
        }
