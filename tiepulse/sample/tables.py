"""The small files: directory.csv, contacts.csv, manual_log.csv and config.yaml."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import yaml

from tiepulse.sample.contacts import ContactModel
from tiepulse.sample.model import ManualEntry, Org, Person
from tiepulse.sample.plan import Plan

DIRECTORY_HEADER = (
    "email",
    "aliases",
    "name",
    "team",
    "department",
    "org_unit",
    "manager",
    "location",
    "internal",
)
CONTACTS_HEADER = ("email", "bucket", "cadence_days", "owner")
MANUAL_HEADER = ("date", "person", "channel", "minutes", "owner")


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return len(rows)


def _org_unit(person: Person) -> str:
    return "NW/" + person.department[:3].upper() + "/" + "".join(w[0] for w in person.team.split()).upper()


def write_directory(path: Path, org: Org, plan: Plan) -> int:
    rows: list[tuple[object, ...]] = []
    for p in org.people:
        aliases = [*p.aliases, *([p.x500] if p.x500 else [])]
        manager = p.manager.email if p.manager else ""
        rows.append(
            (
                p.email,
                ";".join(aliases),
                p.name,
                p.team,
                p.department,
                _org_unit(p),
                manager,
                p.location,
                "true",
            )
        )
    # Some external contacts are in the directory too (as guests), with their other spellings.
    listed: list[Person] = [t.alter for t in plan.ties if not t.alter.internal]
    listed += [e for e in org.externals if e.recipient_variants and e not in listed]
    for e in sorted(listed, key=lambda x: x.idx):
        rows.append((e.email, ";".join(e.recipient_variants), e.name, "", "", e.domain, "", "", "false"))
    return _write_csv(path, DIRECTORY_HEADER, rows)


def contact_rows(rng: random.Random, org: Org, plan: Plan, contacts: ContactModel) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    heads = {t.department: t.lead for t in reversed(list(org.teams.values()))}
    personal = [e for e in org.externals if e.kind == "personal"]
    for owner in plan.manual_egos:
        entries: dict[int, tuple[Person, str, int | None]] = {}
        for tie in plan.ties:
            if tie.ego is owner:
                bucket = "colleague" if tie.alter.internal else "client"
                entries[tie.alter.idx] = (tie.alter, bucket, 14 if tie.alter.internal else 21)
        for ext in contacts.ext[owner.idx].people[:4]:
            entries.setdefault(ext.idx, (ext, "client", rng.choice((30, None))))
        for mate in contacts.team[owner.idx].people[:3]:
            entries.setdefault(mate.idx, (mate, "colleague", None))
        mentors = [h for d, h in heads.items() if d != owner.department]
        mentor = rng.choice(mentors)
        entries.setdefault(mentor.idx, (mentor, "mentor", 45))
        if personal:
            friend = rng.choice(personal)
            entries.setdefault(friend.idx, (friend, "friend", 60))
        for person, bucket, cadence in entries.values():
            rows.append((person.email, bucket, "" if cadence is None else cadence, owner.email))
    for item in plan.one_sided:
        rows.append((item.alter.email, "prospect", 14, item.ego.email))
    for burst in plan.bursts:
        for prospect in burst.contacts:
            rows.append((prospect.email, "prospect", "", burst.ego.email))
    return rows


def write_contacts(path: Path, rows: list[tuple[object, ...]]) -> int:
    return _write_csv(path, CONTACTS_HEADER, rows)


def write_manual_log(path: Path, entries: list[ManualEntry]) -> int:
    rows: list[tuple[object, ...]] = [
        (e.day.isoformat(), e.address, e.channel, "" if e.minutes is None else e.minutes, e.owner.email)
        for e in entries
    ]
    return _write_csv(path, MANUAL_HEADER, rows)


def config_data(org: Org) -> dict[str, object]:
    egos = []
    for p in org.people:
        addresses = [p.email, *p.aliases]
        ego: dict[str, object] = {"email": p.email, "addresses": addresses, "name": p.name, "timezone": p.tz}
        if p.location == "New York":
            ego["working_hours"] = [9, 18]
        egos.append(ego)
    aliases = {p.email: [p.legacy_address] for p in org.people if p.legacy_address}
    return {
        "egos": egos,
        "aliases": aliases,
        "directory_file": "directory.csv",
        "contacts_file": "contacts.csv",
        "identity": {"internal_domains": [org.domain, org.legacy_domain]},
    }


def write_config(path: Path, org: Org) -> None:
    header = "# tiepulse config for the generated sample organisation (tiepulse.sample).\n"
    text = yaml.safe_dump(config_data(org), sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + text, encoding="utf-8")
