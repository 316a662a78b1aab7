"""Who plays which planted role: brokers, fading and steady ties, one-sided ties, bursts, narrowing, etc.

Roles never overlap (a person holds at most one), so each planted pattern stays clean and testable.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from tiepulse.sample.model import Org, Person

COMMERCIAL = ("Enterprise Sales", "Account Management", "Marketing")


@dataclass(eq=False, slots=True)
class PlantedTie:
    ego: Person
    alter: Person
    alter_kind: str
    """same_team | cross_team | external"""
    fading: bool
    start: dt.date
    silence: dt.date
    """First day without contact (fading ties); the day after the data ends for steady ties."""
    email_every: int


@dataclass(frozen=True, slots=True)
class Broker:
    person: Person
    bridged_teams: tuple[str, ...]
    partners: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class OneSided:
    ego: Person
    alter: Person
    first: dt.date
    last: dt.date
    messages: int


@dataclass(frozen=True, slots=True)
class Burst:
    ego: Person
    start: dt.date
    contacts: tuple[Person, ...]


@dataclass(slots=True)
class Plan:
    start: dt.date
    end: dt.date
    as_of: dt.date
    brokers: list[Broker]
    narrowing: Person
    narrowing_since: dt.date
    emailers_only: list[Person]
    meeters: list[Person]
    ties: list[PlantedTie]
    manual_egos: list[Person]
    one_sided: list[OneSided]
    bursts: list[Burst]
    blocked: dict[tuple[int, int], dt.date] = field(default_factory=dict)
    """Pairs (sorted idx) that must have no contact from the given day on."""

    def silenced(self, a: Person, b: Person, day: dt.date) -> bool:
        key = (a.idx, b.idx) if a.idx < b.idx else (b.idx, a.idx)
        since = self.blocked.get(key)
        return since is not None and day >= since


def prospects_needed(people: int) -> tuple[int, list[int]]:
    """(one-sided alters, burst sizes) for an organisation of this size."""
    one_sided = 10 if people >= 100 else 8
    bursts = [32, 27] if people >= 100 else [28]
    return one_sided, bursts


class _Picker:
    def __init__(self, rng: random.Random, org: Org) -> None:
        self.rng = rng
        self.org = org
        self.taken: set[int] = {t.lead.idx for t in org.teams.values()}
        legacy = [p for p in org.people if p.legacy_address]
        self.taken.update(p.idx for p in legacy)

    def one(self, candidates: list[Person]) -> Person:
        free = [p for p in candidates if p.idx not in self.taken]
        if not free:
            raise ValueError("the organisation is too small for the planted patterns; use more people")
        person = self.rng.choice(free)
        self.taken.add(person.idx)
        return person

    def free(self, team_name: str) -> int:
        return sum(1 for p in self.org.teams[team_name].members if p.idx not in self.taken)

    def members(self, *team_names: str) -> list[Person]:
        return [p for name in team_names for p in self.org.teams[name].members]


def make_plan(rng: random.Random, org: Org, *, start: dt.date, end: dt.date, people: int) -> Plan:
    as_of = end + dt.timedelta(days=1)
    pick = _Picker(rng, org)
    team_names = list(org.teams)
    small = people < 100

    # Most constrained roles first: outreach needs commercial people, fading team-mates need free team-mates.
    n_one_sided, burst_sizes = prospects_needed(people)
    prospects = list(org.prospects)
    burst_egos = [pick.one(pick.members("Enterprise Sales", "Marketing")) for _ in burst_sizes]
    one_sided_egos = [pick.one(pick.members(*COMMERCIAL)) for _ in range(max(2, n_one_sided // 3))]

    # Focus egos: each gets two fading and two steady ties. Egos in teams without a standup can fade
    # from a team-mate (a shared daily standup would keep any team-mates in touch).
    quiet_teams = [t for t in team_names if not org.teams[t].standup]
    busy_teams = [t for t in team_names if org.teams[t].standup]
    n_focus = 6 if small else 8
    quiet_ok = [t for t in quiet_teams if pick.free(t) >= 3]
    focus_teams = rng.sample(quiet_ok, min(3, len(quiet_ok)))
    busy_ok = [t for t in busy_teams if pick.free(t) >= 1]
    focus_teams += rng.sample(busy_ok, min(n_focus - len(focus_teams), len(busy_ok)))
    if len(focus_teams) < n_focus:
        raise ValueError("the organisation is too small for the planted patterns; use more people")
    focus = [pick.one(pick.members(t)) for t in focus_teams]
    externals = [e for e in org.externals if e.kind in ("client", "partner") and e.active_until is None]
    externals = [e for e in externals if e.active_from == start]
    used_externals: set[int] = set()

    def external_alter() -> Person:
        free = [e for e in externals if e.idx not in used_externals]
        alter = rng.choice(free)
        used_externals.add(alter.idx)
        return alter

    specs: list[tuple[Person, str, bool]] = []
    for n, ego in enumerate(focus):
        quiet = not org.teams[ego.team].standup
        kinds_fading = ["same_team" if quiet else "cross_team", "external" if n % 2 == 0 else "cross_team"]
        kinds_steady = ["same_team" if quiet else "cross_team", "external" if n % 2 == 1 else "cross_team"]
        specs += [(ego, kind, True) for kind in kinds_fading] + [(ego, kind, False) for kind in kinds_steady]
    # Team-mates first: small teams run out of free people otherwise.
    alters: dict[int, Person] = {}
    for order in ("same_team", "cross_team", "external"):
        for i, (ego, kind, _fading) in enumerate(specs):
            if kind != order:
                continue
            if kind == "external":
                alters[i] = external_alter()
            elif kind == "same_team":
                alters[i] = pick.one(pick.members(ego.team))
            else:
                alters[i] = pick.one(pick.members(*[t for t in team_names if t != ego.team]))
    ties = [_tie(rng, ego, alters[i], kind, fading, start, end, as_of) for i, (ego, kind, fading) in enumerate(specs)]

    # Brokers: strong ties into three teams of other departments (or other teams, in a small organisation).
    per_team = 1 if small else 2
    brokers: list[Broker] = []
    for _ in range(3 if small else 5):
        used_teams = {b.person.team for b in brokers}
        own = rng.choice([t for t in team_names if pick.free(t) >= 1 and t not in used_teams])
        person = pick.one(pick.members(own))
        others = [t for t in team_names if t != own and pick.free(t) >= per_team]
        far = [t for t in others if org.teams[t].department != person.department]
        bridged = tuple(sorted(rng.sample(far if len(far) >= 3 else others, 3)))
        partners = tuple(pick.one(pick.members(t)) for t in bridged for _ in range(per_team))
        brokers.append(Broker(person, bridged, partners))

    narrowing = pick.one(pick.members(*[t for t in team_names if org.teams[t].standup]))
    narrowing_since = as_of - dt.timedelta(days=90)
    emailers_only = [pick.one(org.people) for _ in range(3)]
    meeters = [pick.one(org.people) for _ in range(3)]
    manual_egos = [*focus[:3], brokers[0].person]

    # One-sided ties and bursts: cold outreach from commercial people to prospects nobody else knows.
    bursts = []
    cursor = 0
    for ego, size in zip(burst_egos, burst_sizes, strict=True):
        burst_start = as_of - dt.timedelta(days=28 - rng.randrange(3))
        bursts.append(Burst(ego, burst_start, tuple(prospects[cursor : cursor + size])))
        cursor += size
    one_sided = []
    for n in range(n_one_sided):
        ego = one_sided_egos[n % len(one_sided_egos)]
        span = rng.randrange(95, 160)
        last = as_of - dt.timedelta(days=rng.randrange(5, 120))
        first = last - dt.timedelta(days=span)
        one_sided.append(OneSided(ego, prospects[cursor], first, last, rng.randrange(8, 15)))
        cursor += 1

    plan = Plan(
        start=start,
        end=end,
        as_of=as_of,
        brokers=brokers,
        narrowing=narrowing,
        narrowing_since=narrowing_since,
        emailers_only=emailers_only,
        meeters=meeters,
        ties=ties,
        manual_egos=manual_egos,
        one_sided=one_sided,
        bursts=bursts,
    )
    for tie in ties:
        if tie.fading:
            a, b = sorted((tie.ego.idx, tie.alter.idx))
            plan.blocked[(a, b)] = tie.silence
    return plan


def min_active_days(span: dt.timedelta) -> int:
    """How long a fading tie was in contact before its silence: nine months, or seven in a short sample."""
    return 270 if span.days >= 450 else 210


def _tie(
    rng: random.Random,
    ego: Person,
    alter: Person,
    kind: str,
    fading: bool,
    start: dt.date,
    end: dt.date,
    as_of: dt.date,
) -> PlantedTie:
    short = (as_of - start).days < 450
    gap = dt.timedelta(days=rng.randrange(66, 100) if short else rng.randrange(66, 140))
    silence = as_of - gap if fading else end + dt.timedelta(days=1)
    latest_start = silence - dt.timedelta(days=240 if short else 300)
    slack = max(0, (latest_start - start).days)
    tie_start = start + dt.timedelta(days=rng.randrange(slack + 1) if slack else 0)
    return PlantedTie(ego, alter, kind, fading, tie_start, silence, rng.randrange(16, 29))
