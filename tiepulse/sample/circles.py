"""Who works with whom at ordinary volume, as arrays: each person's circles (pod, team, department, ...).

A circle is a list of other people, stored for every person at once in compressed form (``offsets``,
``lengths``, ``flat``) so that a million recipients are drawn with one gather. Positions index
``Circles.people``: the employees first, then the outside contacts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tiepulse.sample.model import Org, Person
from tiepulse.sample.plan import Plan

POD_SIZE = 8
"""People who work together every day: a team is split into pods of about this many (in order of hire)."""


@dataclass(frozen=True, slots=True)
class Circle:
    offsets: np.ndarray
    lengths: np.ndarray
    flat: np.ndarray

    @classmethod
    def of(cls, lists: list[list[int]]) -> Circle:
        lengths = np.array([len(x) for x in lists], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        flat = np.array([i for x in lists for i in x], dtype=np.int64)
        return cls(offsets, lengths, flat)

    def pick(self, who: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One member of each ``who``'s circle (uniform by ``u`` in [0, 1)), or -1 for an empty circle."""
        n = self.lengths[who]
        index = self.offsets[who] + np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
        return np.where(n > 0, self.flat[np.minimum(index, max(len(self.flat) - 1, 0))], -1)


class Circles:
    """The organisation as arrays, with the planted roles the everyday traffic must respect."""

    def __init__(self, org: Org, plan: Plan) -> None:
        externals = [e for e in org.externals if e.kind != "prospect"]
        self.people: list[Person] = [*org.people, *externals]
        self.size = len(self.people)
        """Pairs are keyed ``min * size + max``."""
        self.n_internal = len(org.people)
        position = {p.idx: n for n, p in enumerate(self.people)}
        internal = org.people
        team_names = list(org.teams)
        self.team = np.array([team_names.index(p.team) for p in internal] + [-1] * len(externals), dtype=np.int64)
        self.tz_names = sorted({p.tz for p in self.people})
        self.tz = np.array([self.tz_names.index(p.tz) for p in self.people], dtype=np.int64)
        self.is_lead = np.array([p is org.teams[p.team].lead for p in internal], dtype=bool)

        pod: dict[int, int] = {}
        for team in org.teams.values():
            for n, member in enumerate(team.members):
                pod[member.idx] = n // POD_SIZE
        self.brokers = [position[b.person.idx] for b in plan.brokers]
        self.meeters = [position[p.idx] for p in plan.meeters]
        self.emailers_only = [position[p.idx] for p in plan.emailers_only]
        self.narrowing = position[plan.narrowing.idx]
        self.narrowing_since = plan.narrowing_since
        # The planted ties (fading and steady) keep exactly the contact the truth describes: no everyday mail.
        self.planted_pairs = np.array(
            sorted(self._pair(position[t.ego.idx], position[t.alter.idx]) for t in plan.ties), dtype=np.int64
        )
        self.meets = np.ones(len(self.people), dtype=bool)
        """Who takes part in everyday meetings: not the emailers-only, not the brokers (whose meetings stay
        with one team at a time), not outsiders."""
        self.meets[[*self.emailers_only, *self.brokers]] = False
        self.meets[self.n_internal :] = False
        writes = np.ones(len(self.people), dtype=bool)
        writes[self.meeters] = False
        writes[self.n_internal :] = False
        self.writes = writes

        by_team: dict[str, list[int]] = defaultdict(list)
        by_dept: dict[str, list[int]] = defaultdict(list)
        by_pod: dict[tuple[str, int], list[int]] = defaultdict(list)
        for n, p in enumerate(internal):
            if n in self.meeters:
                continue  # written to little
            by_team[p.team].append(n)
            by_dept[p.department].append(n)
            by_pod[(p.team, pod[p.idx])].append(n)
        everyone = [n for n in range(self.n_internal) if n not in self.meeters]
        bridged = {position[b.person.idx]: b.bridged_teams for b in plan.brokers}

        def others(members: list[int], n: int) -> list[int]:
            return [m for m in members if m != n]

        close: list[list[int]] = []
        for n, p in enumerate(internal):
            if n in bridged:
                # A broker's daily work is with their own team and the three teams they bridge.
                reach = [m for t in (p.team, *bridged[n]) for m in by_team[t]]
                close.append(others(reach, n))
            else:
                close.append(others(by_pod[(p.team, pod[p.idx])], n))
        ext_by_team: dict[str, list[int]] = defaultdict(list)
        for e in externals:
            for owning_team in sorted({o.team for o in e.owners}):
                ext_by_team[owning_team].append(position[e.idx])
        pad: list[list[int]] = [[] for _ in externals]
        self.close = Circle.of(close + pad)
        self.team_circle = Circle.of([others(by_team[p.team], n) for n, p in enumerate(internal)] + pad)
        self.dept_circle = Circle.of([others(by_dept[p.department], n) for n, p in enumerate(internal)] + pad)
        self.org_circle = Circle.of([others(everyone, n) for n in range(self.n_internal)] + pad)
        narrowing_team = plan.narrowing.team
        outside = [m for m in everyone if internal[m].team != narrowing_team]
        self.outside_team = Circle.of([outside if n == self.narrowing else [] for n in range(len(self.people))])
        self.ext_circle = Circle.of([ext_by_team[p.team] for p in internal] + pad)
        self.external_share = np.array(
            [org.teams[p.team].external_share for p in internal] + [0.0] * len(externals), dtype=np.float64
        )
        ordinal_from = [p.active_from.toordinal() if p.active_from else 0 for p in self.people]
        ordinal_until = [p.active_until.toordinal() if p.active_until else 10**7 for p in self.people]
        self.active_from = np.array(ordinal_from, dtype=np.int64)
        self.active_until = np.array(ordinal_until, dtype=np.int64)

    def _pair(self, a: int, b: int) -> int:
        return min(a, b) * self.size + max(a, b)

    def allowed(self, a: np.ndarray, b: np.ndarray, day: int) -> np.ndarray:
        """Whether ``a`` and ``b`` (-1: nobody) may be in contact on the day (an ordinal)."""
        ok = (b >= 0) & (a >= 0)
        ok &= ~np.isin(np.minimum(a, b) * self.size + np.maximum(a, b), self.planted_pairs)
        if day >= self.narrowing_since.toordinal():
            nt = self.team[self.narrowing]
            ta = np.where(a >= 0, self.team[np.maximum(a, 0)], -2)
            tb = np.where(b >= 0, self.team[np.maximum(b, 0)], -2)
            ok &= ~(((a == self.narrowing) & (tb != nt)) | ((b == self.narrowing) & (ta != nt)))
        safe = np.maximum(b, 0)
        ok &= (self.active_from[safe] <= day) & (day <= self.active_until[safe])
        return ok
