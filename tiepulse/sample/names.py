"""Word lists for the sample organisation: names, teams, external organisations, subjects and rooms.

All invented. A few names carry accents so that RFC 2047 encoded display names appear in the mail.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aisha", "Alan", "Alice", "Amara", "Ana", "Andrei", "Anna", "Arjun", "Ben", "Bianca", "Björn", "Carla",
    "Carlos", "Chen", "Chloé", "Chris", "Clara", "Daniel", "Dara", "David", "Diego", "Elena", "Elif",
    "Emil", "Emma", "Eva", "Farah", "Felix", "Fatima", "François", "Grace", "Hana", "Hannah", "Hugo",
    "Ines", "Isaac", "Ivan", "Jack", "Jana", "Javier", "José", "Julia", "Kai", "Karin", "Kenji", "Laila",
    "Lars", "Leah", "Léa", "Liam", "Lina", "Lucas", "Łukasz", "Maja", "Marco", "Maria", "Mateo", "Maya",
    "Mei", "Mia", "Nadia", "Naomi", "Nico", "Nina", "Noah", "Olga", "Omar", "Oscar", "Paula", "Pedro",
    "Priya", "Rafael", "Rana", "Rosa", "Ruth", "Sam", "Sara", "Sofia", "Søren", "Tariq", "Theo", "Tomás",
    "Vera", "Victor", "Yara", "Yusuf", "Zara", "Zoë",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Adeyemi", "Almeida", "Andersen", "Bauer", "Becker", "Brennan", "Brown", "Castro", "Chen", "Clarke",
    "Costa", "Dvořák", "Evans", "Fischer", "Fontaine", "García", "Gomez", "Grant", "Hansen", "Hartmann",
    "Hughes", "Ibrahim", "Jensen", "Kaur", "Kelly", "Khan", "Klein", "Kowalski", "Larsen", "Lee", "Lopez",
    "Martin", "Meyer", "Moreau", "Müller", "Murphy", "Nakamura", "Novak", "Núñez", "O'Brien", "Okafor",
    "Olsen", "Patel", "Petrov", "Quinn", "Reyes", "Rossi", "Schmidt", "Schneider", "Silva", "Singh",
    "Smith", "Sørensen", "Tanaka", "Taylor", "Thompson", "Varga", "Walsh", "Wang", "Weber", "Wilson",
    "Wójcik", "Yilmaz", "Young", "Zhang", "Ziegler",
)  # fmt: skip

# (team, department, standup, weight of headcount, external-facing share of mail)
TEAMS: tuple[tuple[str, str, bool, float, float], ...] = (
    ("Platform", "Engineering", True, 1.3, 0.02),
    ("Data", "Engineering", True, 1.0, 0.03),
    ("Apps", "Engineering", True, 1.2, 0.02),
    ("Product", "Product", True, 0.8, 0.06),
    ("Design", "Product", True, 0.6, 0.04),
    ("Enterprise Sales", "Commercial", False, 1.1, 0.30),
    ("Account Management", "Commercial", False, 1.0, 0.28),
    ("Marketing", "Commercial", True, 0.8, 0.12),
    ("Finance", "Operations", False, 0.7, 0.10),
    ("People", "Operations", False, 0.6, 0.06),
)

# Where each department mostly sits: (location, weight)
LOCATIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "Engineering": (("Berlin", 0.6), ("London", 0.3), ("New York", 0.1)),
    "Product": (("London", 0.6), ("Berlin", 0.2), ("New York", 0.2)),
    "Commercial": (("London", 0.45), ("New York", 0.45), ("Berlin", 0.1)),
    "Operations": (("London", 0.8), ("New York", 0.2)),
}
TIMEZONES: dict[str, str] = {
    "London": "Europe/London",
    "Berlin": "Europe/Berlin",
    "New York": "America/New_York",
}
ROOMS: dict[str, tuple[str, ...]] = {
    "London": ("London - Thames", "London - Fleet", "London - Boardroom", "London - Kiosk"),
    "Berlin": ("Berlin - Spree", "Berlin - Havel", "Berlin - Werkstatt"),
    "New York": ("New York - Hudson", "New York - Battery", "New York - Loft"),
}

# External organisations: (stem, kind). Domains become ``<stem>.example``.
ORGANISATIONS: tuple[tuple[str, str], ...] = (
    ("acme-logistics", "client"), ("bluepeak", "client"), ("harbourline", "client"),
    ("orchid-health", "client"), ("kestrel-bank", "client"), ("lumen-retail", "client"),
    ("northgate-foods", "client"), ("pinewood-insure", "client"), ("quayside-energy", "client"),
    ("redfern-pharma", "client"), ("silverline-air", "client"), ("tallis-media", "client"),
    ("umbra-games", "client"), ("vantage-auto", "client"), ("westbrook-uni", "client"),
    ("yellowfin-travel", "client"), ("zephyr-telecom", "client"), ("ironbridge-steel", "client"),
    ("copperleaf", "client"), ("meridian-hotels", "client"), ("foxglove-labs", "client"),
    ("granite-build", "client"), ("halcyon-water", "client"), ("juniper-legal", "client"),
    ("marlow-estates", "client"), ("atlas-consulting", "partner"), ("brightpath", "partner"),
    ("cobalt-systems", "partner"), ("delta-integrators", "partner"), ("evergreen-analytics", "partner"),
    ("fieldstone", "partner"), ("gridworks", "partner"), ("horizon-cloud", "partner"),
    ("inkwell-agency", "partner"), ("keystone-research", "partner"), ("lattice-ai", "partner"),
    ("monarch-advisory", "partner"), ("nimbus-hosting", "partner"), ("oakridge-partners", "partner"),
    ("paperclip-supplies", "vendor"), ("quantum-print", "vendor"), ("relay-couriers", "vendor"),
    ("stackhouse-it", "vendor"), ("tandem-payroll", "vendor"), ("upland-catering", "vendor"),
    ("vector-security", "vendor"), ("wavelength-av", "vendor"), ("xenon-lighting", "vendor"),
    ("yardley-furniture", "vendor"), ("zenith-travel", "vendor"), ("amberlaw", "vendor"),
    ("brookside-recruit", "vendor"), ("clearview-audit", "vendor"), ("dunmore-insurance", "vendor"),
    ("elmstreet-events", "vendor"), ("fairway-leasing", "vendor"), ("glasshouse-design", "vendor"),
)  # fmt: skip
PERSONAL_DOMAINS: tuple[str, ...] = ("gmail.com", "outlook.example", "mail.example")
# Prospects reached only by cold outreach (the one-sided ties and the burst).
PROSPECT_ORGS: tuple[str, ...] = (
    "arclight-capital", "beacon-freight", "cirrus-robotics", "driftwood-hotels", "emberly-foods",
    "fjord-shipping", "gallant-health", "hollis-mining", "ivory-textiles", "jetstream-charter",
    "kiln-ceramics", "lodestar-fintech", "mosaic-schools", "nettle-organics", "opal-dental",
)  # fmt: skip

EXTERNAL_TZ: dict[str, tuple[tuple[str, float], ...]] = {
    "client": (("Europe/London", 0.5), ("America/New_York", 0.3), ("Europe/Berlin", 0.2)),
    "partner": (("Europe/London", 0.4), ("America/New_York", 0.3), ("Europe/Berlin", 0.3)),
    "vendor": (("Europe/London", 0.7), ("Europe/Berlin", 0.3)),
    "personal": (("Europe/London", 0.6), ("America/New_York", 0.4)),
    "prospect": (("Europe/London", 0.4), ("America/New_York", 0.4), ("Europe/Berlin", 0.2)),
}

TOPICS: tuple[str, ...] = (
    "Q3 planning", "budget", "roadmap", "release", "onboarding", "hiring", "contract", "renewal", "invoice",
    "pipeline", "migration", "incident", "dashboard", "offsite", "workshop", "proposal", "pricing",
    "security", "launch", "campaign", "forecast", "audit", "vendor", "API", "data model", "design review",
    "retention", "customer feedback", "quarterly review", "training", "handover", "support rota",
    "capacity", "OKRs",
)  # fmt: skip
SUBJECT_FORMS: tuple[str, ...] = (
    "{t} update", "{t}: next steps", "Quick question on {t}", "{t} notes", "Draft {t}", "{t} follow-up",
    "Re-sync on {t}", "{t} - action items", "Thoughts on {t}?", "{t} for review", "{t} timeline",
)  # fmt: skip
BODY_LINES: tuple[str, ...] = (
    "Thanks, see the notes in the shared folder.",
    "Sounds good to me.",
    "Can we pick this up on Thursday?",
    "Adding a couple of points below.",
    "Please have a look when you get a moment.",
    "Agreed, let's go with the second option.",
    "I'll circle back once I hear from the others.",
    "Short summary of where we are.",
)
MEETING_TITLES: tuple[str, ...] = (
    "{t} sync", "{t} working session", "{t} review", "{t} kickoff", "Catch-up: {t}", "{t} brainstorm",
)  # fmt: skip
