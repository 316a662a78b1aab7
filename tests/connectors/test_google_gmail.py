"""Gmail through the real client library against the fake Google: full sync, history, resync, quota, mapping."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.clock import SimulatedClock
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed, add_mail
from tiepulse.connectors.google import quota_pacer
from tiepulse.connectors.sync_source import OptionsError
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.pipelines.providers.google import google_options
from tiepulse.pipelines.sync import sync_account


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle) -> Iterator[Testbed]:
    testbed = Testbed(tmp_path, monkeypatch, fake)
    yield testbed
    testbed.close()


def test_full_then_incremental_holds_exactly_the_mailbox(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.generate_mailbox(OWNER, 700, spam_every=50)
    old = box.add(
        [("From", "x@old.example"), ("Date", "Mon, 1 Jan 2018 10:00:00 +0000")],
        when=dt.datetime(2018, 1, 1, tzinfo=dt.UTC),
    )
    draft = box.add([("From", OWNER), ("To", "y@partner.example")], labels=["DRAFT"])
    bed.configure(gmail={"commit_rows": 120, "batch_size": 20})

    first = bed.sync("gmail")
    stored = bed.stored()
    assert set(stored) == bed.expected_ids()
    assert old.id not in stored and draft.id not in stored
    assert first.inserted["raw.gmail_messages"] == len(stored) == 700 - 14
    assert first.pages > 6  # committed page by page

    # New mail, a deletion, a move to the trash and one back out, then an incremental sync.
    new = add_mail(box, 30)
    gone = sorted(stored)[:3]
    for ident in gone:
        box.delete(ident)
    trashed = sorted(stored)[10]
    box.relabel(trashed, add=["TRASH"], remove=["INBOX"])
    spam = next(m.id for m in box.messages.values() if "SPAM" in m.labels)
    box.relabel(spam, remove=["SPAM"], add=["INBOX"])
    calls_before = fake.calls["gmail.messages.list"]

    second = bed.sync("gmail")
    stored = bed.stored()
    assert set(stored) == bed.expected_ids()
    assert set(new) <= set(stored) and spam in stored
    assert not set(gone) & set(stored) and trashed not in stored
    assert second.inserted["raw.gmail_messages"] == 31
    assert second.removed["raw.gmail_messages"] == 4
    assert fake.calls["gmail.messages.list"] == calls_before  # incremental: history only

    # Nothing new: nothing added, nothing fetched.
    gets = fake.calls["gmail.messages.get"]
    third = bed.sync("gmail")
    assert third.inserted == {} and fake.calls["gmail.messages.get"] == gets
    cursor = bed.con.execute("select cursor, status from ops.sync_state where source = 'gmail'").fetchall()
    assert '"incremental"' in cursor[0][0] and cursor[0][1] == "complete"


def test_rows_map_headers_like_the_file_importer(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.mailbox(OWNER)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    msg = box.add(
        [
            ("From", '"Bob B." <Bob.B@Partner.Example>'),
            ("To", f"{OWNER}, carol@corp.example"),
            ("Cc", "Carol <CAROL@corp.example>, dave@corp.example"),
            ("Date", when.strftime("%a, %d %b %Y %H:%M:%S +0000")),
            ("Subject", "RE: [team] plans"),
            ("Message-ID", "<ABC.123@Partner.Example>"),
            ("In-Reply-To", "<prev@corp.example>"),
            ("References", "<root@corp.example> <prev@corp.example>"),
            ("List-Id", "Team <team.corp.example>"),
            ("Precedence", "List"),
        ],
        when=when,
        labels=["INBOX", "CATEGORY_UPDATES"],
        thread_id="18c0aaaabbbbcccc",
    )
    no_id = box.add([("From", "eve@partner.example"), ("To", OWNER)], when=when)  # no Date, no Message-ID
    bed.sync("gmail")
    row = bed.con.execute(
        "select message_key, message_id, source, source_file, source_position, sent_at, from_address, from_name, "
        'recipients, in_reply_to, "references", is_reply, is_forward, subject_hash, thread_id, labels, list_id, '
        "has_list_unsubscribe, precedence from raw.gmail_messages where source_position = ?",
        [msg.id],
    ).fetchall()[0]
    assert row[0] == "abc.123@partner.example" and row[1] == "ABC.123@Partner.Example"
    assert row[2:5] == ("gmail", OWNER, msg.id)
    assert row[5] == when.replace(microsecond=0)
    assert row[6:8] == ("bob.b@partner.example", "Bob B.")
    assert [(r["kind"], r["address"]) for r in row[8]] == [
        ("to", OWNER),
        ("to", "carol@corp.example"),
        ("cc", "dave@corp.example"),
    ]
    assert row[9:11] == ("prev@corp.example", ["root@corp.example", "prev@corp.example"])
    assert row[11:14] == (True, False, None)
    assert row[14:] == ("18c0aaaabbbbcccc", ["INBOX", "CATEGORY_UPDATES"], "team.corp.example", False, "list")
    fallback = bed.con.execute(
        "select message_key, sent_at from raw.gmail_messages where source_position = ?", [no_id.id]
    ).fetchall()[0]
    assert fallback[0].startswith("h:")  # same rule as the file importer
    assert abs((fallback[1] - when).total_seconds()) < 1  # internalDate stands in for the missing Date


def test_only_metadata_is_ever_requested(bed: Testbed, fake: FakeGoogle) -> None:
    fake.generate_mailbox(OWNER, 60)
    bed.sync("gmail")
    gets = [q for method, q in fake.requests if method == "gmail.messages.get"]
    assert len(gets) == 60
    assert all(q["format"] == ["metadata"] for q in gets)
    assert set(gets[0]["metadataHeaders"]) == {
        "From",
        "To",
        "Cc",
        "Bcc",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "List-Id",
        "List-Unsubscribe",
        "Precedence",
        "Auto-Submitted",
        "Subject",
    }
    lists = [q for method, q in fake.requests if method == "gmail.messages.list"]
    assert all("q" not in q and q.get("includeSpamTrash") == ["false"] for q in lists)
    # The token asked for exactly the metadata scope.
    assert {t.scopes for t in fake.tokens.values()} == {frozenset({"https://www.googleapis.com/auth/gmail.metadata"})}


def test_subject_is_not_requested_when_switched_off(bed: Testbed, fake: FakeGoogle) -> None:
    fake.generate_mailbox(OWNER, 5)
    bed.configure(gmail={"read_subject": False})
    bed.sync("gmail")
    gets = [q for method, q in fake.requests if method == "gmail.messages.get"]
    assert "Subject" not in gets[0]["metadataHeaders"]


def test_window_stops_listing_at_old_mail(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.mailbox(OWNER)
    now = dt.datetime.now(dt.UTC)
    for n in range(40):
        box.add(
            [("From", "a@partner.example"), ("To", OWNER), ("Message-ID", f"<w{n}@x>")],
            when=now - dt.timedelta(days=n * 30),
        )  # 40 months back
    bed.configure(gmail={"window_days": 365, "list_page_size": 5})
    bed.sync("gmail")
    assert set(bed.stored()) == bed.expected_ids(window_days=365)
    assert len(bed.stored()) == 13
    assert fake.calls["gmail.messages.list"] <= 5  # stopped at the first page wholly older than the window


def test_progress_starts_from_messages_total_and_ends_exact(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.generate_mailbox(OWNER, 100, spam_every=10)  # messagesTotal counts the 10 in SPAM too
    bed.configure(gmail={"commit_rows": 30, "list_page_size": 40})
    source = bed.sources("gmail")[0]
    seen: list[tuple[int | None, int]] = []

    def on_page(stream: str, result: LoadResult) -> None:
        seen.append((source.progress.total, source.progress.done))  # type: ignore[attr-defined]

    sync_account(bed.con, source, pseudonym_key=None, on_page=on_page)
    assert seen[1] == (100, 30)  # the estimate while listing
    assert seen[-1] == (90, 90) and len(bed.stored()) == 90  # the bar ends full
    add_mail(box, 4)
    seen.clear()
    source = bed.sources("gmail")[0]
    sync_account(bed.con, source, pseudonym_key=None, on_page=on_page)
    assert seen == [(4, 4)]  # incremental: the work the history lists


def test_expired_history_resyncs_without_duplicates_or_losses(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.generate_mailbox(OWNER, 150)
    bed.sync("gmail")
    before = bed.stored()
    box.expire_history()
    new = add_mail(box, 7)
    gets = fake.calls["gmail.messages.get"]
    result = bed.sync("gmail")
    after = bed.stored()
    assert set(after) == bed.expected_ids() == set(before) | set(new)
    assert {k: after[k] for k in before} == before  # nothing removed or changed
    assert result.inserted["raw.gmail_messages"] == 7 and not result.removed
    assert fake.calls["gmail.messages.get"] - gets == 7  # stored messages are not fetched again
    count = bed.con.execute("select count(*), count(distinct message_key) from raw.gmail_messages").fetchall()[0]
    assert count == (157, 157)


@pytest.mark.parametrize(("cost", "messages"), [(5, 400), (20, 100)], ids=["get 5 units", "get 20 units"])
def test_pacer_keeps_under_the_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cost: int, messages: int) -> None:
    # 60,000 units per minute (1,000/s), metered by the fake over a sliding 5 s window; the sync needs ~2,000
    # units. The pacer spends 85% (850/s) after a burst of max(0.5 s, one batch) = 425 or 500 units: at most
    # 4,675 or 4,750 units in any 5 s. The pacer and the fake share a simulated clock, so a busy machine's late
    # requests cannot bunch up in the fake's window.
    clock = SimulatedClock()
    with FakeGoogle(quota_units=5_000, quota_period=5.0, costs={"gmail.messages.get": cost}, clock=clock.time) as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        fake.generate_mailbox(OWNER, messages)
        quota = {"gmail_units_per_minute": 60_000, "burst_seconds": 0.5, "headroom": 0.85}
        bed.configure(quota={**quota, "costs": {"gmail.messages.get": cost}})
        source = bed.sources("gmail")[0]
        caller = source.caller  # type: ignore[attr-defined]
        caller.pacer = dataclasses.replace(caller.pacer, clock=clock.time, sleep=clock.sleep)
        sync_account(bed.con, source, pseudonym_key=None)
        bed.close()
    spent = fake.units_spent(OWNER)
    assert spent >= messages * cost
    assert fake.quota.rejections == 0
    assert fake.quota.peak <= 5_000
    floor = (spent - 500) / 850
    assert clock.now >= floor * 0.9  # paced, not bursting into the limit


@pytest.mark.parametrize(
    ("cost", "batch_size", "per_minute"),
    [(5, 25, 6_000), (20, 25, 6_000), (20, 100, 6_000), (5, 100, 15_000), (20, 50, 1_200)],
)
def test_no_minute_ever_spends_more_than_the_budget(cost: int, batch_size: int, per_minute: int) -> None:
    # A full sync as the connector paces it, for ten simulated minutes: a list call, then batches of gets.
    options = google_options(
        data={
            "gmail": {"batch_size": batch_size},
            "quota": {"gmail_units_per_minute": per_minute, "costs": {"gmail.messages.get": cost}},
        }
    )
    clock = SimulatedClock()
    pacer = quota_pacer(options, "gmail", cost * batch_size)
    pacer = dataclasses.replace(pacer, clock=lambda: clock.now, sleep=clock.sleep)
    spends: list[tuple[float, float]] = []
    while clock.now < 600:
        for method, calls in [("gmail.messages.list", 1)] + [("gmail.messages.get", batch_size)] * 20:
            pacer.acquire(method, calls)
            spends.append((clock.now, pacer.cost(method, calls)))
    times = [t for t, _ in spends]
    worst = max(
        sum(units for _, units in spends[i : bisect.bisect_left(times, start + 60.0)])
        for i, (start, _) in enumerate(spends)
    )
    assert worst <= per_minute  # not only the first minute: any 60 s, a full burst included
    # On average the headroom's share, less what a big batch needs to fit in the minute.
    expected = min(0.95 * per_minute, per_minute - cost * batch_size)
    assert sum(units for _, units in spends) / (clock.now / 60) >= 0.95 * expected


def test_a_batch_dearer_than_the_minute_is_refused() -> None:
    options = google_options(data={"gmail": {"batch_size": 100}, "quota": {"gmail_units_per_minute": 1_000}})
    with pytest.raises(OptionsError, match=r"lower google\.gmail\.batch_size"):
        quota_pacer(options, "gmail", 20 * 100)


def test_quarantines_bad_addresses_and_malformed_messages(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.mailbox(OWNER)
    good = add_mail(box, 3)
    no_sender = box.add([("From", "not an address"), ("To", OWNER), ("Message-ID", "<b1@x>")])
    bad_rcpt = box.add([("From", "a@partner.example"), ("To", "nobody@nowhere, bob"), ("Message-ID", "<b2@x>")])
    # One message answers non-JSON for good, another once (it is asked again and stored).
    fake.add_fault("gmail.messages.get", "non_json", times=99, where=lambda q: q["_path"][0].endswith(good[0]))
    fake.add_fault("gmail.messages.get", "non_json", times=1, where=lambda q: q["_path"][0].endswith(good[1]))
    result = bed.sync("gmail")
    reasons = dict(
        bed.con.execute("select source_position, reason from ops.quarantine where source = 'gmail'").fetchall()
    )
    assert reasons[no_sender.id] == "no_sender"
    assert reasons[bad_rcpt.id] == "no_valid_address"
    assert reasons[good[0]] == "malformed_response"  # stayed non-JSON: quarantined, not fatal
    assert result.quarantined == len(reasons) == 3
    assert set(bed.stored()) == set(good[1:])


def test_takeout_and_gmail_sightings_are_one_message(bed: Testbed, fake: FakeGoogle) -> None:
    box = fake.generate_mailbox(OWNER, 40)
    bed.sync("gmail")
    # A Takeout export of the same mailbox.
    lines = []
    for message in box.messages.values():
        lines.append("From 1234567890@xxx Mon Jan 06 10:00:00 +0000 2025")
        lines.append(f"X-GM-THRID: {int(message.thread_id, 16)}")
        lines.append("X-Gmail-Labels: " + ",".join(label.title() for label in message.labels))
        lines += [f"{name}: {value}" for name, value in box.headers_of(message)]
        lines += ["", "body text", ""]
    mbox = bed.tmp / "Takeout" / "Mail" / "All mail Including Spam and Trash.mbox"
    mbox.parent.mkdir(parents=True)
    mbox.write_text("\n".join(lines) + "\n")
    report = import_paths(bed.con, [mbox], bed.settings, owner=OWNER)
    assert report.total.inserted.get("raw.mail_messages") == 40
    for model in all_models():
        build_model(bed.con, model)
    counts = bed.con.execute(
        "select count(*), count(*) filter (where mailbox_count = 1), "
        "count(*) filter (where list_contains(sources, 'gmail') and len(sources) = 2) from marts.fct_messages"
    ).fetchall()[0]
    assert counts == (40, 40, 40)
