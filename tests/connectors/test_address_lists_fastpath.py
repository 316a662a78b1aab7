"""The address-list fast path gives exactly what the stdlib parser gives, on generated header values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.addresses import AddressNormaliser
from connectors.mail.address_lists import AddressLists

_local = st.from_regex(r"[a-z0-9][a-z0-9._+'-]{0,10}", fullmatch=True)
_domain = st.sampled_from(["acme.com", "Example.ORG", "gmail.com", "x", "b\u00fccher.de", "mail.co.uk"])
_address = st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain)
_name = st.one_of(
    st.just(""),
    st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,12}", fullmatch=True),
    st.from_regex(r'"[A-Za-z ,.()@<>-]{0,12}"', fullmatch=True),
    st.just("=?UTF-8?B?w4FuYSBSdWl6?="),
    st.just("Ruiz (work)"),
)
_entry = st.one_of(
    _address,
    st.builds(lambda name, address: f"{name} <{address}>", _name, _address),
    st.sampled_from(["undisclosed-recipients:;", "garbage", "<>", "a@b@c"]),
)
_value = st.lists(_entry, min_size=1, max_size=5).map(", ".join)


@settings(max_examples=400, deadline=None)
@given(_value)
def test_fast_path_equals_stdlib(value: str) -> None:
    for normaliser in (AddressNormaliser(), AddressNormaliser(hmac_key=b"k")):
        lists = AddressLists(normaliser)
        assert lists.parse(value) == lists.slow(value), value
