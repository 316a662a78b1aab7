"""Hypothesis strategies for address-list header values: plain, named, quoted, encoded and malformed entries."""

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
    st.sampled_from(["=?UTF-8?B?w4FuYSBSdWl6?=", "Ruiz (work)", '""', "Ana\x1c", "M\u00fcller"]),
)
entry = st.one_of(
    address,
    st.builds(lambda n, a: f"{n} <{a}>", name, address),
    st.sampled_from(
        [
            "undisclosed-recipients:;",
            "garbage",
            "<>",
            "a@b@c",
            "/o=enron/ou=na/cn=recipients/cn=jsmith",
            "NO-REPLY@x.com",
        ]
    ),
)
