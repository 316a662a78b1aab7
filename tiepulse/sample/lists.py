"""Discussion lists (List-Id): a few people ask, a few experts answer, most members only read.

List mail is delivered to every member's mailbox (the list address is the only recipient the headers name), so it
adds copies to mailboxes without adding recipients; it is drawn from its own random stream and numbered apart
(``<list.N.SEED@sample.tiepulse>``), so the rest of the sample is the same with or without it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from tiepulse.sample.contacts import at, snap_to_work, work_hour
from tiepulse.sample.headers import address_header
from tiepulse.sample.mail import days_between
from tiepulse.sample.model import Message, Org, Person, poisson

LIST_DOMAIN = "lists.northwind.example"


@dataclass(frozen=True)
class ListSpec:
    local: str
    name: str
    department: str | None
    """Members come mostly from this department (None: from everywhere)."""
    share: float
    """Share of the candidate people who subscribe."""
    threads_per_week: float


LISTS = (
    ListSpec("eng-practice", "Engineering practice", "Engineering", 0.7, 1.0),
    ListSpec("data-guild", "Data guild", None, 0.15, 0.5),
)


@dataclass
class MailingList:
    spec: ListSpec
    address: Person
    members: list[Person]
    askers: list[Person]
    experts: list[Person]

    @property
    def list_id(self) -> str:
        return f"{self.spec.local}.{LIST_DOMAIN}"


def mailing_lists(rng: random.Random, org: Org) -> list[MailingList]:
    """Each list's members (sorted by index), the few who start most threads and the few who answer most."""
    found = []
    for n, spec in enumerate(LISTS):
        pool = [p for p in org.people if spec.department is None or p.department == spec.department]
        members = sorted(rng.sample(pool, max(8, round(spec.share * len(pool)))), key=lambda p: p.idx)
        # who asks and answers most on a list writes much elsewhere too, and is there the whole time
        vocal = sorted((p for p in members if p.active_from is None and p.active_until is None), key=_vocal)
        picked = rng.sample(vocal[:12], 6)
        address = Person(-100 - n, spec.name, f"{spec.local}@{LIST_DOMAIN}", "Europe/London", "automated")
        found.append(MailingList(spec, address, members, picked[:3], picked[3:]))
    return found


def _vocal(person: Person) -> tuple[float, int]:
    return -person.rate, person.idx


def _active(person: Person, day: dt.date) -> bool:
    return (person.active_from is None or person.active_from <= day) and (
        person.active_until is None or day <= person.active_until
    )


def list_messages(rng: random.Random, lists: list[MailingList], start: dt.date, end: dt.date) -> list[Message]:
    """Weekly threads on every list: asked mostly by its askers, answered (or not) mostly by its experts."""
    messages: list[Message] = []
    end_utc = at(end, 23.99, "UTC")
    for mailing in lists:
        for day in days_between(start, end):
            if day.weekday() != 0:
                continue
            # only people who work here that week read or write the list
            present = [p for p in mailing.members if _active(p, day)]
            for _ in range(poisson(rng, mailing.spec.threads_per_week)):
                asker = rng.choice(mailing.askers) if rng.random() < 0.6 else rng.choice(present)
                when = at(day + dt.timedelta(days=rng.randrange(5)), work_hour(rng, 0.02), asker.tz)
                question = _post(mailing, present, asker, when, None, len(messages))
                if question.when.astimezone(dt.UTC) > end_utc:
                    continue
                messages.append(question)
                parent = question
                for _ in range(poisson(rng, 1.1)):
                    # an answer comes from someone else than the message it answers
                    experts = [p for p in mailing.experts if p is not parent.sender]
                    others = [p for p in present if p is not parent.sender]
                    replier = rng.choice(experts if rng.random() < 0.7 else others)
                    later = parent.when + dt.timedelta(hours=rng.uniform(1, 40))
                    when = snap_to_work(rng, later, replier.tz)
                    reply = _post(mailing, present, replier, when, parent, len(messages))
                    if reply.when.astimezone(dt.UTC) > end_utc:
                        break
                    messages.append(reply)
                    parent = reply
    return messages


def _post(
    mailing: MailingList, readers: list[Person], sender: Person, when: dt.datetime, parent: Message | None, seq: int
) -> Message:
    root = parent
    while root is not None and root.parent is not None:
        root = root.parent
    subject = f"Re: {root.subject}" if root is not None else f"[{mailing.spec.local}] question #{seq + 1}"
    return Message(
        seq=seq,
        when=when,
        sender=sender,
        from_header=address_header(sender.name, sender.email),
        from_address=sender.email,
        to=[(mailing.address, mailing.address.email)],
        subject=subject,
        body="See the thread.",
        parent=parent,
        extra_headers=[
            ("List-Id", f"{mailing.spec.name} <{mailing.list_id}>"),
            ("List-Post", f"<mailto:{mailing.address.email}>"),
        ],
        kind="list",
        mailboxes_only=tuple(readers),
    )


def list_truth(lists: list[MailingList]) -> list[dict[str, object]]:
    """What the tests check the communities of practice against: members, askers and experts per List-Id."""
    return [
        {
            "list_id": m.list_id,
            "address": m.address.email,
            "members": [p.email for p in m.members],
            "askers": [p.email for p in m.askers],
            "experts": [p.email for p in m.experts],
        }
        for m in lists
    ]
