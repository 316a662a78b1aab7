"""The address-list fast path gives exactly what the stdlib parser gives, on generated header values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.connectors.address_strategies import entry
from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.connectors.mail.address_lists import AddressLists

_value = st.lists(entry, min_size=1, max_size=5).map(", ".join)


@settings(max_examples=400, deadline=None)
@given(_value)
def test_fast_path_equals_stdlib(value: str) -> None:
    for normaliser in (AddressNormaliser(), AddressNormaliser(hmac_key=b"k")):
        lists = AddressLists(normaliser)
        assert lists.parse(value) == lists.slow(value), value
