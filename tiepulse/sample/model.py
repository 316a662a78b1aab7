"""The in-memory shape of the sample organisation before it is written to files."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class Person:
    """An internal employee, an external contact or an automated sender.

    Identity is the object itself (``eq=False``); ``idx`` gives every ordering that must be stable.
    """

    idx: int
    name: str
    email: str
    tz: str
    kind: str
    """internal | client | partner | vendor | personal | prospect | automated"""
    local: str = ""
    """File stem of the person's mbox / ics (internal people only)."""
    team: str = ""
    department: str = ""
    location: str = ""
    manager: Person | None = None
    aliases: list[str] = field(default_factory=list)
    """Other addresses the person sends from (listed in the directory)."""
    recipient_variants: list[str] = field(default_factory=list)
    """Other spellings others use to write to the person (X.500 path, Gmail dots / plus tags)."""
    legacy_address: str | None = None
    """An old address known only through the config's explicit alias list."""
    x500: str | None = None
    rate: float = 1.0
    """Mail threads started per week (internal) or per week towards the organisation (external)."""
    meeting_rate: float = 1.0
    """Ad-hoc meetings organised per month."""
    active_from: dt.date | None = None
    active_until: dt.date | None = None
    owners: list[Person] = field(default_factory=list)
    """External contacts: the internal people who look after them."""

    @property
    def internal(self) -> bool:
        return self.kind == "internal"

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    department: str
    standup: bool
    external_share: float
    members: tuple[Person, ...]

    @property
    def lead(self) -> Person:
        return self.members[0]


@dataclass(slots=True)
class Org:
    domain: str
    legacy_domain: str
    teams: dict[str, Team]
    people: list[Person]
    externals: list[Person]
    prospects: list[Person]
    automated: list[Person]

    def team_of(self, person: Person) -> Team:
        return self.teams[person.team]


@dataclass(eq=False, slots=True)
class Message:
    """One distinct email; it is written to the sender's mbox and to every internal recipient's mbox."""

    seq: int
    when: dt.datetime
    """Aware, in the sender's time zone."""
    sender: Person | None
    from_header: str
    from_address: str
    """The bare sending address (the mbox separator line's envelope sender)."""
    to: list[tuple[Person, str]]
    cc: list[tuple[Person, str]] = field(default_factory=list)
    bcc: list[tuple[Person, str]] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    parent: Message | None = None
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "person"
    """person | automated | broken"""
    omit_date: bool = False
    date_header: str | None = None
    """Overrides the Date header (the planted implausible date)."""
    mailboxes_only: tuple[Person, ...] | None = None
    """Write only to these mailboxes (planted broken records)."""
    message_id: str = ""

    @property
    def recipients(self) -> list[tuple[Person, str]]:
        return self.to + self.cc + self.bcc

    @property
    def utc(self) -> dt.datetime:
        return self.when.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Attendance:
    person: Person
    address: str
    partstat: str


@dataclass(slots=True)
class Override:
    """One moved (or cancelled) occurrence of a series, keyed by its original start."""

    recurrence_id: dt.datetime
    start: dt.datetime
    end: dt.datetime
    status: str = "CONFIRMED"


@dataclass(eq=False, slots=True)
class Meeting:
    uid: str
    title: str
    organizer: Person
    attendees: list[Attendance]
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    kind: str
    """one_on_one | standup | sync | adhoc | external | all_day"""
    weekly_interval: int = 0
    """0 = a single event; 1 = weekly; 2 = biweekly."""
    byday: tuple[str, ...] = ()
    until: dt.datetime | None = None
    exdates: list[dt.datetime] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    location: str | None = None
    conference: str | None = None
    room: tuple[str, str] | None = None
    """(name, address) of a room booked as a resource attendee."""
    status: str = "CONFIRMED"
    occurrences: list[dt.datetime | dt.date] = field(default_factory=list)
    """Starts of every occurrence that takes place (expanded, without cancelled ones)."""

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)


@dataclass(frozen=True, slots=True)
class ManualEntry:
    day: dt.date
    person: Person
    address: str
    channel: str
    minutes: int | None
    owner: Person


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method; the rates here are small)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
