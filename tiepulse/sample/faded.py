"""Every relationship the generator fades, in both directions, with its cause (``truth.json``'s ``faded``).

A neglected-tie alert is right when its pair is here: the planted fading ties are the ones an alert must find,
but the generator silences other relationships too, and an alert about one of them is no false alarm.
"""

from __future__ import annotations

import datetime as dt

from tiepulse.sample.model import Meeting, Org, Person
from tiepulse.sample.plan import Plan

Pair = tuple[int, int]
"""Sorted person indexes."""


def _key(a: Person, b: Person) -> Pair:
    return (a.idx, b.idx) if a.idx < b.idx else (b.idx, a.idx)


def faded_relationships(
    org: Org,
    plan: Plan,
    meetings: list[Meeting],
    days: dict[Pair, set[dt.date]],
    planned: list[tuple[str, str, int]],
) -> list[dict[str, str]]:
    """``{ego, alter, cause, last_contact}`` for each direction of each faded pair with contact, sorted.

    ``days`` are each pair's contact days as the analysis counts them (mail and meetings of at most 18 people):
    a series that ends counts as ended even when a larger one replaces it.

    Causes: ``planted`` (the fading ties), ``narrowing`` (the narrowing person and everyone outside their team
    they dealt with before it began: 93 % of that mail stops), ``external_ended`` (an external contact whose
    activity ends before the data does), ``ended_series`` (attendees of a meeting series that ends before the
    data does whose contact days in the 90 days after its end are fewer than half those in the 90 before),
    ``cadence_not_kept`` (a contacts-file cadence ``(owner, person, days)`` in ``planned`` that the generated
    contact does not keep: silent longer than the cadence at ``as_of``).
    """
    found: dict[Pair, tuple[str, Person, Person]] = {}

    def add(a: Person, b: Person, cause: str) -> None:
        key = _key(a, b)
        if a is not b and days.get(key) and key not in found:
            found[key] = (cause, a, b)

    for tie in plan.ties:
        if tie.fading:
            add(tie.ego, tie.alter, "planted")
    people = {p.idx: p for p in [*org.people, *org.externals]}
    narrowing, since = plan.narrowing, plan.narrowing_since
    for key, seen in days.items():
        if narrowing.idx in key and min(seen) < since:
            other = people.get(key[0] if key[1] == narrowing.idx else key[1])
            if other is not None and other.team != narrowing.team:
                add(narrowing, other, "narrowing")
    for ext in org.externals:
        if ext.active_until is not None and ext.active_until < plan.end:
            for key in days:
                if ext.idx in key and (other := people.get(key[0] if key[1] == ext.idx else key[1])) is not None:
                    add(other, ext, "external_ended")
    by_email = {p.email: p for p in [*org.people, *org.externals, *org.prospects]}
    for owner_email, person_email, cadence in planned:
        owner, person = by_email[owner_email], by_email[person_email]
        planned_days = days.get(_key(owner, person))
        if planned_days and (plan.as_of - max(planned_days)).days > cadence:
            add(owner, person, "cadence_not_kept")
    quarter = dt.timedelta(days=90)
    for meeting in meetings:
        if meeting.until is None or meeting.until.date() >= plan.end:
            continue
        ended = meeting.until.date()
        present = [a.person for a in meeting.attendees if a.partstat in ("ACCEPTED", "TENTATIVE")]
        for i, a in enumerate(present):
            for b in present[i + 1 :]:
                seen = days.get(_key(a, b), set())
                before = sum(ended - quarter < d <= ended for d in seen)
                after = sum(ended < d <= ended + quarter for d in seen)
                if after * 2 < before:  # the series carried the tie: contact fell by more than half
                    add(a, b, "ended_series")
    rows = []
    for key, (cause, a, b) in found.items():
        last = max(days[key]).isoformat()
        rows += [
            {"ego": a.email, "alter": b.email, "cause": cause, "last_contact": last},
            {"ego": b.email, "alter": a.email, "cause": cause, "last_contact": last},
        ]
    return sorted(rows, key=lambda r: (r["ego"], r["alter"]))
