"""``generate_sample``: build the organisation, plan the patterns, simulate, write the files and the truth."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tiepulse.sample.circles import Circles
from tiepulse.sample.contacts import ContactModel
from tiepulse.sample.faded import faded_relationships
from tiepulse.sample.lists import list_messages, list_truth, mailing_lists
from tiepulse.sample.mail import MailBuilder
from tiepulse.sample.manual import manual_log
from tiepulse.sample.meetings import MeetingBuilder
from tiepulse.sample.model import ManualEntry, Meeting, Message, Org, Person
from tiepulse.sample.org import build_org
from tiepulse.sample.plan import Plan, PlantedTie, make_plan, min_active_days, prospects_needed
from tiepulse.sample.render import mailbox_copies, write_calendars, write_mboxes
from tiepulse.sample.tables import (
    contact_rows,
    write_config,
    write_contacts,
    write_directory,
    write_manual_log,
)
from tiepulse.sample.volume import CHUNK_DAYS, Traffic, Volume, write_traffic

ProgressCallback = Callable[[int, int], None]
MEANINGFUL_RECIPIENTS = 18
MIN_MONTHS = 12


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """What ``generate_sample`` wrote."""

    out_dir: Path
    seed: int
    start: dt.date
    end: dt.date
    as_of: dt.date
    people: int
    externals: int
    messages: int
    """Distinct messages."""
    mailbox_copies: int
    """Messages summed over every mbox (Sent + Inbox copies)."""
    events: int
    """Distinct VEVENTs (series masters, single events and moved occurrences)."""
    event_copies: int
    manual_log_rows: int
    mail_dir: Path
    calendar_dir: Path
    manual_log: Path
    directory: Path
    contacts: Path
    config: Path
    truth: Path


def _start_of(end: dt.date, months: int) -> dt.date:
    index = end.year * 12 + end.month - months
    return dt.date(index // 12, index % 12 + 1, 1)


def generate_sample(
    out_dir: Path,
    *,
    seed: int = 7,
    end: dt.date = dt.date(2026, 6, 30),
    months: int = 18,
    people: int = 150,
    externals: int = 300,
    volume: Volume | None = None,
    on_progress: ProgressCallback | None = None,
) -> SampleSummary:
    """Write a believable, deterministic sample organisation to ``out_dir`` (same seed, same bytes).

    ``volume`` adds everyday traffic at that volume around the planted patterns (``volume.ORDINARY``: about
    30 sent mails and four meetings a working day per person); without it the mail is the demo's light one.
    ``on_progress(done, total)`` is called as the work advances (for a progress bar). Files of an earlier run
    in ``mail/`` and ``calendar/`` are replaced; nothing else in ``out_dir`` is touched.
    """
    _check_size(people=people, months=months, externals=externals)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A rerun into the same folder must not leave mailboxes or calendars of people who no longer exist.
    for stale in [*out_dir.glob("mail/*.mbox"), *out_dir.glob("calendar/*.ics")]:
        stale.unlink()
    start = _start_of(end, months)
    as_of = end + dt.timedelta(days=1)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    total = 6 + 2 * people + (-(-len(days) // CHUNK_DAYS) if volume else 0)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    def rng(section: str) -> random.Random:
        return _rng(seed, section)

    org, plan = _organisation(seed, people=people, externals=externals, start=start, end=end)
    contacts = ContactModel(rng("contacts"), org, plan)
    tick()

    mail = MailBuilder(rng("mail"), org, plan, contacts)
    mail.background()
    for tie in plan.ties:
        mail.planted_tie(tie)
    mail.one_sided()
    mail.bursts()
    mail.announcements()
    mail.automated()
    broken = mail.broken()
    messages = sorted((m for m in mail.messages if mailbox_copies(m)), key=lambda m: (m.utc, m.seq))
    for n, msg in enumerate(messages, start=1):
        msg.message_id = f"<{n}.{seed}@sample.tiepulse>"
    tick()

    meet = MeetingBuilder(rng("meetings"), org, plan, contacts, seed)
    meet.recurring()
    for tie in plan.ties:
        meet.planted_tie(tie)
    meet.ad_hoc()
    meet.all_day()
    tick()

    entries = manual_log(rng("manual"), plan, contacts)
    tick()

    lists = mailing_lists(rng("lists"), org)
    posts = list_messages(rng("list-mail"), lists, start, end)
    for n, msg in enumerate(sorted(posts, key=lambda m: (m.utc, m.seq)), start=1):
        msg.message_id = f"<list.{n}.{seed}@sample.tiepulse>"
    delivered = sorted([*messages, *posts], key=lambda m: (m.utc, m.kind == "list", m.seq))
    mail_counts = write_mboxes(out_dir / "mail", org.people, delivered, tick)
    stamp = dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC)
    tz_window = (start - dt.timedelta(days=62), end + dt.timedelta(days=400))
    cal_counts = write_calendars(
        out_dir / "calendar", org.people, meet.meetings, stamp=stamp, tz_window=tz_window, tick=tick
    )
    stats_volume: dict[str, object] = {}
    if volume is not None:
        planted_per_day = _meetings_per_workday(meet.meetings, people, days)
        traffic = Traffic(Circles(org, plan), seed=seed, volume=volume)
        write_traffic(
            traffic, days, mail_dir=out_dir / "mail", calendar_dir=out_dir / "calendar", stamp=stamp, tick=tick
        )
        for person, n in zip(org.people, traffic.counts.mailbox_copies.tolist(), strict=True):
            mail_counts[person.local] += n
        added = dict(zip([p.local for p in org.people], traffic.counts.event_copies.tolist(), strict=True))
        cal_counts = {
            p.local: cal_counts.get(p.local, 0) + added[p.local]
            for p in org.people
            if p.local in cal_counts or added[p.local]
        }
        stats_volume = _volume_truth(traffic, volume, planted_per_day, people, days)
    manual_rows = write_manual_log(out_dir / "manual_log.csv", entries)
    write_directory(out_dir / "directory.csv", org, plan)
    book = contact_rows(rng("tables"), org, plan, contacts)
    contacts_rows = write_contacts(out_dir / "contacts.csv", book)
    write_config(out_dir / "config.yaml", org)
    tick()

    n_externals = len(org.externals) + len(org.prospects)
    n_events = sum(1 + len(m.overrides) for m in meet.meetings) + int(stats_volume.get("meetings", 0))  # type: ignore[call-overload]
    n_messages = len(messages) + len(posts) + int(stats_volume.get("messages", 0))  # type: ignore[call-overload]
    counts: dict[str, object] = {
        "messages": n_messages,
        "mailbox_copies": sum(mail_counts.values()),
        "mailboxes": mail_counts,
        "events": n_events,
        "event_copies": sum(cal_counts.values()),
        "calendars": cal_counts,
        "manual_log_rows": manual_rows,
        "contacts_rows": contacts_rows,
        "people": len(org.people),
        "externals": n_externals,
    }
    planned = [(str(owner), str(person), int(str(cadence))) for person, _, cadence, owner in book if cadence != ""]
    truth = _truth(org, plan, messages, meet.meetings, entries, broken, counts, planned, seed=seed, months=months)
    if volume is not None:
        truth["volume"] = stats_volume
    truth["mailing_lists"] = list_truth(lists)
    truth_path = out_dir / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tick()
    return SampleSummary(
        out_dir=out_dir,
        seed=seed,
        start=start,
        end=end,
        as_of=as_of,
        people=len(org.people),
        externals=n_externals,
        messages=n_messages,
        mailbox_copies=sum(mail_counts.values()),
        events=n_events,
        event_copies=sum(cal_counts.values()),
        manual_log_rows=manual_rows,
        mail_dir=out_dir / "mail",
        calendar_dir=out_dir / "calendar",
        manual_log=out_dir / "manual_log.csv",
        directory=out_dir / "directory.csv",
        contacts=out_dir / "contacts.csv",
        config=out_dir / "config.yaml",
        truth=truth_path,
    )


def _check_size(*, people: int, months: int, externals: int) -> None:
    if people < 60:
        raise ValueError("people must be at least 60 (the planted patterns need distinct people)")
    if months < MIN_MONTHS:
        raise ValueError(
            f"months must be at least {MIN_MONTHS} (fading ties need 7 months of contact and 2 of silence)"
        )
    n_one_sided, burst_sizes = prospects_needed(people)
    n_prospects = n_one_sided + sum(burst_sizes)
    if externals < n_prospects + 60:
        raise ValueError(f"externals must be at least {n_prospects + 60} for {people} people")


def _rng(seed: int, section: str) -> random.Random:
    return random.Random(f"tiepulse-sample:{seed}:{section}")


def _organisation(seed: int, *, people: int, externals: int, start: dt.date, end: dt.date) -> tuple[Org, Plan]:
    n_one_sided, burst_sizes = prospects_needed(people)
    n_prospects = n_one_sided + sum(burst_sizes)
    org = build_org(
        _rng(seed, "org"), people=people, externals=externals, n_prospects=n_prospects, start=start, end=end
    )
    return org, make_plan(_rng(seed, "plan"), org, start=start, end=end, people=people)


def _meetings_per_workday(meetings: list[Meeting], people: int, days: list[dt.date]) -> float:
    """Meetings the planted layer gives each employee per working day (accepted or not), on average."""
    first, last = days[0], days[-1]
    attended = 0
    for meeting in meetings:
        internal = sum(a.person.internal for a in meeting.attendees)
        held = 0
        for when in meeting.occurrences:
            day = when.date() if isinstance(when, dt.datetime) else when
            held += first <= day <= last
        attended += internal * held
    workdays = sum(d.weekday() < 5 for d in days)
    return attended / max(1, people * workdays)


def _volume_truth(
    traffic: Traffic, volume: Volume, planted_per_day: float, people: int, days: list[dt.date]
) -> dict[str, object]:
    counts = traffic.counts
    workdays = sum(d.weekday() < 5 for d in days)
    return {
        "mails_per_day": volume.mails_per_day,
        "meetings_per_day": volume.meetings_per_day,
        "messages": counts.messages,
        "replies": counts.replies,
        "mailbox_copies": int(counts.mailbox_copies.sum()),
        "meetings": counts.meetings,
        "event_copies": int(counts.event_copies.sum()),
        "sent_per_person_workday": round(counts.sent_by_employees / (people * workdays), 2),
        "recipients_per_message": round(counts.recipients / max(1, counts.messages), 2),
        "planted_meetings_per_person_workday": round(planted_per_day, 2),
        "meetings_per_person_workday": round(planted_per_day + counts.attendances / (people * workdays), 2),
    }


@dataclass(frozen=True, slots=True)
class NextDaySummary:
    """What ``generate_next_day`` wrote."""

    out_dir: Path
    day: dt.date
    as_of: dt.date
    messages: int
    mailbox_copies: int
    meetings: int


def next_working_day(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def generate_next_day(
    out_dir: Path,
    *,
    seed: int = 7,
    end: dt.date = dt.date(2026, 6, 30),
    months: int = 18,
    people: int = 150,
    externals: int = 300,
    volume: Volume,
) -> NextDaySummary:
    """Write the everyday traffic of the first working day after the sample into ``out_dir`` (mail/, calendar/).

    The same arguments as ``generate_sample`` name the same organisation; the day's traffic is the one a
    same organisation has on that day in a longer sample. Import it after the sample to measure a daily refresh.
    """
    _check_size(people=people, months=months, externals=externals)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("mail/*.mbox"), *out_dir.glob("calendar/*.ics")]:
        stale.unlink()
    start = _start_of(end, months)
    day = next_working_day(end)
    org, plan = _organisation(seed, people=people, externals=externals, start=start, end=end)
    traffic = Traffic(Circles(org, plan), seed=seed, volume=volume)
    stamp = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    write_traffic(
        traffic, [day], mail_dir=out_dir / "mail", calendar_dir=out_dir / "calendar", stamp=stamp, tick=lambda: None
    )
    return NextDaySummary(
        out_dir=out_dir,
        day=day,
        as_of=day + dt.timedelta(days=1),
        messages=traffic.counts.messages,
        mailbox_copies=int(traffic.counts.mailbox_copies.sum()),
        meetings=traffic.counts.meetings,
    )


# --- the planted truth, measured back from what was generated -----------------------------------------------


class _Ledger:
    """Every contact in the generated data: email sender-recipient, meeting co-attendance, manual log."""

    def __init__(self, messages: list[Message], meetings: list[Meeting], entries: list[ManualEntry], end: dt.date):
        self.sent: Counter[tuple[int, int]] = Counter()
        self.days: dict[tuple[int, int], set[dt.date]] = defaultdict(set)
        self.meaningful_days: dict[tuple[int, int], set[dt.date]] = defaultdict(set)
        """Contact days as the analysis counts them: mail to at most 18 people, meetings of at most 18 invitees
        that both accepted or answered tentative, log rows."""
        self.channels: dict[tuple[int, int], set[str]] = defaultdict(set)
        self.email_log: list[tuple[dt.date, Person, Person]] = []
        """(day, sender, recipient) of every meaningful email (at most 18 recipients)."""
        self.person_emails: Counter[int] = Counter()
        self.person_meetings: Counter[int] = Counter()
        for msg in messages:
            if msg.kind not in ("person", "bad_address") or msg.sender is None:
                continue
            day = msg.utc.date()
            recipients = [p for p, _ in msg.recipients if p.kind != "invalid"]
            meaningful = len(recipients) <= MEANINGFUL_RECIPIENTS
            if meaningful:
                self.person_emails[msg.sender.idx] += 1
            for r in recipients:
                self.sent[(msg.sender.idx, r.idx)] += 1
                self._add(msg.sender, r, day, "email")
                if meaningful:
                    self.meaningful_days[self.key(msg.sender, r)].add(day)
                if meaningful:
                    self.email_log.append((day, msg.sender, r))
                    self.person_emails[r.idx] += 1
        for meeting in meetings:
            accepted = [a.person for a in meeting.attendees if a.partstat == "ACCEPTED"]
            # The analysis counts tentative answers too, and only meetings of at most 18 invitees.
            present = [a.person for a in meeting.attendees if a.partstat in ("ACCEPTED", "TENTATIVE")]
            small = len(meeting.attendees) <= MEANINGFUL_RECIPIENTS
            for when in meeting.occurrences:
                day = when.astimezone(dt.UTC).date() if isinstance(when, dt.datetime) else when
                if day > end:
                    continue
                for i, a in enumerate(accepted):
                    self.person_meetings[a.idx] += 1
                    for b in accepted[i + 1 :]:
                        self._add(a, b, day, "meeting")
                if small:
                    for i, a in enumerate(present):
                        for b in present[i + 1 :]:
                            self.meaningful_days[self.key(a, b)].add(day)
        for entry in entries:
            self._add(entry.owner, entry.person, entry.day, entry.channel)
            self.meaningful_days[self.key(entry.owner, entry.person)].add(entry.day)

    @staticmethod
    def key(a: Person, b: Person) -> tuple[int, int]:
        return (a.idx, b.idx) if a.idx < b.idx else (b.idx, a.idx)

    def _add(self, a: Person, b: Person, day: dt.date, channel: str) -> None:
        key = self.key(a, b)
        self.days[key].add(day)
        self.channels[key].add(channel)


def _tie_truth(tie: PlantedTie, ledger: _Ledger, plan: Plan) -> dict[str, object]:
    key = _Ledger.key(tie.ego, tie.alter)
    days = sorted(ledger.days[key])
    last = days[-1]
    item: dict[str, object] = {
        "ego": tie.ego.email,
        "alter": tie.alter.email,
        "alter_kind": tie.alter_kind,
        "was_every_n_days": round((last - days[0]).days / max(1, len(days) - 1), 1),
        "first_contact": days[0].isoformat(),
        "last_contact": last.isoformat(),
        "days_silent": (plan.as_of - last).days,
        "contact_days": len(days),
        "emails_ego_to_alter": ledger.sent[(tie.ego.idx, tie.alter.idx)],
        "emails_alter_to_ego": ledger.sent[(tie.alter.idx, tie.ego.idx)],
        "channels": sorted(ledger.channels[key]),
    }
    silent = (plan.as_of - last).days
    months_active = (last - days[0]).days
    if tie.fading and not (60 <= silent <= 150 and months_active >= min_active_days(plan.as_of - plan.start)):
        raise RuntimeError(f"planted fading tie {item} does not hold; the generator has a bug")
    if not tie.fading and silent > 21:
        raise RuntimeError(f"planted steady tie {item} does not hold; the generator has a bug")
    return item


def _share_in_team(ledger: _Ledger, ego: Person, since: dt.date, until: dt.date) -> float:
    inside = total = 0
    for day, sender, recipient in ledger.email_log:
        if not since <= day < until or ego not in (sender, recipient):
            continue
        other = recipient if sender is ego else sender
        total += 1
        inside += other.team == ego.team
    return round(inside / total, 3) if total else 0.0


def _stats(org: Org, messages: list[Message]) -> dict[str, float]:
    person = [m for m in messages if m.kind == "person" and m.sender is not None]
    internal_pairs = same_team = 0
    after_hours = weekend = 0
    for msg in person:
        local = msg.when
        hour = local.hour + local.minute / 60
        weekend += local.weekday() >= 5
        after_hours += local.weekday() < 5 and not 8 <= hour < 18.5
        if msg.sender is None or not msg.sender.internal or len(msg.recipients) > MEANINGFUL_RECIPIENTS:
            continue
        for r, _ in msg.recipients:
            if r.internal:
                internal_pairs += 1
                same_team += r.team == msg.sender.team
    n = len(person) or 1
    sizes = Counter(min(len(m.recipients), 31) for m in person)
    return {
        "replies_share": round(sum(m.parent is not None for m in person) / n, 3),
        "internal_email_within_team_share": round(same_team / (internal_pairs or 1), 3),
        "after_hours_share": round(after_hours / n, 3),
        "weekend_share": round(weekend / n, 3),
        "single_recipient_share": round(sizes[1] / n, 3),
        "over_18_recipients": sum(v for k, v in sizes.items() if k > MEANINGFUL_RECIPIENTS),
        "automated_messages": sum(m.kind == "automated" for m in messages),
    }


def _truth(
    org: Org,
    plan: Plan,
    messages: list[Message],
    meetings: list[Meeting],
    entries: list[ManualEntry],
    broken: list[tuple[Message, str]],
    counts: dict[str, object],
    planned: list[tuple[str, str, int]],
    *,
    seed: int,
    months: int,
) -> dict[str, object]:
    ledger = _Ledger(messages, meetings, entries, plan.end)
    window_start = plan.as_of - dt.timedelta(days=30)
    bursts = []
    for burst in plan.bursts:
        first_seen: dict[int, dt.date] = {}
        for (a, b), days in ledger.days.items():
            if burst.ego.idx in (a, b):
                other = b if a == burst.ego.idx else a
                first_seen[other] = min(days)
        bursts.append(
            {
                "ego": burst.ego.email,
                "start": burst.start.isoformat(),
                "n_new_contacts": len(burst.contacts),
                "first_contacts_last_30_days": sum(d >= window_start for d in first_seen.values()),
                "new_contacts": [p.email for p in burst.contacts],
            }
        )
    one_sided = []
    for item in plan.one_sided:
        sent = ledger.sent[(item.ego.idx, item.alter.idx)]
        if ledger.sent[(item.alter.idx, item.ego.idx)] or sent < 8:
            raise RuntimeError(f"planted one-sided tie {item.ego.email} -> {item.alter.email} does not hold")
        seen = sorted(ledger.days[_Ledger.key(item.ego, item.alter)])
        one_sided.append(
            {
                "ego": item.ego.email,
                "alter": item.alter.email,
                "messages": sent,
                "first": seen[0].isoformat(),
                "last": seen[-1].isoformat(),
            }
        )
    team_of = {p.idx: p.team for p in org.people}
    brokers = []
    for broker in plan.brokers:
        reach: dict[str, int] = {}
        for colleague in org.people:
            team = team_of[colleague.idx]
            if team == broker.person.team:
                continue
            two_way = min(
                ledger.sent[(broker.person.idx, colleague.idx)],
                ledger.sent[(colleague.idx, broker.person.idx)],
            )
            reach[team] = max(reach.get(team, 0), two_way)
        brokers.append(
            {
                "person": broker.person.email,
                "team": broker.person.team,
                "bridged_teams": list(broker.bridged_teams),
                "partners": [p.email for p in broker.partners],
                "strongest_two_way_emails_per_team": dict(sorted(reach.items())),
            }
        )
    since = plan.narrowing_since
    narrowing = [
        {
            "ego": plan.narrowing.email,
            "team": plan.narrowing.team,
            "since": since.isoformat(),
            "share_in_team_before": _share_in_team(ledger, plan.narrowing, since - dt.timedelta(days=270), since),
            "share_in_team_after": _share_in_team(ledger, plan.narrowing, since, plan.as_of),
        }
    ]

    def channel_mix(people: list[Person]) -> list[dict[str, object]]:
        return [
            {
                "person": p.email,
                "emails": ledger.person_emails[p.idx],
                "meetings": ledger.person_meetings[p.idx],
            }
            for p in people
        ]

    quarantine = []
    bad_address = []
    for msg, reason in broken:
        boxes = [p.local + ".mbox" for p, _ in mailbox_copies(msg)]
        if reason == "bad_address":
            bad_address.append({"message_id": msg.message_id, "mailboxes": boxes, "bad_address_count": 1})
        else:
            quarantine.append({"message_id": msg.message_id, "mailbox": boxes[0], "reason": reason})
    return {
        "seed": seed,
        "months": months,
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "as_of": plan.as_of.isoformat(),
        "internal_domains": [org.domain, org.legacy_domain],
        "egos": [p.email for p in org.people],
        "teams": {p.email: p.team for p in org.people},
        "departments": {t.name: t.department for t in org.teams.values()},
        "managers": {p.email: p.manager.email for p in org.people if p.manager},
        "aliases": {p.email: p.aliases for p in org.people if p.aliases},
        "x500": {p.email: p.x500 for p in org.people if p.x500},
        "config_aliases": {p.email: [p.legacy_address] for p in org.people if p.legacy_address},
        "external_variants": {e.email: e.recipient_variants for e in org.externals if e.recipient_variants},
        "automated_senders": [a.email for a in org.automated],
        "brokers": brokers,
        "fading_ties": [_tie_truth(t, ledger, plan) for t in plan.ties if t.fading],
        "steady_ties": [_tie_truth(t, ledger, plan) for t in plan.ties if not t.fading],
        "faded": faded_relationships(org, plan, meetings, ledger.meaningful_days, planned),
        "one_sided_ties": one_sided,
        "burst": bursts,
        "emailers_only": channel_mix(plan.emailers_only),
        "meeters": channel_mix(plan.meeters),
        "narrowing": narrowing,
        "manual_log_egos": [p.email for p in plan.manual_egos],
        "quarantine": quarantine,
        "bad_address_messages": bad_address,
        "stats": _stats(org, messages),
        "counts": counts,
    }
