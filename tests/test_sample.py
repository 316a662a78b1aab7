"""The sample organisation: reproducible bytes, files every importer can read, and the planted truth present.

Every planted pattern is checked from the written files (not from the generator's own bookkeeping).
"""

from __future__ import annotations

import csv
import datetime as dt
import email.charset
import hashlib
import json
import mailbox
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formataddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events

from tiepulse.connectors.addresses import AddressNormaliser, decode_name
from tiepulse.core.settings import load_config
from tiepulse.sample import SampleSummary, generate_sample
from tiepulse.sample.headers import address_header

SMALL = {"people": 60, "externals": 140, "months": 15, "seed": 11}

# Generating and re-reading a whole organisation takes a while (about half a minute in all).
pytestmark = pytest.mark.slow


@dataclass
class Sample:
    summary: SampleSummary
    truth: dict[str, Any]
    progress: list[tuple[int, int]]

    @property
    def dir(self) -> Path:
        return self.summary.out_dir

    @property
    def as_of(self) -> dt.date:
        return dt.date.fromisoformat(self.truth["as_of"])


def _make(root: Path, name: str, **kwargs: Any) -> Sample:
    calls: list[tuple[int, int]] = []
    summary = generate_sample(root / name, on_progress=lambda done, total: calls.append((done, total)), **kwargs)
    return Sample(summary, json.loads(summary.truth.read_text(encoding="utf-8")), calls)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sample")


@pytest.fixture(scope="module")
def default(root: Path) -> Sample:
    return _make(root, "default")


@pytest.fixture(scope="module")
def small(root: Path) -> Sample:
    return _make(root, "small", **SMALL)


def _hashes(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# --- reading the files back ------------------------------------------------------------------------------------


@dataclass
class Mail:
    message_id: str
    date: dt.datetime | None
    sender: str | None
    recipients: list[str]
    """Canonical addresses of To + Cc + Bcc (as this copy shows them)."""
    headers: Message


class Resolver:
    """Canonical address per person, from the directory and the config's alias list (as identity would)."""

    def __init__(self, directory: Path) -> None:
        self.norm = AddressNormaliser()
        self.map: dict[str, str] = {}
        with (directory / "directory.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                canon = self.norm.normalise(row["email"])
                assert canon is not None
                self.map[canon] = canon
                for alias in filter(None, row["aliases"].split(";")):
                    key = self.norm.normalise(alias)
                    assert key is not None, alias
                    self.map[key] = canon
        config = load_config(directory / "config.yaml")
        for canon, others in config.aliases.items():
            for other in others:
                key = self.norm.normalise(other)
                assert key is not None
                self.map[key] = canon

    def __call__(self, address: str) -> str:
        key = self.norm.normalise(address)
        assert key is not None, address
        return self.map.get(key, key)

    def parse(self, *values: str | None) -> tuple[list[str], int]:
        found, bad = self.norm.parse(*values)
        return [self.map.get(a, a) for a, _ in found], bad


def read_mbox(path: Path, resolve: Resolver, skip: Callable[[bytes], bool] | None = None) -> list[Mail]:
    """The messages of one mbox (headers only), leaving out those ``skip`` rejects from their raw bytes."""
    parser = BytesHeaderParser(policy=compat32)
    box = mailbox.mbox(path, create=False)
    result = []
    try:
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            if skip is not None and skip(raw):
                continue
            headers = parser.parsebytes(raw)
            senders, _ = resolve.parse(headers.get("From"))
            recipients, _ = resolve.parse(*(headers.get(h) for h in ("To", "Cc", "Bcc")))
            raw_date = headers.get("Date")
            result.append(
                Mail(
                    message_id=str(headers.get("Message-ID")),
                    date=parsedate_to_datetime(raw_date) if raw_date else None,
                    sender=senders[0] if senders else None,
                    recipients=recipients,
                    headers=headers,
                )
            )
    finally:
        box.close()
    return result


class Corpus:
    """Lazily parsed mailboxes and calendars of one sample."""

    def __init__(self, sample: Sample) -> None:
        self.sample = sample
        self.resolve = Resolver(sample.dir)
        self._mail: dict[str, list[Mail]] = {}
        self.team = {self.resolve(k): v for k, v in sample.truth["teams"].items()}

    def local(self, email: str) -> str:
        return email.split("@")[0]

    def mail(self, email: str) -> list[Mail]:
        if email not in self._mail:
            path = self.sample.dir / "mail" / f"{self.local(email)}.mbox"
            self._mail[email] = read_mbox(path, self.resolve)
        return self._mail[email]

    def calendar(self, email: str) -> icalendar.Calendar | None:
        path = self.sample.dir / "calendar" / f"{self.local(email)}.ics"
        return icalendar.Calendar.from_ical(path.read_bytes()) if path.exists() else None

    def between(self, ego: str, alter: str) -> list[Mail]:
        """Messages in the ego's mailbox sent by one of the pair to the other."""
        ego, alter = self.resolve(ego), self.resolve(alter)
        return [
            m
            for m in self.mail(ego)
            if m.date is not None
            and ((m.sender == ego and alter in m.recipients) or (m.sender == alter and ego in m.recipients))
        ]

    def meetings_with(self, ego: str, alter: str, until: dt.date) -> list[dt.date]:
        """Days on which ego and alter were both invited to a meeting in ego's calendar (not cancelled)."""
        cal = self.calendar(ego)
        if cal is None:
            return []
        start = dt.datetime.combine(self.sample.as_of - dt.timedelta(days=800), dt.time(), dt.UTC)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        target = f"mailto:{alter}".lower()
        # Expand only the events the alter is invited to (expanding every standup is slow).
        mine = icalendar.Calendar()
        for component in cal.subcomponents:
            if component.name == "VTIMEZONE" or target in component.to_ical().decode().lower().replace("\r\n ", ""):
                mine.add_component(component)
        days = []
        for event in recurring_ical_events.of(mine).between(start, end):
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            attendees = event.get("ATTENDEE", [])
            if not isinstance(attendees, list):
                attendees = [attendees]
            if any(str(a).lower() == target for a in attendees):
                begin = event.decoded("DTSTART")
                days.append(begin.date() if isinstance(begin, dt.datetime) else begin)
        return days


@pytest.fixture(scope="module")
def corpus(default: Sample) -> Corpus:
    return Corpus(default)


# --- determinism ----------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_even_in_a_fresh_process(root: Path, small: Sample) -> None:
    """The same seed in another process (with another str hash seed) writes the very same bytes."""
    out = root / "small_process"
    args = [str(SMALL["seed"]), str(SMALL["people"]), str(SMALL["externals"]), str(SMALL["months"])]
    cmd = [sys.executable, "-m", "tiepulse.sample", str(out), "--seed", args[0], "--people", args[1]]
    cmd += ["--externals", args[2], "--months", args[3]]
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=120)
    assert _hashes(out) == _hashes(small.dir)


def test_another_seed_differs(root: Path, small: Sample) -> None:
    other = _make(root, "small_other", **{**SMALL, "seed": 12})
    a, b = _hashes(small.dir), _hashes(other.dir)
    assert a["truth.json"] != b["truth.json"]
    mail = [k for k in a if k.startswith("mail/")]
    assert sum(a[k] != b.get(k) for k in mail) > len(mail) * 0.9


def test_rejects_too_small_an_organisation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="people"):
        generate_sample(tmp_path, people=20)
    with pytest.raises(ValueError, match="months"):
        generate_sample(tmp_path, months=6)


def test_progress_callback_reaches_total(small: Sample) -> None:
    calls = small.progress
    assert calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == list(range(1, len(calls) + 1))


# --- files parse, counts agree ------------------------------------------------------------------------------------


def test_default_output_size_and_shape(default: Sample) -> None:
    stats = default.truth["stats"]
    assert 0.3 <= stats["replies_share"] <= 0.42
    assert 0.7 <= stats["internal_email_within_team_share"] <= 0.8
    assert 0.02 <= stats["after_hours_share"] <= 0.12
    assert stats["over_18_recipients"] > 0
    counts = default.truth["counts"]
    assert 25_000 <= counts["messages"] <= 40_000
    assert counts["people"] == 150 and counts["externals"] == 300
    assert len(list((default.dir / "mail").glob("*.mbox"))) == 150
    resolve = Resolver(default.dir)
    sent = []
    for path in sorted((default.dir / "mail").glob("*.mbox")):
        owner = f"{path.stem}@northwind.example"
        envelopes = re.findall(rb"^From (\S+) ", path.read_bytes(), flags=re.M)
        sent.append(sum(1 for e in envelopes if b"@" in e and resolve(e.decode()) == owner))
    sent.sort()
    median = sent[len(sent) // 2]
    assert sent[-1] >= 4 * median and sent[len(sent) // 10] <= median / 2, "heavy-tailed volume per person"


def test_every_mbox_parses_and_matches_the_counts(default: Sample) -> None:
    counts = default.truth["counts"]
    ids: set[bytes] = set()
    total = 0
    for path in sorted((default.dir / "mail").glob("*.mbox")):
        box = mailbox.mbox(path, create=False)
        assert len(box) == counts["mailboxes"][path.stem], path.name
        box.close()
        data = path.read_bytes()
        found = re.findall(rb"^Message-ID: (<[^>]+>)$", data, flags=re.M)
        assert len(found) == counts["mailboxes"][path.stem]
        ids.update(found)
        total += len(found)
    assert total == counts["mailbox_copies"]
    assert len(ids) == counts["messages"]


@pytest.fixture(scope="module")
def small_mail(small: Sample) -> dict[str, Mail]:
    """Every distinct message of the small sample, read through ``mailbox.mbox`` and the header parser.

    The sender's copy is preferred (it alone shows Bcc); other copies of a message already read are skipped.
    """
    resolve = Resolver(small.dir)
    seen: set[bytes] = set()

    def skip(raw: bytes) -> bool:
        found = re.search(rb"^Message-ID: (<[^>]+>)$", raw, flags=re.M)
        assert found is not None
        if b"\nBcc: " in raw:
            return False
        if found.group(1) in seen:
            return True
        seen.add(found.group(1))
        return False

    distinct: dict[str, Mail] = {}
    for path in sorted((small.dir / "mail").glob("*.mbox")):
        for mail in read_mbox(path, resolve, skip):
            if mail.message_id not in distinct or "Bcc" in mail.headers:
                distinct[mail.message_id] = mail
    return distinct


def test_every_message_of_the_small_sample_parses(small: Sample, small_mail: dict[str, Mail]) -> None:
    counts = small.truth["counts"]
    for path in sorted((small.dir / "mail").glob("*.mbox")):
        box = mailbox.mbox(path, create=False)
        assert len(box) == counts["mailboxes"][path.stem]
        box.close()
    assert len(small_mail) == counts["messages"]
    for mail in small_mail.values():
        assert mail.message_id.startswith("<") and "From" in mail.headers
        assert mail.recipients or mail.sender is None


@pytest.fixture(scope="module")
def small_calendars(small: Sample) -> dict[str, icalendar.Calendar]:
    """Every calendar of the small sample, parsed by icalendar (the default one has too many to parse quickly)."""
    files = sorted((small.dir / "calendar").glob("*.ics"))
    return {p.stem: icalendar.Calendar.from_ical(p.read_bytes()) for p in files}


def test_default_calendar_counts(default: Sample) -> None:
    counts = default.truth["counts"]["calendars"]
    files = sorted((default.dir / "calendar").glob("*.ics"))
    assert {p.stem for p in files} == set(counts)
    assert 140 <= len(files) < 150, "everyone but the people who only email"
    for path in files:
        assert path.read_bytes().count(b"BEGIN:VEVENT") == counts[path.stem]
    assert 3_000 <= default.truth["counts"]["events"] <= 6_000


def test_every_ics_parses_with_timezones_and_matches_the_counts(
    small: Sample, small_calendars: dict[str, icalendar.Calendar]
) -> None:
    counts = small.truth["counts"]["calendars"]
    assert set(small_calendars) == set(counts)
    total = 0
    for stem, cal in small_calendars.items():
        events = list(cal.walk("VEVENT"))
        assert len(events) == counts[stem]
        total += len(events)
        zones = {str(z["TZID"]) for z in cal.walk("VTIMEZONE")}
        used = {e["DTSTART"].params["TZID"] for e in events if "TZID" in e["DTSTART"].params}
        assert used <= zones
    assert total == small.truth["counts"]["event_copies"]


def test_calendars_hold_the_usual_shapes(default: Sample) -> None:
    text = b"".join(p.read_bytes() for p in sorted((default.dir / "calendar").glob("*.ics"))).decode()
    unfolded = text.replace("\r\n ", "")
    for needle in (
        "RRULE:FREQ=WEEKLY;INTERVAL=2",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "EXDATE;TZID=",
        "RECURRENCE-ID;TZID=",
        "STATUS:CANCELLED",
        "DTSTART;VALUE=DATE:",
        "PARTSTAT=DECLINED",
        "PARTSTAT=TENTATIVE",
        "X-GOOGLE-CONFERENCE:https://meet.google.com/",
        "LOCATION:https://teams.microsoft.com/",
        "LOCATION:https://northwind.zoom.us/j/",
        "LOCATION:London - ",
        "CUTYPE=ROOM",
        "TZID:Europe/London",
        "TZID:America/New_York",
        "TZID:Europe/Berlin",
    ):
        assert needle in unfolded, needle


def test_a_meeting_has_the_same_uid_in_every_attendees_calendar(
    small: Sample, small_calendars: dict[str, icalendar.Calendar]
) -> None:
    internal = {k.lower() for k in small.truth["teams"]}
    per_uid: dict[str, set[str]] = defaultdict(set)
    invited: dict[str, set[str]] = {}
    for stem, cal in small_calendars.items():
        for event in cal.walk("VEVENT"):
            if "RECURRENCE-ID" in event:
                continue
            uid = str(event["UID"])
            per_uid[uid].add(stem)
            attendees = event.get("ATTENDEE", [])
            attendees = attendees if isinstance(attendees, list) else [attendees]
            emails = {str(a).lower().removeprefix("mailto:") for a in attendees}
            invited[uid] = {e.split("@")[0] for e in emails if e in internal}
    assert len(per_uid) > 500
    for uid, holders in per_uid.items():
        assert holders == invited[uid], uid


def test_config_loads_and_names_every_person(default: Sample) -> None:
    config = load_config(default.dir / "config.yaml")
    assert len(config.egos) == 150
    assert {e.email for e in config.egos} == set(default.truth["teams"])
    assert {e.timezone for e in config.egos} == {"Europe/London", "Europe/Berlin", "America/New_York"}
    assert config.directory_file is not None and config.directory_file.is_file()
    assert config.contacts_file is not None and config.contacts_file.is_file()
    assert "northwind.example" in config.identity.internal_domains
    assert len(config.aliases) == 1
    with_alias = [e for e in config.egos if len(e.addresses) > 1]
    assert len(with_alias) >= 8


def test_csv_files(default: Sample) -> None:
    def rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
        with (default.dir / name).open(encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)

    header, directory = rows("directory.csv")
    assert header == ["email", "aliases", "name", "team", "department", "org_unit", "manager", "location", "internal"]
    staff = [r for r in directory if r["internal"] == "true"]
    assert len(staff) == 150
    assert 8 <= len({r["team"] for r in staff}) <= 10 and 3 <= len({r["department"] for r in staff}) <= 4
    assert sum(1 for r in staff if not r["manager"]) == 1
    aliases = [a for r in staff for a in r["aliases"].split(";") if a]
    assert any(a.startswith("/o=sample/ou=hq/cn=recipients/cn=") for a in aliases)
    assert any(re.fullmatch(r"[a-z]+@northwind\.example", a) for a in aliases)
    assert any(r["internal"] == "false" for r in directory)

    header, contacts = rows("contacts.csv")
    assert header == ["email", "bucket", "cadence_days", "owner"]
    assert {r["bucket"] for r in contacts} == {"client", "prospect", "colleague", "mentor", "friend"}
    assert any(r["cadence_days"] for r in contacts) and any(not r["cadence_days"] for r in contacts)

    header, log = rows("manual_log.csv")
    assert header == ["date", "person", "channel", "minutes", "owner"]
    assert {r["channel"] for r in log} == {"call", "in_person", "video", "chat", "note"}
    assert len({r["owner"] for r in log}) >= 3
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["date"]) for r in log)


# --- what the mail looks like ---------------------------------------------------------------------------------


def test_headers_look_like_a_real_export(default: Sample, corpus: Corpus) -> None:
    data = b"".join(p.read_bytes() for p in sorted((default.dir / "mail").glob("*.mbox")))
    assert re.search(rb"^From: =\?utf-8\?[bq]\?", data, flags=re.M), "RFC 2047 display names"
    assert re.search(rb"^Bcc: ", data, flags=re.M)
    assert re.search(rb"^List-Id: ", data, flags=re.M) and re.search(rb"^Precedence: bulk", data, flags=re.M)
    assert re.search(rb"^List-Unsubscribe: ", data, flags=re.M)
    assert b"noreply@expenses.example" in data
    assert re.search(rb"</o=sample/ou=hq/cn=recipients/cn=[a-z.]+>", data), "X.500 recipient"
    assert re.search(rb"\+northwind@gmail\.com>", data), "Gmail plus tag"
    legacy = next(iter(load_config(default.dir / "config.yaml").aliases.values()))[0]
    assert re.search(rb"^From: .*<" + re.escape(legacy.encode()) + rb">", data, flags=re.M)
    for alias in [a for v in default.truth["aliases"].values() for a in v][:3]:
        assert re.search(rb"^From: .*<" + re.escape(alias.encode()) + rb">", data, flags=re.M), alias
    decoded = {decode_name(n.decode()) for n in re.findall(rb"^From: (=\?utf-8\?[^<]+?) <", data, flags=re.M)}
    assert any(n and not n.isascii() for n in decoded)


def test_message_shape_statistics(small: Sample, small_mail: dict[str, Mail]) -> None:
    """Replies, team share, working hours and group sizes, measured on every distinct message."""
    resolve = Resolver(small.dir)
    team = {resolve(k): v for k, v in small.truth["teams"].items()}
    distinct = small_mail
    people = [
        m
        for m in distinct.values()
        if m.date and m.sender and "Auto-Submitted" not in m.headers and "List-Id" not in m.headers
    ]
    replies = sum(1 for m in people if m.headers.get("In-Reply-To"))
    assert 0.28 <= replies / len(people) <= 0.45
    pairs = [
        (m.sender, r) for m in people if m.sender in team and len(m.recipients) <= 18 for r in m.recipients if r in team
    ]
    same = sum(team[a] == team[b] for a, b in pairs) / len(pairs)
    assert 0.55 <= same <= 0.85, "small teams of 4-8 mail outside a bit more"
    working = sum(1 for m in people if m.date and m.date.weekday() < 5 and 8 <= m.date.hour < 19)
    assert 0.8 <= working / len(people) < 0.99, "mostly working hours (sender's local time), some after hours"
    sizes = Counter(len(m.recipients) for m in people)
    assert sizes[1] > sizes[2] > 0 and any(k > 18 for k in sizes) and any(10 <= k <= 18 for k in sizes)


def test_bcc_only_in_the_senders_copy(corpus: Corpus, default: Sample) -> None:
    path = next(p for p in sorted((default.dir / "mail").glob("*.mbox")) if b"\nBcc: " in p.read_bytes())
    mails = read_mbox(path, corpus.resolve)
    sent = next(m for m in mails if "Bcc" in m.headers)
    hidden, _ = corpus.resolve.parse(sent.headers["Bcc"])
    internal = [h for h in hidden if h in corpus.team]
    for person in internal:
        copy = next(m for m in corpus.mail(person) if m.message_id == sent.message_id)
        assert "Bcc" not in copy.headers


def test_date_headers_carry_the_senders_offset(corpus: Corpus, default: Sample) -> None:
    config = load_config(default.dir / "config.yaml")
    zone = {e.email: e.timezone for e in config.egos}
    person = next(e for e, z in zone.items() if z == "America/New_York")
    sent = [m for m in corpus.mail(person) if m.sender == person and m.date]
    assert sent
    assert {m.date.utcoffset() for m in sent if m.date} <= {dt.timedelta(hours=-5), dt.timedelta(hours=-4)}


# --- the planted truth, found in the files ------------------------------------------------------------------------


def test_fading_ties_went_silent_after_a_long_strong_run(default: Sample, corpus: Corpus) -> None:
    ties = default.truth["fading_ties"]
    assert len(ties) >= 12
    assert {t["alter_kind"] for t in ties} == {"same_team", "cross_team", "external"}
    for tie in ties:
        mails = corpus.between(tie["ego"], tie["alter"])
        days = sorted({m.date.astimezone(dt.UTC).date() for m in mails if m.date})
        silent = (default.as_of - days[-1]).days
        assert 60 <= silent <= 150, tie
        assert len(days) >= 12, tie
        assert (days[-1] - days[0]).days >= 270, tie
        ego = corpus.resolve(tie["ego"])
        assert any(m.sender == ego for m in mails) and any(m.sender != ego for m in mails), "two-way"
        meetings = corpus.meetings_with(tie["ego"], tie["alter"], default.summary.end)
        assert meetings, "mixed channels: they also met"
        last = dt.date.fromisoformat(tie["last_contact"])
        assert max(meetings) <= last and days[-1] <= last
        assert 60 <= tie["days_silent"] <= 150


def test_steady_ties_are_still_in_touch(default: Sample, corpus: Corpus) -> None:
    ties = default.truth["steady_ties"]
    assert len(ties) >= 12
    for tie in ties:
        mails = corpus.between(tie["ego"], tie["alter"])
        days = sorted({m.date.astimezone(dt.UTC).date() for m in mails if m.date})
        assert (default.as_of - days[-1]).days <= 21, tie
        assert len(days) >= 12 and (days[-1] - days[0]).days >= 270, tie


def test_one_sided_ties_never_answered(default: Sample, corpus: Corpus) -> None:
    ties = default.truth["one_sided_ties"]
    assert len(ties) >= 8
    envelope_senders = set()
    for path in sorted((default.dir / "mail").glob("*.mbox")):
        envelope_senders.update(re.findall(rb"^From (\S+) ", path.read_bytes(), flags=re.M))
    for tie in ties:
        alter = corpus.resolve(tie["alter"])
        assert tie["alter"].encode() not in envelope_senders
        mails = corpus.between(tie["ego"], tie["alter"])
        assert all(m.sender == corpus.resolve(tie["ego"]) for m in mails)
        assert len(mails) >= 8
        dates = sorted(m.date for m in mails if m.date)
        assert (dates[-1] - dates[0]).days >= 90
        assert alter not in corpus.team


def test_burst_of_new_contacts(default: Sample, corpus: Corpus) -> None:
    bursts = default.truth["burst"]
    assert 1 <= len(bursts) <= 2
    window = default.as_of - dt.timedelta(days=30)
    for burst in bursts:
        ego = corpus.resolve(burst["ego"])
        first: dict[str, dt.date] = {}
        for m in corpus.mail(ego):
            if m.date is None:
                continue
            day = m.date.astimezone(dt.UTC).date()
            others = m.recipients if m.sender == ego else [m.sender] if m.sender else []
            for other in others:
                if other != ego and (other not in first or day < first[other]):
                    first[other] = day
        new = [o for o, d in first.items() if d >= window and o not in corpus.team]
        assert len(new) >= 25, burst["ego"]
        assert burst["n_new_contacts"] >= 25


def test_emailers_only_never_meet_and_meeters_mostly_meet(default: Sample, corpus: Corpus) -> None:
    ics = b"".join(p.read_bytes() for p in (default.dir / "calendar").glob("*.ics")).replace(b"\r\n ", b"")
    log = (default.dir / "manual_log.csv").read_text(encoding="utf-8")
    for item in default.truth["emailers_only"]:
        assert f"mailto:{item['person']}".encode() not in ics
        assert item["person"] not in log
        assert len(corpus.mail(item["person"])) > 100
    end = default.summary.end
    for item in default.truth["meeters"]:
        person = item["person"]
        cal = corpus.calendar(person)
        assert cal is not None
        start = dt.datetime.combine(default.summary.start, dt.time(), dt.UTC)
        stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
        meetings = [
            e for e in recurring_ical_events.of(cal).between(start, stop) if str(e.get("STATUS", "")) != "CANCELLED"
        ]
        emails = [
            m
            for m in corpus.mail(person)
            if len(m.recipients) <= 18 and "List-Id" not in m.headers and "Auto-Submitted" not in m.headers
        ]
        assert len(meetings) >= 2.5 * len(emails), (person, len(meetings), len(emails))


def test_narrowing_ego_turns_inward(default: Sample, corpus: Corpus) -> None:
    (item,) = default.truth["narrowing"]
    ego = corpus.resolve(item["ego"])
    since = dt.date.fromisoformat(item["since"])

    def share(lo: dt.date, hi: dt.date) -> float:
        inside = total = 0
        for m in corpus.mail(ego):
            if m.date is None or not lo <= m.date.astimezone(dt.UTC).date() < hi or len(m.recipients) > 18:
                continue
            if "List-Id" in m.headers or "Auto-Submitted" in m.headers:
                continue
            others = m.recipients if m.sender == ego else [m.sender] if m.sender else []
            for other in others:
                if other != ego:
                    total += 1
                    inside += corpus.team.get(other) == corpus.team[ego]
        return inside / total

    before = share(since - dt.timedelta(days=270), since)
    after = share(since, default.as_of)
    assert after - before >= 0.25, (before, after)


def test_brokers_have_strong_two_way_ties_into_three_other_teams(default: Sample, corpus: Corpus) -> None:
    brokers = default.truth["brokers"]
    assert len(brokers) >= 3
    for broker in brokers:
        ego = corpus.resolve(broker["person"])
        sent: Counter[str] = Counter()
        received: Counter[str] = Counter()
        for m in corpus.mail(ego):
            if m.sender == ego:
                sent.update(r for r in m.recipients if r != ego)
            elif m.sender and ego in m.recipients:
                received[m.sender] += 1
        strong_teams = {
            corpus.team[other]
            for other in sent
            if other in corpus.team
            and corpus.team[other] != corpus.team[ego]
            and min(sent[other], received[other]) >= 8
        }
        assert len(strong_teams) >= 3, (broker["person"], strong_teams)
        assert set(broker["bridged_teams"]) <= strong_teams


def test_quarantine_records_are_broken_as_listed(default: Sample, corpus: Corpus) -> None:
    planted = default.truth["quarantine"]
    assert {q["reason"] for q in planted} == {"missing_date", "implausible_date", "no_sender"}
    assert len(planted) <= 6
    for item in planted:
        owner = item["mailbox"].removesuffix(".mbox") + "@northwind.example"
        (mail,) = [m for m in corpus.mail(owner) if m.message_id == item["message_id"]]
        if item["reason"] == "missing_date":
            assert "Date" not in mail.headers
        elif item["reason"] == "implausible_date":
            assert mail.date is not None and mail.date.year == 1979
        else:
            assert mail.sender is None
    (bad,) = default.truth["bad_address_messages"]
    owner = bad["mailboxes"][0].removesuffix(".mbox") + "@northwind.example"
    (mail,) = [m for m in corpus.mail(owner) if m.message_id == bad["message_id"]]
    good, n_bad = corpus.resolve.parse(mail.headers.get("To"), mail.headers.get("Cc"))
    assert n_bad == 1 and len(good) >= 2


def test_replies_reference_the_message_they_answer(corpus: Corpus, default: Sample) -> None:
    ego = default.truth["fading_ties"][0]["ego"]
    mails = corpus.mail(ego)
    by_id = {m.message_id: m for m in mails}
    checked = 0
    for m in mails:
        parent_id = m.headers.get("In-Reply-To")
        if parent_id and parent_id in by_id:
            parent = by_id[parent_id]
            assert str(m.headers["Subject"]).startswith("Re: ")
            assert str(m.headers["References"]).split()[-1] == parent_id
            assert parent.date and m.date and parent.date < m.date
            checked += 1
    assert checked > 20


def test_names_are_encoded_alike_whatever_another_library_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise (imported by the notifications) registers quoted-printable for UTF-8 headers process-wide; the
    sample's headers must stay byte for byte what a fresh process writes."""
    fresh = address_header("Zoë Müller", "zoe@acme.example")
    assert fresh.startswith("=?utf-8?") and fresh.endswith(" <zoe@acme.example>")
    monkeypatch.setitem(email.charset.CHARSETS, "utf-8", (email.charset.QP, email.charset.QP, "utf-8"))
    assert formataddr(("Zoë Müller", "zoe@acme.example")) != fresh  # what the registration does to the default
    assert address_header("Zoë Müller", "zoe@acme.example") == fresh
