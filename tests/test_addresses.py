"""Address parsing and normalisation: the identity rules every connector relies on."""

from __future__ import annotations

import pytest

from tiepulse.connectors.addresses import AddressNormaliser, decode_name
from tiepulse.connectors.mail.address_lists import AddressLists


@pytest.fixture
def norm() -> AddressNormaliser:
    return AddressNormaliser()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Ruiz@Example.COM", "ana.ruiz@example.com"),
        ("'mark.allan.smith@us.pwcglobal.com'", "mark.allan.smith@us.pwcglobal.com"),
        ("a..shankman@enron.com", "a..shankman@enron.com"),
        (".jeff@enron.com", "jeff@enron.com"),
        ("J.Smith+news@GoogleMail.com", "jsmith@gmail.com"),
        ("x@xn--bcher-kva.de", "x@bücher.de"),
        ("x@BÜCHER.de", "x@bücher.de"),
        ("/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JSMITH", "x500:/o=enron/ou=na/cn=recipients/cn=jsmith"),
        ("/o=enron/ou=na/cn=recipients/cn=jsmith@enron.com", "x500:/o=enron/ou=na/cn=recipients/cn=jsmith"),
        ("/ou=hou/o=ect@enron.com", None),
        ("garbage", None),
        ("@x.com", None),
        ("a@b", None),
        ("", None),
    ],
)
def test_normalise(norm: AddressNormaliser, raw: str, expected: str | None) -> None:
    assert norm.normalise(raw) == expected


def test_gmail_folding_is_configurable() -> None:
    assert AddressNormaliser(fold_gmail=False).normalise("J.Smith+x@gmail.com") == "j.smith+x@gmail.com"


def test_parse_decodes_names_skips_groups_counts_bad(norm: AddressNormaliser) -> None:
    pairs, bad = norm.parse(
        "=?UTF-8?B?w4FuYSBSdWl6?= <ana@x.com>, undisclosed-recipients:;",
        '"Smith, J" <J.Smith@EXAMPLE.com>, bad@@x, ana@x.com',
    )
    assert pairs == [("ana@x.com", "Ána Ruiz"), ("j.smith@example.com", "Smith, J")]
    assert bad == 1


MODERN_X500 = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=abc-esmith"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "/o=acme/ou=first administrative group/cn=recipients/cn=esmith, good@partner.org",
            [("x500:/o=acme/ou=first administrative group/cn=recipients/cn=esmith", None), ("good@partner.org", None)],
        ),
        (f"Ed Smith <{MODERN_X500}>, b@x.com", [("x500:" + MODERN_X500.lower(), "Ed Smith"), ("b@x.com", None)]),
        (f"{MODERN_X500}", [("x500:" + MODERN_X500.lower(), None)]),
        ("a/o=not-a-path@x.com", [("a/o=not-a-path@x.com", None)]),
    ],
)
def test_x500_paths_with_blanks_and_parentheses_stay_whole(
    norm: AddressNormaliser, value: str, expected: list[tuple[str, str | None]]
) -> None:
    assert norm.parse(value) == (expected, 0)
    assert AddressLists(norm).parse(value) == (tuple(expected), 0)


def test_parse_nothing(norm: AddressNormaliser) -> None:
    assert norm.parse(None, "") == ([], 0)
    assert norm.parse("undisclosed-recipients:;") == ([], 0)


def test_pseudonymisation_keeps_domain_drops_names_and_is_consistent() -> None:
    a = AddressNormaliser(hmac_key=b"k1")
    pairs, _ = a.parse("Ana <Ana@X.com>")
    token = pairs[0][0]
    assert token.startswith("p~") and token.endswith("@x.com") and "ana" not in token
    assert pairs[0][1] is None
    assert a.normalise("ana@x.com") == token == AddressNormaliser(hmac_key=b"k1").normalise("ANA@x.com")
    assert AddressNormaliser(hmac_key=b"k2").normalise("ana@x.com") != token
    # Gmail folding happens before hashing, so both spellings give one token.
    assert a.normalise("a.n.a+tag@gmail.com") == a.normalise("ana@gmail.com")


def test_decode_name() -> None:
    assert decode_name("=?iso-8859-1?q?Jos=E9?= Nunez") == "José Nunez"
    assert decode_name("  ") is None
