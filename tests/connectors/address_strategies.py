"""Address-list values for tests: Hypothesis strategies (plain, named, quoted, encoded, malformed) and groups."""

from __future__ import annotations

from hypothesis import strategies as st

local = st.from_regex(r"[a-z0-9][a-z0-9._+'-]{0,10}", fullmatch=True)
domain = st.sampled_from(
    ["acme.com", "Example.ORG", "gmail.com", "x", "b\u00fccher.de", "xn--bcher-kva.de", "mail.co.uk"]
)
address = st.builds(lambda lo, do: f"{lo}@{do}", local, domain)
name = st.one_of(
    st.just(""),
    st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,12}", fullmatch=True),
    st.from_regex(r'"[A-Za-z ,.()@<>-]{0,12}"', fullmatch=True),
    st.sampled_from(
        [
            "=?UTF-8?B?w4FuYSBSdWl6?=",
            "=?utf-8?b?SGFuYSBEdm/FmcOhaw==?=",  # a '/' in the base64
            "Sales/Ops",
            "Ruiz (work)",
            '""',
            "Ana\x1c",
            "M\u00fcller",
        ]
    ),
)
entry = st.one_of(
    address,
    st.builds(lambda n, a: f"{n} <{a}>", name, address),
    st.sampled_from(
        [
            "undisclosed-recipients:;",
            "<Undisclosed-Recipient:@mailman.enron.com;>",
            "undisclosed-recipients:;@ENRON",
            "Team: a@acme.com, B <b@x.org>;",
            "Empty: ;",
            "garbage",
            "<>",
            "a@b@c",
            "/o=enron/ou=na/cn=recipients/cn=jsmith",
            "J Smith </O=ENRON/OU=NA/CN=RECIPIENTS/CN=JSMITH@ENRON.com>",  # a path with a domain glued on
            "/o=enron/ou=na/cn=recipients/cn=bo@enron.com",
            "/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JSMITH <jsmith@enron.com>",  # a path where a name would be
            "x/o=y@acme.com",
            "NO-REPLY@x.com",
        ]
    ),
)

GROUPS = {  # group syntax (RFC 5322, and as Exchange and Lotus Notes wrote it) -> the real addresses in it
    "<Undisclosed-Recipient:@mailman.enron.com;>": [],
    "undisclosed-recipients:;@ENRON": [],
    "Undisclosed-Recipient:@albatross.prod.itd.earthlink.net;": [],
    '"Undisclosed-Recipient" <Undisclosed-Recipient:;>': [],
    "Friends:;": [],
    'Team: ana@acme.com, "Li, Bo" <bo@acme.com>;, cy@partner.example': [
        "ana@acme.com",
        "bo@acme.com",
        "cy@partner.example",
    ],
    "ana@acme.com, Empty: ;": ["ana@acme.com"],
}
