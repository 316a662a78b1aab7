"""Build the people: teams with managers, externals on many domains, automated senders, prospects."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata

from tiepulse.sample import names
from tiepulse.sample.model import Org, Person, Team

DOMAIN = "northwind.example"
LEGACY_DOMAIN = "nwtraders.example"
X500_ROOT = "/o=sample/ou=hq/cn=recipients/cn="


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters only: 'Núñez' -> 'nunez', "O'Brien" -> 'obrien', 'Łukasz' -> 'lukasz'."""
    text = text.replace("Ł", "L").replace("ł", "l").replace("ø", "o").replace("Ø", "O").replace("å", "a")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _team_sizes(people: int) -> list[int]:
    weights = [t[3] for t in names.TEAMS]
    total = sum(weights)
    raw = [people * w / total for w in weights]
    sizes = [max(3, int(r)) for r in raw]
    # Largest remainder, then trim the largest teams if the minimum of 3 pushed us over.
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - int(raw[i])), i))
    i = 0
    while sum(sizes) < people:
        sizes[order[i % len(order)]] += 1
        i += 1
    while sum(sizes) > people:
        biggest = max(range(len(sizes)), key=lambda j: (sizes[j], -j))
        sizes[biggest] -= 1
    return sizes


class _NamePool:
    def __init__(self, rng: random.Random) -> None:
        combos = [(f, last) for f in names.FIRST_NAMES for last in names.LAST_NAMES]
        rng.shuffle(combos)
        self._combos = combos
        self._next = 0
        self._locals: set[str] = set()

    def take(self) -> tuple[str, str, str]:
        """(first, last, unique ASCII local part 'first.last')."""
        first, last = self._combos[self._next % len(self._combos)]
        self._next += 1
        base = f"{ascii_fold(first)}.{ascii_fold(last)}"
        local, n = base, 2
        while local in self._locals:
            local = f"{base}{n}"
            n += 1
        self._locals.add(local)
        return first, last, local


def build_org(
    rng: random.Random, *, people: int, externals: int, n_prospects: int, start: dt.date, end: dt.date
) -> Org:
    pool = _NamePool(rng)
    idx = 0
    teams: dict[str, Team] = {}
    internal: list[Person] = []
    used_emails: set[str] = set()
    for (team_name, dept, standup, _w, ext_share), size in zip(names.TEAMS, _team_sizes(people), strict=True):
        home = _weighted(rng, names.LOCATIONS[dept])
        members: list[Person] = []
        for m in range(size):
            first, last, local = pool.take()
            location = home if m == 0 or rng.random() < 0.75 else _weighted(rng, names.LOCATIONS[dept])
            person = Person(
                idx=idx,
                name=f"{first} {last}",
                email=f"{local}@{DOMAIN}",
                tz=names.TIMEZONES[location],
                kind="internal",
                local=local,
                team=team_name,
                department=dept,
                location=location,
                rate=rng.lognormvariate(0.0, 0.85),
                meeting_rate=rng.lognormvariate(0.0, 0.6),
            )
            idx += 1
            used_emails.add(person.email)
            members.append(person)
        teams[team_name] = Team(team_name, dept, standup, ext_share, tuple(members))
        internal.extend(members)

    # Managers: team members report to the lead; leads to their department's head; heads to the
    # Operations head, who reports to nobody.
    heads: dict[str, Person] = {}
    for team in teams.values():
        heads.setdefault(team.department, team.lead)
    top = heads["Operations"]
    for team in teams.values():
        for member in team.members[1:]:
            member.manager = team.lead
        head = heads[team.department]
        team.lead.manager = head if team.lead is not head else (top if head is not top else None)
        team.lead.rate *= 1.4

    # Second addresses (flast@) for about one in nine; X.500 paths for a few; one legacy address.
    for person in internal:
        if rng.random() < 0.11:
            first, last = person.local.split(".", 1)
            alias = f"{first[0]}{last}@{DOMAIN}"
            if alias not in used_emails:
                used_emails.add(alias)
                person.aliases.append(alias)
    for person in rng.sample(internal, max(3, len(internal) // 30)):
        person.x500 = X500_ROOT + person.local
        person.recipient_variants.append(person.x500)
    legacy = next(p for p in internal if p.team == "Account Management" and p is not teams[p.team].lead)
    first, last = legacy.local.split(".", 1)
    legacy.legacy_address = f"{first[0]}{last}@{LEGACY_DOMAIN}"

    ext_people = _externals(rng, pool, externals - n_prospects, start, end, idx, teams)
    idx += len(ext_people)
    prospects = _prospects(rng, pool, n_prospects, idx)
    idx += len(prospects)
    automated = _automated(idx)
    return Org(DOMAIN, LEGACY_DOMAIN, teams, internal, ext_people, prospects, automated)


def _org_owners(rng: random.Random, kind: str, teams: dict[str, Team]) -> list[Person]:
    preferred = {
        "client": ("Enterprise Sales", "Account Management", "Account Management", "Product", "Marketing"),
        "partner": ("Platform", "Data", "Apps", "Product", "Marketing", "Design"),
        "vendor": ("Finance", "People", "Finance", "Platform"),
        "personal": tuple(teams),
    }[kind]
    owners: list[Person] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        team = teams[rng.choice(preferred)]
        member = rng.choice(team.members)
        if member not in owners:
            owners.append(member)
    return owners


def _externals(
    rng: random.Random,
    pool: _NamePool,
    count: int,
    start: dt.date,
    end: dt.date,
    idx: int,
    teams: dict[str, Team],
) -> list[Person]:
    orgs = list(names.ORGANISATIONS)
    # Zipf-like organisation sizes: a few big clients, a long tail.
    org_weights = [1.0 / (1 + i * 0.15) * (1.6 if kind == "client" else 1.0) for i, (_, kind) in enumerate(orgs)]
    org_owners: dict[str, list[Person]] = {}
    span = (end - start).days
    result: list[Person] = []
    for n in range(count):
        first, last, local = pool.take()
        personal = n % 12 == 5
        if personal:
            domain = names.PERSONAL_DOMAINS[(n // 12) % len(names.PERSONAL_DOMAINS)]
            kind = "personal"
            stem = domain
        else:
            stem, kind = rng.choices(orgs, weights=org_weights)[0]
            domain = f"{stem}.example"
        variants: list[str] = []
        if domain == "gmail.com":
            year = 1970 + rng.randrange(30)
            email = f"{local}.{year}@gmail.com"
            folded = local.replace(".", "")
            variants = [f"{folded}{year}@gmail.com", f"{local}.{year}+northwind@gmail.com"]
        elif rng.random() < 0.3:
            first_part, last_part = local.split(".", 1)
            email = f"{first_part[0]}{last_part}@{domain}"
        else:
            email = f"{local}@{domain}"
        if stem not in org_owners:
            org_owners[stem] = _org_owners(rng, kind, teams)
        owners = list(org_owners[stem])
        if rng.random() < 0.3:
            extra = _org_owners(rng, kind, teams)[0]
            if extra not in owners:
                owners.append(extra)
        active_from = start if rng.random() < 0.7 else start + dt.timedelta(days=rng.randrange(span))
        active_until = None
        if rng.random() < 0.12:
            active_until = active_from + dt.timedelta(days=rng.randrange(90, 400))
        result.append(
            Person(
                idx=idx + n,
                name=f"{first} {last}",
                email=email,
                tz=_weighted(rng, names.EXTERNAL_TZ[kind]),
                kind=kind,
                recipient_variants=variants,
                rate=rng.lognormvariate(-2.3, 0.9),
                active_from=active_from,
                active_until=active_until,
                owners=owners,
            )
        )
    return result


def _prospects(rng: random.Random, pool: _NamePool, count: int, idx: int) -> list[Person]:
    result = []
    for n in range(count):
        first, last, local = pool.take()
        stem = names.PROSPECT_ORGS[n % len(names.PROSPECT_ORGS)]
        result.append(
            Person(
                idx=idx + n,
                name=f"{first} {last}",
                email=f"{local}@{stem}.example",
                tz=_weighted(rng, names.EXTERNAL_TZ["prospect"]),
                kind="prospect",
            )
        )
    return result


def _automated(idx: int) -> list[Person]:
    senders = (
        ("Industry Weekly", "newsletter@industry-weekly.example"),
        ("Expenses", "noreply@expenses.example"),
        ("Tracker", "notifications@tracker.example"),
        ("Northwind IT", "alerts@northwind.example"),
    )
    return [
        Person(idx=idx + n, name=name, email=email, tz="Europe/London", kind="automated")
        for n, (name, email) in enumerate(senders)
    ]
