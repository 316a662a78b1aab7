"""Generate the calendar: recurring 1:1s and standups, syncs, ad-hoc and client meetings, all-day events."""

from __future__ import annotations

import datetime as dt
import random

from tiepulse.sample import names
from tiepulse.sample.contacts import ContactModel, at, day_factor, is_holiday
from tiepulse.sample.mail import days_between, next_workday
from tiepulse.sample.model import Attendance, Meeting, Org, Override, Person, poisson
from tiepulse.sample.plan import Plan, PlantedTie

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
AD_HOC_PER_MONTH = 1.1


def _holiday_window(day: dt.date) -> bool:
    return (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 2) or is_holiday(day)


class MeetingBuilder:
    def __init__(self, rng: random.Random, org: Org, plan: Plan, contacts: ContactModel, seed: int) -> None:
        self.rng = rng
        self.org = org
        self.plan = plan
        self.contacts = contacts
        self.seed = seed
        self.meetings: list[Meeting] = []
        self._uids = 0

    def uid(self, kind: str) -> str:
        self._uids += 1
        return f"{kind}-{self._uids:05d}-s{self.seed}@sample.tiepulse"

    def partstat(self, person: Person) -> str:
        u = self.rng.random()
        if person.idx in self.contacts.meeters:
            return "ACCEPTED"
        if u < 0.86:
            return "ACCEPTED"
        if u < 0.93:
            return "TENTATIVE"
        if u < 0.98:
            return "DECLINED"
        return "NEEDS-ACTION"

    def attend(self, organizer: Person, people: list[Person], *, accept_all: bool = False) -> list[Attendance]:
        result = [Attendance(organizer, organizer.email, "ACCEPTED")]
        for person in people:
            status = "ACCEPTED" if accept_all else self.partstat(person)
            result.append(Attendance(person, person.email, status))
        return result

    def filter_group(self, organizer: Person, people: list[Person], day: dt.date) -> list[Person]:
        """Drop anyone who must not meet someone already in the group (planted silences) or never meets."""
        kept: list[Person] = []
        for person in people:
            if person.idx in self.contacts.emailers_only or person is organizer or person in kept:
                continue
            if any(self.plan.silenced(person, other, day) for other in [organizer, *kept]):
                continue
            kept.append(person)
        return kept

    # --- series ------------------------------------------------------------------------------------------
    def series(
        self,
        kind: str,
        title: str,
        organizer: Person,
        people: list[Person],
        first_day: dt.date,
        hour: float,
        minutes: int,
        *,
        interval: int = 1,
        byday: tuple[int, ...] | None = None,
        last_day: dt.date | None = None,
        accept_all: bool = False,
        vacation_exdates: int = 0,
        move_one: bool = False,
        location: str | None = None,
        conference: str | None = None,
    ) -> Meeting | None:
        """A weekly (or every ``interval`` weeks) series; ``last_day`` bounds it with an UNTIL."""
        first_day = next_workday(first_day)
        weekdays = tuple(sorted(byday)) if byday else (first_day.weekday(),)
        people = self.filter_group(organizer, people, last_day or self.plan.end)
        if not people:
            return None
        tz = organizer.tz
        starts: list[dt.datetime] = []
        monday = first_day - dt.timedelta(days=first_day.weekday())
        stop = last_day or self.plan.end
        week = 0
        while monday <= stop:
            if week % interval == 0:
                for wd in weekdays:
                    day = monday + dt.timedelta(days=wd)
                    if first_day <= day <= stop:
                        starts.append(at(day, hour, tz))
            monday += dt.timedelta(weeks=1)
            week += 1
        if not starts:
            return None
        exdates = [s for s in starts if _holiday_window(s.date())]
        regular = [s for s in starts if s not in exdates]
        for _ in range(vacation_exdates):
            if len(regular) > 4:
                skip = self.rng.choice(regular[1:-1])
                exdates.append(skip)
                regular.remove(skip)
        exdates.sort()
        overrides: list[Override] = []
        occurrences: list[dt.datetime | dt.date] = list(regular)
        if move_one and len(regular) > 6:
            moved = self.rng.choice(regular[1:-2])
            shift = dt.timedelta(days=1) if moved.weekday() < 4 else dt.timedelta(hours=2)
            new_start = moved + shift
            overrides.append(Override(moved, new_start, new_start + dt.timedelta(minutes=minutes)))
            occurrences[occurrences.index(moved)] = new_start
        first = starts[0]
        meeting = Meeting(
            uid=self.uid(kind),
            title=title,
            organizer=organizer,
            attendees=self.attend(organizer, people, accept_all=accept_all),
            start=first,
            end=first + dt.timedelta(minutes=minutes),
            kind=kind,
            weekly_interval=interval,
            byday=tuple(WEEKDAYS[d] for d in weekdays) if byday else (),
            until=starts[-1].astimezone(dt.UTC) if last_day else None,
            exdates=exdates,
            overrides=overrides,
            location=location,
            conference=conference,
            occurrences=occurrences,
        )
        self.meetings.append(meeting)
        return meeting

    def recurring(self) -> None:
        rng = self.rng
        start = self.plan.start
        meeters = {p.idx for p in self.plan.meeters}
        for team in self.org.teams.values():
            lead = team.lead
            interval = 1 if rng.random() < 0.4 else 2
            for member in team.members[1:]:
                first = start + dt.timedelta(days=rng.randrange(14))
                self.series(
                    "one_on_one",
                    f"{lead.name.split()[0]} / {member.name.split()[0]} 1:1",
                    lead,
                    [member],
                    first,
                    rng.choice((10.0, 11.0, 13.5, 14.0, 15.0, 16.0)),
                    30,
                    interval=1 if member.idx in meeters else interval,
                    accept_all=True,
                    vacation_exdates=rng.randrange(3),
                    move_one=rng.random() < 0.35,
                )
            if team.standup:
                self.standups(team.name, [m for m in team.members if m.idx not in self.contacts.brokers])
        heads: dict[str, Person] = {}
        for team in self.org.teams.values():
            heads.setdefault(team.department, team.lead)
        for team in self.org.teams.values():
            head = heads[team.department]
            if team.lead is not head:
                self.series(
                    "one_on_one",
                    f"{head.name.split()[0]} / {team.lead.name.split()[0]}",
                    head,
                    [team.lead],
                    start + dt.timedelta(days=rng.randrange(14)),
                    rng.choice((9.0, 12.0, 15.5)),
                    45,
                    interval=2,
                    accept_all=True,
                    move_one=True,
                )
        top = next(p for p in heads.values() if p.manager is None)
        self.series(
            "sync",
            "Leadership weekly",
            top,
            [h for h in heads.values() if h is not top],
            start + dt.timedelta(days=2),
            11.0,
            60,
            vacation_exdates=2,
            location=self.online_link("teams"),
        )
        # A broker meets each bridged team on its own: one joint meeting would introduce the teams to each other
        # and close the very holes the broker spans.
        for broker in self.plan.brokers:
            for team_name in broker.bridged_teams:
                self.series(
                    "sync",
                    f"{broker.person.team} / {team_name} sync",
                    broker.person,
                    [p for p in broker.partners if p.team == team_name],
                    start + dt.timedelta(days=rng.randrange(10)),
                    rng.choice((11.0, 14.0, 15.5)),
                    45,
                    interval=2,
                    accept_all=True,
                    vacation_exdates=1,
                    location=self.online_link("zoom"),
                )
        for meeter in self.plan.meeters:
            partners = self.contacts.team[meeter.idx].people[:3] + self.contacts.cross[meeter.idx].people[:2]
            for partner in partners:
                self.series(
                    "one_on_one",
                    f"{meeter.name.split()[0]} / {partner.name.split()[0]} weekly",
                    meeter,
                    [partner],
                    start + dt.timedelta(days=rng.randrange(10)),
                    rng.choice((9.0, 10.5, 13.0, 16.0)),
                    30,
                    accept_all=True,
                    vacation_exdates=1,
                )

    def standups(self, team_name: str, present: list[Person]) -> None:
        """The team's daily (or Mon/Wed/Fri) standup. Brokers are not in ``present``: their mornings go to the
        teams they bridge. The narrowing person joins only when the narrowing starts, so the standup is sent
        again then, with them in it (until that day, without)."""
        days = (0, 1, 2, 3, 4) if self.rng.random() < 0.6 else (0, 2, 4)
        narrowing, since = self.plan.narrowing, self.plan.narrowing_since
        periods: list[tuple[list[Person], dt.date, dt.date | None]] = [(present, self.plan.start, None)]
        if narrowing in present:
            before = [p for p in present if p is not narrowing]
            periods = [(before, self.plan.start, since - dt.timedelta(days=1)), (present, since, None)]
        for people, first_day, last_day in periods:
            self.series(
                "standup",
                f"{team_name} standup",
                people[0],
                people[1:],
                first_day,
                9.5,
                15,
                byday=days,
                last_day=last_day,
                move_one=True,
                conference=self.online_link("meet"),
            )

    def planted_tie(self, tie: PlantedTie) -> None:
        """Internal pairs meet every two weeks; external ones about monthly on a video call."""
        last_day = tie.silence - dt.timedelta(days=2) if tie.fading else None
        if tie.alter.internal:
            self.series(
                "one_on_one",
                f"{tie.ego.name.split()[0]} / {tie.alter.name.split()[0]}",
                tie.ego,
                [tie.alter],
                tie.start + dt.timedelta(days=self.rng.randrange(10)),
                self.rng.choice((10.0, 12.5, 15.0)),
                30,
                interval=2,
                last_day=last_day,
                accept_all=True,
                vacation_exdates=1,
                move_one=True,
            )
            return
        day = tie.start + dt.timedelta(days=self.rng.randrange(20))
        stop = last_day or self.plan.end
        while True:
            day = next_workday(day)
            if day > stop:
                break
            organizer, guest = (tie.ego, tie.alter) if self.rng.random() < 0.7 else (tie.alter, tie.ego)
            self.single(
                "external",
                f"{tie.alter.domain.split('.')[0]} check-in",
                organizer,
                [guest],
                day,
                accept_all=True,
                online=True,
            )
            day += dt.timedelta(days=self.rng.randint(24, 36))

    # --- single events -------------------------------------------------------------------------------
    def online_link(self, kind: str | None = None) -> str:
        rng = self.rng
        kind = kind or rng.choices(("teams", "meet", "zoom"), weights=(0.45, 0.35, 0.2))[0]
        if kind == "teams":
            token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
            return f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{token}%40thread.v2/0"
        if kind == "zoom":
            return f"https://northwind.zoom.us/j/{rng.randrange(10**9, 10**10)}"
        letters = "abcdefghijklmnopqrstuvwxyz"
        parts = ["".join(rng.choice(letters) for _ in range(n)) for n in (3, 4, 3)]
        return "https://meet.google.com/" + "-".join(parts)

    def single(
        self,
        kind: str,
        title: str,
        organizer: Person,
        people: list[Person],
        day: dt.date,
        *,
        accept_all: bool = False,
        online: bool | None = None,
    ) -> Meeting | None:
        rng = self.rng
        people = self.filter_group(organizer, people, day)
        if not people:
            return None
        minutes = rng.choices((30, 45, 60, 90), weights=(0.4, 0.15, 0.35, 0.1))[0]
        start = at(day, rng.choice((9.0, 9.5, 10.0, 11.0, 11.5, 13.0, 14.0, 14.5, 15.0, 16.0)), organizer.tz)
        everyone = [organizer, *people]
        location: str | None = None
        conference: str | None = None
        room: tuple[str, str] | None = None
        locations = {p.location for p in everyone}
        if online is None:
            online = any(not p.internal for p in everyone) or len(locations) > 1 or rng.random() < 0.3
        if online:
            link = self.online_link()
            if "meet.google.com" in link:
                conference = link
            else:
                location = link
        elif all(p.internal for p in everyone):
            name = rng.choice(names.ROOMS[organizer.location])
            location = name
            if rng.random() < 0.5:
                slug = name.split(" - ")[1].lower()
                room = (name, f"room-{slug}@{self.org.domain}")
        status = "CANCELLED" if rng.random() < 0.015 else "CONFIRMED"
        meeting = Meeting(
            uid=self.uid(kind),
            title=title,
            organizer=organizer,
            attendees=self.attend(organizer, people, accept_all=accept_all),
            start=start,
            end=start + dt.timedelta(minutes=minutes),
            kind=kind,
            location=location,
            conference=conference,
            room=room,
            status=status,
            occurrences=[start] if status == "CONFIRMED" else [],
        )
        self.meetings.append(meeting)
        return meeting

    def ad_hoc(self) -> None:
        rng = self.rng
        for day in days_between(self.plan.start, self.plan.end):
            factor = day_factor(day)
            if day.weekday() >= 5:
                continue
            for person in self.org.people:
                if person.idx in self.contacts.emailers_only:
                    continue
                lam = person.meeting_rate * AD_HOC_PER_MONTH / 21.0 * factor
                if person.idx in self.contacts.meeters:
                    lam *= 8
                for _ in range(poisson(rng, lam)):
                    size = rng.choices((1, 2, 3, 5, 7, 12), weights=(0.42, 0.2, 0.14, 0.12, 0.07, 0.05))[0]
                    size = max(1, size + rng.randint(-1, 1))
                    commercial = person.department == "Commercial"
                    chosen: list[Person] = []
                    for _ in range(size * 3):
                        if len(chosen) >= size:
                            break
                        other = self.contacts.pick(
                            person,
                            day,
                            exclude=chosen,
                            channel="meeting",
                            ext_boost=1.5 if commercial else 1.0,
                        )
                        if other is not None:
                            chosen.append(other)
                    if not chosen:
                        continue
                    topic = rng.choice(names.TOPICS)
                    title = rng.choice(names.MEETING_TITLES).format(t=topic)
                    kind = "external" if any(not p.internal for p in chosen) else "adhoc"
                    self.single(kind, title[0].upper() + title[1:], person, chosen, day)

    def all_day(self) -> None:
        """Quarterly planning days per department and one two-day company offsite (all-day, no time zone)."""
        heads: dict[str, Person] = {}
        for team in self.org.teams.values():
            heads.setdefault(team.department, team.lead)
        month = dt.date(self.plan.start.year, self.plan.start.month, 1)
        while month <= self.plan.end:
            if month.month in (2, 5, 8, 11):
                day = month + dt.timedelta(days=(2 - month.weekday()) % 7)
                for dept, head in heads.items():
                    people = [p for p in self.org.people if p.department == dept and p is not head]
                    self._all_day(f"{dept} planning day", head, people, day, 1)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        offsite = next_workday(self.plan.start + dt.timedelta(days=160))
        offsite -= dt.timedelta(days=offsite.weekday() - 2) if offsite.weekday() > 2 else dt.timedelta(0)
        top = next(p for p in heads.values() if p.manager is None)
        self._all_day("Company offsite", top, [p for p in self.org.people if p is not top], offsite, 2)

    def _all_day(self, title: str, organizer: Person, people: list[Person], day: dt.date, days: int) -> None:
        people = self.filter_group(organizer, people, day)
        meeting = Meeting(
            uid=self.uid("allday"),
            title=title,
            organizer=organizer,
            attendees=self.attend(organizer, people),
            start=day,
            end=day + dt.timedelta(days=days),
            kind="all_day",
            occurrences=[day + dt.timedelta(days=n) for n in range(days)],
        )
        self.meetings.append(meeting)
