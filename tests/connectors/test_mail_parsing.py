"""Tricky header inputs, on a small hand-written mbox (tests/connectors/data/mail/tricky.mbox)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import make_context
from tests.connectors.address_strategies import GROUPS
from tiepulse.connectors.base import ImportContext, Reject
from tiepulse.connectors.mail import MailFileSource, claims
from tiepulse.connectors.mail.address_lists import AddressLists
from tiepulse.connectors.mail.headers import extract
from tiepulse.connectors.mail.subjects import classify, decode_subject

TRICKY = Path(__file__).parent / "data" / "mail" / "tricky.mbox"


def read(path: Path, ctx: ImportContext, fmt: str | None = None) -> tuple[dict[str, dict], dict[str, Reject]]:
    """Rows by message_id (or key) and rejects by the Message-ID in their excerpt."""
    source = MailFileSource(path, fmt or claims(path) or "")
    rows: dict[str, dict] = {}
    rejects: dict[str, Reject] = {}
    for page in source.pages("owner@example.com", ctx, None):
        for row in page.rows["raw.mail_messages"].to_pylist() if page.rows else []:
            rows[row["message_id"] or row["message_key"]] = row
        for reject in page.rejects:
            rejects[reject.excerpt.split("message-id: <", 1)[-1].split(">", 1)[0]] = reject
    return rows, rejects


@pytest.fixture
def tricky(ctx: ImportContext) -> tuple[dict[str, dict], dict[str, Reject]]:
    return read(TRICKY, ctx)


def test_every_message_is_a_row_or_a_reject(tricky) -> None:
    rows, rejects = tricky
    assert len(rows) + len(rejects) == 13
    assert {k: r.reason for k, r in rejects.items()} == {
        "nodate.4@example.com": "missing_date",
        "baddate.5@example.com": "unparseable_date",
        "y1979.6@example.com": "implausible_date",
        "future.7@example.com": "implausible_date",
        "nofrom.9@example.com": "no_sender",
        "badfrom.10@example.com": "no_sender",
        "norcpt.11@example.com": "no_valid_address",
    }
    for reject in rejects.values():
        assert reject.kind == "message" and reject.detail and reject.position.isdigit()
        assert "subject" not in reject.excerpt.lower()


def test_recipients_once_with_strongest_kind(tricky) -> None:
    row = tricky[0]["Plain.1@Example.COM"]
    assert row["message_key"] == "plain.1@example.com"
    assert row["from_address"] == "alice@example.com" and row["from_name"] == "Alice Example"
    kinds = {r["address"]: r["kind"] for r in row["recipients"]}
    assert kinds == {
        "bob@example.com": "to",
        "carol@example.com": "to",
        "dave@example.com": "cc",
        "erin@example.com": "bcc",
    }
    assert [r["name"] for r in row["recipients"] if r["address"] == "carol@example.com"] == ["Carol C."]
    assert row["sent_at"] == dt.datetime(2020, 1, 6, 9, 0, tzinfo=dt.UTC)
    assert row["is_reply"] and not row["is_forward"]
    assert row["subject_hash"] is None  # no subject key: nothing of the subject is kept
    assert row["bad_address_count"] == 0
    assert row["source"] == "mbox" and row["source_position"] == "0"


def test_rfc2047_names_and_folded_headers(tricky) -> None:
    row = tricky[0]["encoded.2@example.com"]
    assert row["from_name"] == "Jürgen Müller"
    names = {r["address"]: r["name"] for r in row["recipients"]}
    assert names == {"andre@example.fr": "André Dupont", "zoe@example.com": "Zoë Smith"}
    assert row["is_forward"] and not row["is_reply"]  # encoded subject "Fwd: Bericht"
    assert row["sent_at"] == dt.datetime(2020, 1, 7, 13, 0, tzinfo=dt.UTC)


def test_group_syntax_keeps_message_without_recipients(tricky) -> None:
    row = tricky[0]["group.3@example.com"]
    assert row["recipients"] == [] and row["bad_address_count"] == 0
    assert row["is_reply"]  # AW:


def test_group_syntax_is_no_person_and_keeps_the_message(tmp_path: Path, ctx: ImportContext) -> None:
    """RFC 5322 groups and the forms Exchange and Lotus Notes wrote (Enron): the group's name and host are not
    addresses, so no bad address and no quarantine; the message keeps its real recipients."""
    mbox = tmp_path / "groups.mbox"
    mbox.write_text(
        "".join(
            f"From x Mon Jan  6 10:00:00 2020\nMessage-ID: <g{n}@example.com>\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n"
            f"From: me@example.com\nTo: {to}\n\nbody\n\n"
            for n, to in enumerate(GROUPS)
        )
    )
    rows, rejects = read(mbox, ctx)
    assert rejects == {}
    for n, expected in enumerate(GROUPS.values()):
        row = rows[f"g{n}@example.com"]
        assert [r["address"] for r in row["recipients"]] == expected
        assert row["bad_address_count"] == 0


def test_x500_and_mixed_bad_addresses(tricky) -> None:
    row = tricky[0]["x500.8@example.com"]
    addresses = {r["address"] for r in row["recipients"]}
    assert addresses == {"x500:/o=enron/ou=na/cn=recipients/cn=jsmith", "good@example.com"}
    assert row["bad_address_count"] == 2
    assert row["is_forward"] and not row["is_reply"]  # the outermost prefix decides


def test_list_headers_naive_date_and_hash_key(tricky) -> None:
    rows = tricky[0]
    (key,) = [k for k in rows if k.startswith("h:")]
    row = rows[key]
    assert row["message_id"] is None
    assert row["sent_at"] == dt.datetime(2020, 1, 10, 12, 0, tzinfo=dt.UTC)  # no zone: taken as UTC
    assert row["list_id"] == "news.example.com" and row["has_list_unsubscribe"]
    assert row["precedence"] == "bulk" and row["auto_submitted"] == "auto-generated"
    assert row["in_reply_to"] == "Plain.1@Example.COM"
    assert row["references"] == ["root.0@example.com", "Plain.1@Example.COM"]


def test_last_message_without_trailing_newline(tricky) -> None:
    assert tricky[0]["last.13@example.com"]["from_address"] == "alice@example.com"


def test_subject_hash_with_key() -> None:
    rows, _ = read(TRICKY, make_context(subject_key=b"k" * 32))
    first = rows["Plain.1@Example.COM"]["subject_hash"]
    assert first is not None and len(first) == 64
    # Prefixes, case and whitespace do not change the hash.
    from tiepulse.connectors.mail.subjects import subject_hash

    assert first == subject_hash(b"k" * 32, classify("quarterly plan")[2])


def test_pseudonymisation_drops_names_and_is_consistent() -> None:
    ctx = make_context(hmac_key=b"s" * 32)
    rows, rejects = read(TRICKY, ctx)
    again, _ = read(TRICKY, ctx)
    plain = rows["Plain.1@Example.COM"]
    assert plain["from_address"].startswith("p~") and plain["from_address"].endswith("@example.com")
    assert plain["from_name"] is None and all(r["name"] is None for r in plain["recipients"])
    assert all(r["address"].startswith("p~") for r in plain["recipients"])
    assert again["Plain.1@Example.COM"]["from_address"] == plain["from_address"]
    bob = {r["address"] for r in plain["recipients"] if r["kind"] == "to"}
    assert bob & {r["address"] for r in rows["last.13@example.com"]["recipients"]}
    for reject in rejects.values():
        assert "alice@" not in reject.excerpt and "bob@" not in reject.excerpt


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: x", (True, False, "x")),
        ("RE[2]: x", (True, False, "x")),
        ("Aw: Sv: Antw: x", (True, False, "x")),
        ("Fwd: Re: x", (False, True, "x")),
        ("WG: x", (False, True, "x")),
        ("[team] Re: x", (True, False, "x")),
        ("Regarding: x", (False, False, "Regarding: x")),
        ("x", (False, False, "x")),
    ],
)
def test_subject_prefixes(subject: str, expected: tuple[bool, bool, str]) -> None:
    is_reply, is_forward, rest = classify(subject)
    assert (is_reply, is_forward, rest.strip()) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?Fwd=3A_Bericht?=", "Fwd: Bericht"),
        ("=?\xe9utf-8?q?Fwd=3A_Bericht?=", "=?\xe9utf-8?q?Fwd=3A_Bericht?="),  # a charset name no codec has
        ("=?no-such-charset?q?x?=", "=?no-such-charset?q?x?="),
    ],
)
def test_undecodable_encoded_words_are_kept_as_written(raw: str, expected: str) -> None:
    assert decode_subject(raw) == expected


def test_header_extraction_is_case_insensitive_and_unfolds() -> None:
    block = b"FROM: a@example.com\r\nto: b@example.com,\r\n c@example.com\r\nX-Other: y\r\nTo: d@example.com\r\n"
    fields = extract(block)
    assert fields["from"] == "a@example.com"
    assert fields["to"] == "b@example.com, c@example.com, d@example.com"
    assert "x-other" not in fields


def test_latin1_header_bytes_do_not_fail() -> None:
    fields = extract(b"From: Andr\xe9 <andre@example.fr>\nSubject: caf\xc3\xa9\n")
    assert fields["from"] == "André <andre@example.fr>" and fields["subject"] == "café"


@pytest.mark.parametrize(
    "value",
    [
        "a@example.com, b@example.com",
        "a..b@example.com, .c@example.com",
        "a@example.com,, b@example.com",
        "'quoted'@example.com",
        "a@b",
        "x@example.com, X@EXAMPLE.com",
    ],
)
def test_fast_address_path_matches_the_normaliser(value: str, ctx: ImportContext) -> None:
    lists = AddressLists(ctx.normaliser())
    assert lists.parse(value) == lists.slow(value)


def test_date_zone_is_kept_and_a_missing_zone_is_unknown(tricky) -> None:
    rows, _ = tricky
    offsets = {key: row["utc_offset_minutes"] for key, row in rows.items()}
    assert offsets["Plain.1@Example.COM"] == 60
    assert offsets["encoded.2@example.com"] == -300
    assert offsets["group.3@example.com"] == 0  # +0000 says UTC
    zoneless = [row for row in rows.values() if row["sent_at"].day == 10]  # "Fri, 10 Jan 2020 12:00:00"
    assert [row["utc_offset_minutes"] for row in zoneless] == [None]


def test_subject_digest_only_with_a_copy_key(tricky) -> None:
    assert all(row["subject_digest"] is None for row in tricky[0].values())
    rows, _ = read(TRICKY, make_context(copy_key=b"c" * 32))
    digest = rows["Plain.1@Example.COM"]["subject_digest"]
    from tiepulse.connectors.mail.subjects import subject_digest

    assert digest == subject_digest(b"c" * 32, classify("quarterly plan")[2]) and len(digest) == 8
