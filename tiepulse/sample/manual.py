"""The hand-kept log of a few egos: calls, coffees, video calls, chats and notes."""

from __future__ import annotations

import datetime as dt
import random

from tiepulse.sample.contacts import ContactModel, is_holiday
from tiepulse.sample.mail import days_between
from tiepulse.sample.model import ManualEntry, Person
from tiepulse.sample.plan import Plan

CHANNEL_MINUTES: dict[str, tuple[int, ...]] = {
    "call": (10, 15, 20, 30),
    "in_person": (30, 45, 60, 90),
    "video": (25, 30, 45),
    "chat": (5, 10, 15),
}


def _address(rng: random.Random, person: Person) -> str:
    # Hand-typed addresses are not always in canonical case.
    if not person.internal and rng.random() < 0.15:
        local, domain = person.email.split("@")
        return f"{local.title()}@{domain}"
    return person.email


def manual_log(rng: random.Random, plan: Plan, contacts: ContactModel) -> list[ManualEntry]:
    entries: list[ManualEntry] = []

    def log(day: dt.date, owner: Person, person: Person, channel: str) -> None:
        minutes = rng.choice(CHANNEL_MINUTES[channel]) if channel in CHANNEL_MINUTES else None
        entries.append(ManualEntry(day, person, _address(rng, person), channel, minutes, owner))

    for owner in plan.manual_egos:
        ext = contacts.ext[owner.idx]
        colleagues = contacts.team[owner.idx]
        cross = contacts.cross[owner.idx]
        for day in days_between(plan.start, plan.end):
            if day.weekday() >= 5 or is_holiday(day) or rng.random() > 0.3:
                continue
            u = rng.random()
            if ext and u < 0.35:
                person, channel = ext.pick(rng), rng.choice(("call", "call", "video", "note"))
            elif u < 0.75:
                person, channel = colleagues.pick(rng), rng.choice(("in_person", "chat", "in_person", "note"))
            elif cross:
                person, channel = cross.pick(rng), rng.choice(("in_person", "call", "chat"))
            else:
                continue
            if not contacts.allowed(owner, person, day, channel="meeting"):
                continue
            log(day, owner, person, channel)
        # Planted ties of a logging ego get a call or a coffee about every month, until they fade.
        for tie in plan.ties:
            if tie.ego is not owner:
                continue
            day = tie.start + dt.timedelta(days=rng.randrange(7, 30))
            stop = tie.silence - dt.timedelta(days=3)
            while day < stop:
                if day.weekday() < 5 and not is_holiday(day):
                    channel = "in_person" if tie.alter.internal else rng.choice(("call", "video", "in_person"))
                    log(day, owner, tie.alter, channel)
                day += dt.timedelta(days=rng.randint(25, 40))
    entries.sort(key=lambda e: (e.owner.idx, e.day, e.person.idx, e.channel))
    return entries
