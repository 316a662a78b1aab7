"""Generate the messages: threads with replies, planted ties, outreach, automated and broken mail."""

from __future__ import annotations

import datetime as dt
import math
import random

from tiepulse.sample import names
from tiepulse.sample.contacts import ContactModel, at, day_factor, snap_to_work, work_hour, zone
from tiepulse.sample.headers import address_header
from tiepulse.sample.model import Message, Org, Person, poisson
from tiepulse.sample.plan import Plan, PlantedTie

THREADS_PER_WEEK = 0.92
EXTERNAL_THREADS_PER_WEEK = 1.0


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def next_workday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def previous_workday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


class MailBuilder:
    def __init__(self, rng: random.Random, org: Org, plan: Plan, contacts: ContactModel) -> None:
        self.rng = rng
        self.org = org
        self.plan = plan
        self.contacts = contacts
        self.messages: list[Message] = []
        self.end_utc = at(plan.end, 23.99, "UTC")
        self.leads = contacts.leads
        self.planted_pairs: set[tuple[int, int]] = set()

    # --- addresses ------------------------------------------------------------------------------------------
    def sender_address(self, person: Person) -> str:
        u = self.rng.random()
        if person.legacy_address and u < 0.15:
            return person.legacy_address
        if person.aliases and u < 0.2:
            return person.aliases[0]
        return person.email

    def recipient_address(self, person: Person) -> str:
        if person.recipient_variants and self.rng.random() < (0.12 if person.internal else 0.3):
            return self.rng.choice(person.recipient_variants)
        return person.email

    def _entry(self, person: Person) -> tuple[Person, str]:
        return person, self.recipient_address(person)

    # --- building blocks ------------------------------------------------------------------------------------
    def subject(self) -> str:
        form = self.rng.choice(names.SUBJECT_FORMS)
        topic = self.rng.choice(names.TOPICS)
        text = form.format(t=topic)
        return text[0].upper() + text[1:]

    def add(
        self,
        when: dt.datetime,
        sender: Person,
        to: list[Person],
        *,
        cc: list[Person] | None = None,
        bcc: list[Person] | None = None,
        subject: str | None = None,
        parent: Message | None = None,
        from_address: str | None = None,
    ) -> Message | None:
        if when.astimezone(dt.UTC) > self.end_utc:
            return None
        if parent is not None:
            root = parent.subject[4:] if parent.subject.startswith("Re: ") else parent.subject
            subject = "Re: " + root
        address = from_address or self.sender_address(sender)
        msg = Message(
            seq=len(self.messages),
            when=when,
            sender=sender,
            from_header=address_header(sender.name, address),
            from_address=address,
            to=[self._entry(p) for p in to],
            cc=[self._entry(p) for p in cc or []],
            bcc=[self._entry(p) for p in bcc or []],
            subject=subject or self.subject(),
            body=self.rng.choice(names.BODY_LINES),
            parent=parent,
        )
        self.messages.append(msg)
        return msg

    def group_size(self, sender: Person) -> int:
        u = self.rng.random()
        if u < 0.56:
            return 1
        if u < 0.78:
            return self.rng.randint(2, 3)
        if u < 0.92:
            return self.rng.randint(4, 8)
        if u < 0.985 or not (sender.idx in self.leads or sender.idx in self.contacts.brokers):
            return self.rng.randint(9, 18)
        return self.rng.randint(19, 30)

    def pick_recipients(self, sender: Person, day: dt.date, k: int) -> list[Person]:
        chosen: list[Person] = []
        if k >= 6:
            team = [p for p in self.org.team_of(sender).members if p is not sender]
            self.rng.shuffle(team)
            for mate in team[: k - 1]:
                if self.contacts.allowed(sender, mate, day):
                    chosen.append(mate)
        tries = 0
        while len(chosen) < k and tries < 4 * k:
            tries += 1
            person = self.contacts.pick(sender, day, exclude=chosen)
            if person is not None:
                chosen.append(person)
        return chosen

    # --- threads --------------------------------------------------------------------------------------------
    def thread(
        self,
        when: dt.datetime,
        sender: Person,
        recipients: list[Person],
        *,
        reply_prob: float | None = None,
        bcc: list[Person] | None = None,
        planted: bool = False,
    ) -> Message | None:
        k = len(recipients)
        if k == 1:
            n_to = 1
        elif k >= 9 and self.rng.random() < 0.5:
            n_to = k
        else:
            n_to = min(k, self.rng.choice((1, 1, 2, 3)))
        first = self.add(when, sender, recipients[:n_to], cc=recipients[n_to:], bcc=bcc)
        if first is None:
            return None
        base = reply_prob if reply_prob is not None else (0.5 if k == 1 else 0.4 if k <= 3 else 0.26 if k <= 8 else 0.1)
        self._replies(first, base, planted=planted)
        return first

    def _replies(self, msg: Message, base: float, *, planted: bool) -> None:
        depth = 0
        current = msg
        prob = base
        while depth < 5:
            candidates = [p for p, _ in current.to + current.cc if p.kind not in ("prospect", "automated")]
            if not candidates or current.sender is None:
                return
            replier = current.to[0][0] if self.rng.random() < 0.7 else self.rng.choice(candidates)
            if replier.kind in ("prospect", "automated"):
                return
            factor = 0.3 if replier.idx in self.contacts.meeters else 0.85 if not replier.internal else 1.0
            if self.rng.random() >= prob * factor:
                return
            delay = dt.timedelta(hours=self.rng.lognormvariate(math.log(2.5), 1.1))
            when = snap_to_work(self.rng, current.when + delay, replier.tz)
            day = when.date()
            target = current.sender
            if self.plan.silenced(replier, target, day):
                return
            if not planted and not self.contacts.allowed(replier, target, day, channel="reply"):
                return
            cc: list[Person] = []
            if len(candidates) > 1 and self.rng.random() < 0.35:
                cc = [
                    p
                    for p in candidates
                    if p is not replier and p is not target and not self.plan.silenced(replier, p, day)
                ]
            if not any(p.internal for p in [replier, target, *cc]):
                return  # two outsiders talking: no mailbox of ours would hold it
            reply = self.add(when, replier, [target], cc=cc, parent=current)
            if reply is None:
                return
            current = reply
            prob = base * 0.7 if depth == 0 else prob * 0.6
            depth += 1

    # --- background -----------------------------------------------------------------------------------------
    def background(self) -> None:
        rng = self.rng
        days = days_between(self.plan.start, self.plan.end)
        for day in days:
            factor = day_factor(day)
            for person in self.org.people:
                lam = person.rate * THREADS_PER_WEEK / 5 * factor
                if person.idx in self.contacts.meeters:
                    lam *= 0.1
                for _ in range(poisson(rng, lam)):
                    recipients = self.pick_recipients(person, day, self.group_size(person))
                    if not recipients:
                        continue
                    when = at(day, work_hour(rng), person.tz)
                    bcc = None
                    manager = person.manager
                    if (
                        manager is not None
                        and rng.random() < 0.03
                        and manager not in recipients
                        and self.contacts.allowed(person, manager, day)
                    ):
                        bcc = [manager]
                    self.thread(when, person, recipients, bcc=bcc)
            for ext in self.org.externals:
                lam = ext.rate * EXTERNAL_THREADS_PER_WEEK / 5 * factor
                if lam <= 0 or not ext.owners:
                    continue
                for _ in range(poisson(rng, lam)):
                    owners = [o for o in ext.owners if self.contacts.allowed(ext, o, day)]
                    if not owners:
                        continue
                    recipients = rng.sample(owners, rng.randint(1, len(owners)))
                    self.thread(at(day, work_hour(rng, 0.04), ext.tz), ext, recipients)

    def announcements(self) -> None:
        """Monthly department updates and a quarterly all-hands: the big group mails."""
        heads: dict[str, Person] = {}
        for team in self.org.teams.values():
            heads.setdefault(team.department, team.lead)
        month = dt.date(self.plan.start.year, self.plan.start.month, 1)
        while month <= self.plan.end:
            day = next_workday(month + dt.timedelta(days=2))
            for dept, head in heads.items():
                members = [p for p in self.org.people if p.department == dept and p is not head]
                members = [p for p in members if not self.plan.silenced(head, p, day)]
                when = at(day, 9.0 + self.rng.random(), head.tz)
                self.add(when, head, members, subject=f"{dept} monthly update")
            if month.month in (1, 4, 7, 10):
                top = next(p for p in heads.values() if p.manager is None)
                everyone = [p for p in self.org.people if p is not top and not self.plan.silenced(top, p, day)]
                self.add(at(day, 16.0, top.tz), top, everyone, subject="All-hands: quarter in review")
            month = (month + dt.timedelta(days=32)).replace(day=1)

    # --- planted --------------------------------------------------------------------------------------------
    def planted_tie(self, tie: PlantedTie) -> None:
        rng = self.rng
        ego, alter = tie.ego, tie.alter
        last_day = tie.silence - dt.timedelta(days=1)
        day = tie.start + dt.timedelta(days=rng.randrange(tie.email_every))
        final = previous_workday(last_day - dt.timedelta(days=rng.randrange(1, 4)))
        if not tie.fading:
            final = previous_workday(self.plan.end - dt.timedelta(days=rng.randrange(1, 6)))
        while day < final:
            day = next_workday(day)
            if day >= final:
                break
            self._planted_exchange(ego, alter, day, tie)
            day += dt.timedelta(days=tie.email_every + rng.randint(-3, 3))
        self._planted_exchange(ego, alter, final, tie, last=True)

    def _planted_exchange(
        self, ego: Person, alter: Person, day: dt.date, tie: PlantedTie, *, last: bool = False
    ) -> None:
        rng = self.rng
        sender, target = (ego, alter) if rng.random() < 0.5 else (alter, ego)
        when = at(day, work_hour(rng, 0.03), sender.tz)
        if last:
            when = at(day, rng.uniform(9.0, 11.0), sender.tz)
        first = self.add(when, sender, [target])
        if first is None:
            return
        if last:
            # The last exchange gets a same-day answer, so the tie is two-way to the end.
            reply_at = when + dt.timedelta(hours=rng.uniform(0.5, 3.0))
            self.add(reply_at.astimezone(zone(target.tz)), target, [sender], parent=first)
            return
        self._replies(first, 0.8, planted=True)

    def one_sided(self) -> None:
        for item in self.plan.one_sided:
            span = (item.last - item.first).days
            previous: Message | None = None
            for n in range(item.messages):
                offset = round(span * n / (item.messages - 1))
                day = item.first + dt.timedelta(days=offset)
                day = next_workday(day) if n < item.messages - 1 else previous_workday(day)
                when = at(day, work_hour(self.rng, 0.02), item.ego.tz)
                cc = []
                if n == 0 and self.rng.random() < 0.3:
                    cc = [self.org.team_of(item.ego).lead]
                subject = f"Introduction: Northwind and {item.alter.domain.split('.')[0]}"
                msg = self.add(when, item.ego, [item.alter], cc=cc, subject=subject, parent=previous)
                previous = msg or previous

    def bursts(self) -> None:
        rng = self.rng
        for burst in self.plan.bursts:
            span = (self.plan.end - burst.start).days
            for n, prospect in enumerate(burst.contacts):
                day = next_workday(burst.start + dt.timedelta(days=round(span * n / len(burst.contacts))))
                if day > self.plan.end:
                    day = previous_workday(self.plan.end)
                when = at(day, work_hour(rng, 0.02), burst.ego.tz)
                subject = f"Northwind x {prospect.domain.split('.')[0]}"
                first = self.add(when, burst.ego, [prospect], subject=subject)
                if first is not None and rng.random() < 0.4:
                    reply_at = snap_to_work(rng, when + dt.timedelta(hours=rng.uniform(2, 30)), prospect.tz)
                    reply = self.add(reply_at, prospect, [burst.ego], parent=first)
                    if reply is not None and rng.random() < 0.7:
                        back = snap_to_work(rng, reply_at + dt.timedelta(hours=rng.uniform(1, 20)), burst.ego.tz)
                        self.add(back, burst.ego, [prospect], parent=reply)

    # --- automated ------------------------------------------------------------------------------------------
    def automated(self) -> None:
        rng = self.rng
        newsletter, expenses, tracker, it_alerts = self.org.automated
        subscribers = sorted(rng.sample(self.org.people, max(5, len(self.org.people) // 4)), key=lambda p: p.idx)
        engineers = [p for p in self.org.people if p.department == "Engineering"]
        week = 0
        for day in days_between(self.plan.start, self.plan.end):
            if day.weekday() == 1:
                week += 1
                for person in subscribers:
                    msg = self.add(
                        at(day, 7.0, "Europe/London"),
                        newsletter,
                        [person],
                        subject=f"Industry Weekly #{week}: what changed this week",
                    )
                    if msg is not None:
                        msg.kind = "automated"
                        msg.extra_headers = [
                            ("List-Id", "Industry Weekly <weekly.industry-weekly.example>"),
                            (
                                "List-Unsubscribe",
                                "<mailto:leave-weekly@industry-weekly.example>, "
                                "<https://industry-weekly.example/unsubscribe>",
                            ),
                            ("Precedence", "bulk"),
                        ]
            if day.weekday() >= 5:
                continue
            for _ in range(poisson(rng, 0.6)):
                person = rng.choice(self.org.people)
                msg = self.add(at(day, rng.uniform(6, 20), "Europe/London"), expenses, [person])
                if msg is not None:
                    msg.kind = "automated"
                    msg.subject = "Your expense report was approved"
                    msg.extra_headers = [("Auto-Submitted", "auto-generated")]
            for _ in range(poisson(rng, 1.0)):
                to = rng.sample(engineers, min(len(engineers), rng.randint(1, 3)))
                msg = self.add(at(day, rng.uniform(7, 22), "Europe/Berlin"), tracker, to)
                if msg is not None:
                    msg.kind = "automated"
                    msg.subject = f"[TRK-{rng.randint(1000, 9999)}] status changed"
                    msg.extra_headers = [("Auto-Submitted", "auto-generated")]
            if day.day == 15:
                # Internal address, but a machine: only the headers tell.
                to = rng.sample(self.org.people, min(len(self.org.people), 12))
                msg = self.add(at(day, 3.0, "Europe/London"), it_alerts, to[:1], bcc=to[1:])
                if msg is not None:
                    msg.kind = "automated"
                    msg.subject = "Scheduled maintenance tonight"
                    msg.extra_headers = [("Precedence", "list"), ("Auto-Submitted", "auto-generated")]

    # --- broken ---------------------------------------------------------------------------------------------
    def broken(self) -> list[tuple[Message, str]]:
        """A handful of records the importer must quarantine, plus one message with a bad address."""
        rng = self.rng
        people = sorted(rng.sample(self.org.people, 5), key=lambda p: p.idx)
        day = next_workday(self.plan.start + dt.timedelta(days=100))
        planted: list[tuple[Message, str]] = []

        def make(owner: Person, sender: Person | None, from_header: str, reason: str) -> Message:
            msg = Message(
                seq=len(self.messages),
                when=at(day, 11.0, owner.tz),
                sender=sender,
                from_header=from_header,
                from_address=sender.email if sender else "MAILER-DAEMON",
                to=[(owner, owner.email)],
                subject=self.subject(),
                body=rng.choice(names.BODY_LINES),
                kind="broken",
                mailboxes_only=(owner,),
            )
            self.messages.append(msg)
            planted.append((msg, reason))
            return msg

        colleague = self.org.team_of(people[0]).lead
        make(people[0], colleague, address_header(colleague.name, colleague.email), "missing_date").omit_date = True
        old = make(people[1], colleague, address_header(colleague.name, colleague.email), "implausible_date")
        old.date_header = "Mon, 01 Jan 1979 09:30:00 +0000"
        make(people[2], None, '"Scanner" <scanner@>', "no_sender")
        make(people[3], None, "undisclosed-recipients:;", "no_sender")

        # Valid, but one of four recipients is malformed: the message is kept, the bad address counted.
        sender = people[4]
        others = [p for p in self.org.team_of(sender).members if p is not sender][:2]
        msg = self.add(at(day, 14.0, sender.tz), sender, others, subject="Venue shortlist")
        if msg is not None:
            broken_address = Person(-1, "Tom Kirby", "tom.kirby@@acme-logistics.example", "UTC", "invalid")
            msg.to.append((broken_address, broken_address.email))
            msg.kind = "bad_address"
            planted.append((msg, "bad_address"))
        return planted
