"""The columnar header parser gives exactly the rows and rejects of ``MessageParser`` (the reference).

Compared as whole Arrow tables and reject lists, batch by batch, on the tricky mbox, the Enron sent mail, the
sample organisation's mailboxes, the benchmark's generated mbox and random header blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ENRON, make_context, requires_enron
from tests.connectors.address_strategies import GROUPS, domain, entry, local
from tiepulse.connectors.base import ImportContext
from tiepulse.connectors.mail import batches as reference
from tiepulse.connectors.mail import iter_header_blocks
from tiepulse.connectors.mail.batches import Item
from tiepulse.connectors.mail.columnar import batch as columnar
from tiepulse.connectors.mail.records import MessageParser

TRICKY = Path(__file__).parent / "data" / "mail" / "tricky.mbox"

CONTEXTS = {
    "plain": make_context(),
    "subject hash": make_context(subject_key=b"k" * 32),
    "copy digest": make_context(copy_key=b"c" * 32),
    "pseudonymised": make_context(hmac_key=b"h" * 32, automated_patterns=(r"^no-?reply@",)),
    "no gmail folding": make_context(fold_gmail=False),
}


def items_of(path: Path) -> list[Item]:
    return [(position, block, None) for position, block in iter_header_blocks(path)]


def parser(ctx: ImportContext, path: Path | str = "x.mbox") -> MessageParser:
    return MessageParser(ctx, owner="me@example.com", source="mbox", source_file=str(path))


def assert_same(p: MessageParser, items: list[Item]) -> None:
    expected_rows, expected_rejects = reference.parse_batch(p, items)
    [(rows, rejects)] = columnar.parse_columnar([(p, items)])
    assert rows.schema == expected_rows.schema
    assert rows.to_pylist() == expected_rows.to_pylist()
    assert rows.equals(expected_rows)
    assert rejects == expected_rejects


def batched(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@pytest.mark.parametrize("name", sorted(CONTEXTS))
@pytest.mark.parametrize("size", [1, 3, 13])
def test_tricky_mbox(name: str, size: int) -> None:
    p = parser(CONTEXTS[name], TRICKY)
    for batch in batched(items_of(TRICKY), size):
        assert_same(p, batch)


def test_group_syntax_as_the_reference() -> None:
    blocks = [
        f"Message-ID: <g{n}@x.com>\nDate: Mon, 6 Jan 2020 10:00:00 +0000\nFrom: me@x.com\nTo: {to}\n".encode()
        for n, to in enumerate(GROUPS)
    ]
    for ctx in CONTEXTS.values():
        assert_same(parser(ctx), [(str(n), block, None) for n, block in enumerate(blocks)])


def test_several_batches_in_one_pass_equal_each_batch_alone() -> None:
    ctx = make_context()
    tricky = items_of(TRICKY)
    parts = [(parser(ctx, "a.mbox"), tricky[:5]), (parser(ctx, "b.mbox"), []), (parser(ctx, "c.mbox"), tricky * 2)]
    together = columnar.parse_columnar(parts)
    assert together == [reference.parse_batch(p, items) for p, items in parts]
    assert [t.num_rows for t, _ in together] == [3, 0, 6]  # a Message-ID repeated within a batch keeps its first row


def test_parts_of_another_context_are_refused() -> None:
    with pytest.raises(ValueError, match="same import context"):
        columnar.parse_columnar([(parser(make_context()), []), (parser(make_context(fold_gmail=False)), [])])


@requires_enron
@pytest.mark.parametrize("name", ["plain", "pseudonymised"])
def test_enron_sent_mail(name: str) -> None:
    ctx = CONTEXTS[name]
    parts = [(parser(ctx, path), items_of(path)) for path in sorted((ENRON / "sent_mail").glob("*.mbox"))]
    together = columnar.parse_columnar(parts)
    for (p, items), batch in zip(parts, together, strict=True):
        assert batch == reference.parse_batch(p, items), p.source_file
    # The columns do the work: only the 16 Enron messages whose X-From / X-To / X-cc carry an Exchange X.500 path
    # need the per-message parser (connectors/mail/exchange.py pairs paths with addresses).
    _, inexact = columnar._columns(parts, [item for _, items in parts for item in items])
    assert inexact.sum() == 16


@pytest.fixture(scope="module")
def sample_mail(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from tiepulse.sample import generate_sample

    summary = generate_sample(tmp_path_factory.mktemp("sample"), people=60, months=15, externals=200)
    return sorted(summary.mail_dir.glob("*.mbox"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plain", "subject hash"])
def test_sample_organisation_mailboxes(sample_mail: list[Path], name: str) -> None:
    ctx = CONTEXTS[name]
    for path in sample_mail[::6]:
        p = parser(ctx, path)
        for batch in batched(items_of(path), 700):
            assert_same(p, batch)


def test_generated_benchmark_mbox(tmp_path: Path) -> None:
    from benchmarks.gen_mbox import write_mbox

    path = tmp_path / "generated.mbox"
    write_mbox(path, 3_000)
    p = parser(make_context(), path)
    for batch in batched(items_of(path), 1_000):
        assert_same(p, batch)


def test_parse_batches_equals_the_reference_below_and_above_the_columnar_threshold(tmp_path: Path) -> None:
    from benchmarks.gen_mbox import write_mbox

    path = tmp_path / "generated.mbox"
    write_mbox(path, columnar.COLUMNAR_MIN + 10)
    items = items_of(path)
    p = parser(make_context(), path)
    small, large = [(p, items[:10]), (p, items[10:20])], [(p, items[:10]), (p, items[10:])]
    for parts in (small, large):
        assert columnar.parse_batches(parts) == [reference.parse_batch(p, part) for p, part in parts]


# Random header blocks: the wanted fields in any case and order, repeated or missing, folded, with CRLF, odd
# spacing, encoded words, bytes that are not ASCII, and values from plain to malformed.
_addresses = st.lists(entry, min_size=0, max_size=4).flatmap(
    lambda entries: st.sampled_from([", ", ",", " ,\t", ",\n "]).map(lambda sep: sep.join(entries))
)
_date = st.one_of(
    st.builds(
        lambda wd, d, m, y, hh, mm, ss, tz, zone: f"{wd}{d} {m} {y} {hh:02d}:{mm:02d}:{ss:02d} {tz}{zone}",
        st.sampled_from(["", "Mon, ", "Sun, ", "mon, ", "Xyz, "]),
        st.sampled_from(["1", "06", "29", "31", "0", "32"]),
        st.sampled_from(["Jan", "Feb", "jan", "February", "Foo"]),
        st.sampled_from(["2001", "2020", "1979", "1989", "01", "0001", "2150"]),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 61),
        st.sampled_from(["+0000", "-0000", "-0700", "+0530", "+0099", "GMT", "EST", "", "+2400"]),
        st.sampled_from(["", " (PDT)", " (x y)", "  "]),
    ),
    st.sampled_from(["sometime next week", "", "Tue, 7 Jan 2020 08:00:00 -0500"]),
)
_subject = st.one_of(
    st.from_regex(r"(?:(?:Re|RE|Fwd|FW|Aw|SV|WG|Antw)(?:\[[0-9]\])? ?: ?){0,3}(?:\[[a-z]{1,5}\] ?)?[A-Za-z ]{0,12}"),
    st.sampled_from(["=?utf-8?q?Fwd=3A_Bericht?=", "=?utf-8?q?Re=3A_x?= y", "  Re :  y", "[a] Re: b", "", "Re:"]),
)
_message_id = st.one_of(
    st.builds(lambda local, domain: f"<{local}@{domain}>", local, domain),
    st.sampled_from(["<>", "bare-id", "<A@B> <c@d>", "", "< x >"]),
)
_other = st.sampled_from(
    [
        ("References", "<root.0@example.com> <Plain.1@Example.COM>"),
        ("References", "a b"),
        ("In-Reply-To", "<Plain.1@Example.COM>"),
        ("X-GM-THRID", "1234"),
        ("X-Gmail-Labels", 'Inbox,"Important, very",=?utf-8?q?Caf=C3=A9?='),
        ("X-Gmail-Labels", "Inbox, Sent ,,Opened"),
        ("X-Folder", "\\Sent Mail"),
        ("List-Id", "Team News <News.Example.COM>"),
        ("List-Unsubscribe", "<mailto:leave@example.com>"),
        ("Precedence", "BULK"),
        ("Auto-Submitted", "Auto-Generated"),
        ("X-To", "someone <s@x.com>"),
        ("Content-Type", "text/plain"),
    ]
)


def _case(name: str, style: int) -> str:
    return [name, name.lower(), name.upper()][style]


_field = st.one_of(
    st.tuples(st.sampled_from(["From", "To", "Cc", "Bcc"]), _addresses),
    st.tuples(st.just("Date"), _date),
    st.tuples(st.just("Subject"), _subject),
    st.tuples(st.just("Message-ID"), _message_id),
    _other,
)


@st.composite
def header_block(draw: st.DrawFn) -> bytes:
    fields = [("Message-ID", draw(_message_id)), ("Date", draw(_date)), ("From", draw(_addresses))]
    fields += draw(st.lists(_field, max_size=6))
    order = draw(st.permutations(range(len(fields))))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for i in order:
        name, value = fields[i]
        name = _case(name, draw(st.integers(0, 2)))
        colon = draw(st.sampled_from([": ", ":", " : ", ":\t", "\n :"]))
        if " " in value and draw(st.booleans()):
            value = value.replace(" ", newline + draw(st.sampled_from([" ", "\t"])), 1)  # a folded line
        lines.append(f"{name}{colon}{value}")
    text = newline.join(lines) + newline
    raw = text.encode("utf-8")
    damage = draw(st.sampled_from([b"", b"", b"", b"\xe9", b"\x00", " ".encode("latin-1")]))
    if damage:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + damage + raw[at:]
    return raw


@settings(max_examples=250, deadline=None)
@given(st.lists(header_block(), min_size=1, max_size=6), st.sampled_from(sorted(CONTEXTS)))
def test_random_header_blocks(blocks: list[bytes], name: str) -> None:
    assert_same(parser(CONTEXTS[name]), [(str(i * 100), block, None) for i, block in enumerate(blocks)])
