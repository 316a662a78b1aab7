"""Who tends to contact whom, when people work, and which contacts the planted truth forbids.

Shared by the mail, meeting and manual-log builders so that all channels follow one social structure.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from zoneinfo import ZoneInfo

from tiepulse.sample.model import Org, Person
from tiepulse.sample.plan import Plan

WORK_START = 8.0
WORK_END = 18.5


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def at(day: dt.date, hour: float, tz: str) -> dt.datetime:
    """The aware local time ``hour`` (fractional, minute resolution) on ``day`` in ``tz``."""
    minutes = round(hour * 60)
    minutes = min(max(minutes, 0), 24 * 60 - 1)
    return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone(tz))


def is_holiday(day: dt.date) -> bool:
    """The quiet days around the new year."""
    return (day.month == 12 and day.day >= 24) or (day.month == 1 and day.day <= 1)


def day_factor(day: dt.date) -> float:
    if is_holiday(day):
        return 0.1
    return (1.0, 1.0, 1.0, 1.0, 0.9, 0.05, 0.03)[day.weekday()]


def work_hour(rng: random.Random, after_hours: float = 0.07) -> float:
    """A local send time: mostly 8:00-18:30 with a morning and an afternoon peak, a few evenings."""
    u = rng.random()
    if u < after_hours:
        return rng.uniform(18.6, 23.0) if rng.random() < 0.8 else rng.uniform(6.0, 7.9)
    peak = 10.0 if rng.random() < 0.55 else 14.5
    return min(max(rng.gauss(peak, 1.6), WORK_START), WORK_END - 0.1)


def snap_to_work(rng: random.Random, when: dt.datetime, tz: str) -> dt.datetime:
    """Move a reply that would land outside working time to the replier's next working morning (usually)."""
    local = when.astimezone(zone(tz))
    hour = local.hour + local.minute / 60
    working = local.weekday() < 5 and WORK_START <= hour < WORK_END
    if working or rng.random() < 0.15:
        return local
    day = local.date()
    if hour >= WORK_START or local.weekday() >= 5:
        day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return at(day, rng.uniform(WORK_START, 10.5), tz)


@dataclass(slots=True)
class Pool:
    people: list[Person] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    _cum: list[float] | None = None

    def add(self, person: Person, weight: float) -> None:
        if person in self.people:
            i = self.people.index(person)
            self.weights[i] += weight
        else:
            self.people.append(person)
            self.weights.append(weight)
        self._cum = None

    def pick(self, rng: random.Random) -> Person:
        if self._cum is None:
            self._cum = list(accumulate(self.weights))
        return rng.choices(self.people, cum_weights=self._cum)[0]

    def __bool__(self) -> bool:
        return bool(self.people)


class ContactModel:
    """Per internal person: weighted team-mates, cross-team contacts and external contacts."""

    def __init__(self, rng: random.Random, org: Org, plan: Plan) -> None:
        self.rng = rng
        self.org = org
        self.plan = plan
        self.team: dict[int, Pool] = {}
        self.cross: dict[int, Pool] = {}
        self.ext: dict[int, Pool] = {}
        self.meeters = {p.idx for p in plan.meeters}
        self.emailers_only = {p.idx for p in plan.emailers_only}
        self.brokers = {b.person.idx for b in plan.brokers}
        self.partners = {p.idx for b in plan.brokers for p in b.partners}
        self.leads = {t.lead.idx for t in org.teams.values()}
        self._build()

    def _build(self) -> None:
        rng, org = self.rng, self.org
        for person in org.people:
            self.team[person.idx] = Pool()
            self.cross[person.idx] = Pool()
            self.ext[person.idx] = Pool()
        for team in org.teams.values():
            for person in team.members:
                pool = self.team[person.idx]
                for other in team.members:
                    if other is person:
                        continue
                    weight = rng.lognormvariate(0.0, 0.8)
                    if other is team.lead or person is team.lead:
                        weight *= 2.0
                    pool.add(other, weight)
        team_names = list(org.teams)
        for person in org.people:
            if person.idx in self.brokers:
                continue
            same_dept = [t for t in team_names if t != person.team and org.teams[t].department == person.department]
            elsewhere = [t for t in team_names if t != person.team]
            n_teams = 2 if person.idx in self.leads else rng.choice((1, 1, 2))
            chosen_teams: list[str] = []
            for _ in range(n_teams):
                options = same_dept if same_dept and rng.random() < 0.6 else elsewhere
                chosen_teams.append(rng.choice(options))
            for team_name in chosen_teams:
                members = self.org.teams[team_name].members
                for contact in rng.sample(members, min(len(members), rng.choice((1, 2, 2, 3)))):
                    weight = rng.lognormvariate(-0.3, 0.7)
                    self.cross[person.idx].add(contact, weight)
                    if rng.random() < 0.6:
                        self.cross[contact.idx].add(person, weight * 0.7)
        for broker in self.plan.brokers:
            b = broker.person
            for partner in broker.partners:
                self.cross[b.idx].add(partner, 3.0)
                self.cross[partner.idx].add(b, 3.0)
            for team_name in broker.bridged_teams:
                extra = rng.choice(self.org.teams[team_name].members)
                self.cross[b.idx].add(extra, 1.0)
                self.cross[extra.idx].add(b, 0.5)
        narrowing = self.plan.narrowing
        narrowing.rate = max(narrowing.rate, 1.8)
        others = [t for t in team_names if t != narrowing.team]
        for team_name in rng.sample(others, 3):
            for contact in rng.sample(self.org.teams[team_name].members, 2):
                self.cross[narrowing.idx].add(contact, 1.5)
                self.cross[contact.idx].add(narrowing, 0.8)
        for ext in org.externals:
            for owner in ext.owners:
                self.ext[owner.idx].add(ext, 0.3 + ext.rate * 4)
        for broker in self.plan.brokers:
            broker.person.rate = max(broker.person.rate, 1.6)
            for partner in broker.partners:
                partner.rate = max(partner.rate, 1.0)

    # --- shares -------------------------------------------------------------------------------------------
    def cross_share(self, person: Person, day: dt.date) -> float:
        if person is self.plan.narrowing:
            return 0.03 if day >= self.plan.narrowing_since else 0.75
        if person.idx in self.brokers:
            return 0.5
        if person.idx in self.leads:
            return 0.3
        if person.idx in self.partners:
            return 0.27
        return 0.28

    def external_share(self, person: Person, day: dt.date) -> float:
        if person is self.plan.narrowing and day >= self.plan.narrowing_since:
            return 0.0
        if not self.ext[person.idx]:
            return 0.0
        return self.org.team_of(person).external_share

    # --- rules ---------------------------------------------------------------------------------------------
    def allowed(self, sender: Person, recipient: Person, day: dt.date, channel: str = "email") -> bool:
        """May ``sender`` contact ``recipient`` on ``day`` in background activity?

        ``channel`` is ``email`` (a new message), ``reply`` or ``meeting``; people who prefer meetings are
        rarely written to, people who only email never meet.
        """
        if recipient is sender or recipient.kind in ("prospect", "automated"):
            return False
        if self.plan.silenced(sender, recipient, day):
            return False
        if recipient.active_from and day < recipient.active_from:
            return False
        if recipient.active_until and day > recipient.active_until:
            return False
        if sender.active_from and day < sender.active_from:
            return False
        narrowing, since = self.plan.narrowing, self.plan.narrowing_since
        if day >= since and narrowing in (sender, recipient):
            other = recipient if sender is narrowing else sender
            if other.team != narrowing.team and self.rng.random() < 0.93:
                return False
        if channel == "meeting":
            return recipient.idx not in self.emailers_only
        return not (channel == "email" and recipient.idx in self.meeters and self.rng.random() < 0.9)

    def pick(
        self,
        sender: Person,
        day: dt.date,
        *,
        exclude: list[Person],
        channel: str = "email",
        ext_boost: float = 1.0,
    ) -> Person | None:
        """One background contact for an internal sender (None when the draw is not allowed)."""
        u = self.rng.random()
        ext = self.external_share(sender, day) * ext_boost
        if u < ext:
            pool = self.ext[sender.idx]
        elif u < ext + self.cross_share(sender, day) and self.cross[sender.idx]:
            pool = self.cross[sender.idx]
        else:
            pool = self.team[sender.idx]
        if not pool:
            return None
        person = pool.pick(self.rng)
        if person in exclude or not self.allowed(sender, person, day, channel):
            return None
        if channel == "meeting" and not self.same_world(sender, exclude, person):
            return None
        return person

    def same_world(self, sender: Person, chosen: list[Person], person: Person) -> bool:
        """A broker keeps the groups it bridges apart: each meeting it calls involves one team (and outsiders)."""
        if sender.idx not in self.brokers or not person.internal:
            return True
        return all(other.team == person.team for other in chosen if other.internal)
