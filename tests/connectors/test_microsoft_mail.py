"""Outlook mail through the HTTPS fake: full then delta, removals, drafts, replays, folders, headers, staging."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.file_import import import_paths
from pipelines.models import all_models, build_model
from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, mailbox_rows, seed, sync  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, address, message


def expected_rows(fake: FakeMicrosoft, folders: tuple[str, ...] = ("inbox", "sentitems")) -> set[tuple[str, str, str]]:
    """(owner, message_key, graph id) of every live, non-draft message the fake holds in ``folders``."""
    found = set()
    for owner, box in fake.mailboxes.items():
        for folder in folders:
            for item in box.folders[folder].current.values() if folder in box.folders else ():
                if not item.get("isDraft"):
                    found.add((owner, item["internetMessageId"].strip("<>").lower(), item["id"]))
    return found


def stored(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    return {(r[0], r[1], r[2]) for r in mailbox_rows(con)}


def test_full_then_delta_gives_the_exact_mailbox(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake)
    settings = configure(monkeypatch, tmp_path, fake)
    first, _ = sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == expected_rows(fake)
    assert first.inserted["raw.graph_messages"] == 36

    # Changes upstream: a new message, a deleted one, a draft, one with a broken recipient among good ones.
    fake.put_message(ANN, "inbox", message("ann-i-new", "new@fabrikam.com", "dave@fabrikam.com", [ANN]))
    fake.delete_message(BOB, "inbox", "bob-i-3")
    fake.put_message(ANN, "sentitems", message("ann-d-1", "draft@contoso.com", ANN, [BOB], draft=True))
    odd = message("bob-i-odd", "odd@fabrikam.com", "eve@fabrikam.com", [BOB])
    odd["ccRecipients"] = [address("not an address"), {"emailAddress": {"name": "Nobody"}}]
    fake.put_message(BOB, "inbox", odd)
    second, _ = sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == expected_rows(fake)
    assert second.inserted["raw.graph_messages"] == 2
    assert second.removed["raw.graph_messages"] == 1
    bad = warehouse.execute(
        "select bad_address_count, len(recipients) from raw.graph_messages where source_position = 'bob-i-odd'"
    ).fetchone()
    assert bad == (2, 1)

    # A third run finds nothing new, and every request asked for a page size; mail deltas named their fields.
    third, _ = sync(warehouse, settings, source="outlook")
    assert third.inserted == {} and third.removed == {}
    graph_requests = [(path, h) for _, path, h in fake.requests if path.startswith("/v1.0/")]
    assert all("odata.maxpagesize=5" in h.get("prefer", "") for _, h in graph_requests)
    deltas = [p for p, _ in graph_requests if "/messages/delta" in p]
    assert deltas and all("$select=" in p and "body" not in p.lower() for p in deltas)

    row = warehouse.execute(
        "select source, source_file, folder, thread_id, is_reply, from_name, message_id "
        "from raw.graph_messages where source_position = 'bob-s-0'"
    ).fetchone()
    assert row == ("outlook", BOB, "sentitems", "conv-1", True, "Bob", "r0@contoso.com")
    states = warehouse.execute(
        "select stream, status, cursor like '%$deltatoken=%' from ops.sync_state where source = 'outlook' order by 1"
    ).fetchall()
    assert {s[0] for s in states} == {"inbox", "sentitems"} and all(s[1:] == ("complete", True) for s in states)


def test_replays_duplicates_and_empty_pages_are_absorbed(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=20)
    fake.replays = True
    fake.inject("/messages/delta", "empty_with_next", times=2)
    settings = configure(monkeypatch, tmp_path, fake, page_size=3)
    sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == expected_rows(fake)
    count = warehouse.execute("select count(*) from raw.graph_messages").fetchone()
    assert count == (len(expected_rows(fake)),)


def test_items_that_cannot_be_trusted_are_quarantined(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.put_message(ANN, "inbox", message("ok", "ok@x.org", "x@x.org", [ANN]))
    no_sender = message("nosender", "ns@x.org", "x@x.org", [ANN])
    no_sender["from"] = no_sender["sender"] = address("garbage")
    bad_date = message("baddate", "bd@x.org", "x@x.org", [ANN], sent="yesterday-ish")
    future = message("future", "fu@x.org", "x@x.org", [ANN], sent="2031-01-01T00:00:00Z")
    nobody = message("nobody", "nb@x.org", "x@x.org", [])
    nobody["toRecipients"] = [address("also garbage")]
    fake.put_messages(ANN, "inbox", [no_sender, bad_date, future, nobody, {"id": ""}])
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    result, _ = sync(warehouse, settings, source="outlook")
    assert result.inserted["raw.graph_messages"] == 1
    reasons = dict(
        warehouse.execute("select source_position, reason from ops.quarantine where source = 'outlook'").fetchall()
    )
    assert reasons.pop("nosender") == "no_sender"
    assert reasons.pop("baddate") == "unparseable_date"
    assert reasons.pop("future") == "implausible_date"
    assert reasons.pop("nobody") == "no_valid_address"
    assert list(reasons.values()) == ["malformed_item"]
    excerpts = warehouse.execute("select string_agg(raw_excerpt, ' ') from ops.quarantine").fetchone()
    assert excerpts is not None and "Quarterly plan" not in excerpts[0] and "SECRET" not in excerpts[0]


def test_all_folders_are_enumerated_through_the_folder_delta(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=4)
    fake.add_folder(ANN, "AAMkArchive==", "Archive 2023")
    fake.put_message(ANN, "AAMkArchive==", message("ann-a-1", "old@x.org", "x@x.org", [ANN]))
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN], folders="all")
    sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == {r for r in expected_rows(fake, ("inbox", "sentitems", "AAMkArchive==")) if r[0] == ANN}
    folders = {r[0] for r in warehouse.execute("select distinct folder from raw.graph_messages").fetchall()}
    assert folders == {"Inbox", "Sent Items", "Archive 2023"}


def test_internet_headers_come_through_batches_with_per_item_retry(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = [
        {"name": "List-Id", "value": "Team News <news.contoso.com>"},
        {"name": "List-Unsubscribe", "value": "<mailto:leave@contoso.com>"},
        {"name": "In-Reply-To", "value": "<parent@contoso.com>"},
    ]
    items = [message(f"h{i}", f"h{i}@contoso.com", "news@contoso.com", [ANN], headers=listed) for i in range(25)]
    fake.put_messages(ANN, "inbox", items)
    fake.inject("$batch", "item_429", times=1, items=3, retry_after="0.01")
    fake.inject("$batch", "missing_part", times=1)
    fake.inject("$batch", "not_json", times=1)
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN], internet_headers=True, page_size=25)
    sync(warehouse, settings, source="outlook")
    rows = warehouse.execute(
        "select count(*), count(*) filter (where list_id = 'news.contoso.com' and has_list_unsubscribe "
        "and in_reply_to = 'parent@contoso.com') from raw.graph_messages"
    ).fetchone()
    assert rows == (25, 25)
    batches = [p for m, p, _ in fake.requests if p.endswith("$batch")]
    assert len(batches) >= 2 + 3  # two batches (20 + 5) plus the three faulty replies retried


def test_same_message_in_two_mailboxes_and_a_file_is_one_message(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=6)
    settings = configure(monkeypatch, tmp_path, fake)
    sync(warehouse, settings, source="outlook")
    # Ann's Sent folder also exported to an mbox and imported: the same Message-IDs.
    mbox = tmp_path / "ann-sent.mbox"
    mbox.write_text(
        "".join(
            f"From ann Mon Mar  4 09:00:00 2024\nMessage-ID: <M{i}@Contoso.com>\n"
            f"Date: {1 + i % 28:02d} Mar 2024 09:00:00 +0000\nFrom: Ann <{ANN}>\nTo: {BOB}\n"
            "Cc: carol@fabrikam.com\nSubject: Quarterly plan\n\nbody\n\n"
            for i in range(6)
        )
    )
    report = import_paths(warehouse, [mbox], settings, owner=ANN)
    assert report.total.inserted["raw.mail_messages"] == 6
    for model in all_models():
        if model.schema == "staging":
            build_model(warehouse, model)
    rows = warehouse.execute(
        "select message_key, mailbox_count, sources from staging.stg_messages where message_key like 'm%' "
        "order by message_key"
    ).fetchall()
    assert [r[0] for r in rows] == [f"m{i}@contoso.com" for i in range(6)]
    assert all(r[1] == 2 and r[2] == ["mbox", "outlook"] for r in rows)
    total = warehouse.execute("select count(*), count(distinct message_key) from staging.stg_messages").fetchone()
    assert total == (9, 9)  # 6 from Ann + 3 replies from Bob, each once
