"""Outlook mail through the HTTPS fake: full then delta, removals, drafts, replays, folders, headers, staging."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.connectors.microsoft_support import (  # noqa: F401
    ANN,
    BOB,
    configure,
    fake_server,
    mailbox_rows,
    quick_policy,
    seed,
    sync,
)
from tests.fakes.microsoft_server import FakeMicrosoft, address, message
from tiepulse.connectors.microsoft import GraphError
from tiepulse.core.import_context import build_import_context
from tiepulse.core.warehouse import migrate, migrations
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.pipelines.providers.microsoft import mailboxes, microsoft_connection, microsoft_sources
from tiepulse.pipelines.sync import sync_account


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
        "select account, stream, status, cursor from ops.sync_state where source = 'outlook' order by 1"
    ).fetchall()
    assert [s[:3] for s in states] == [(ANN, "mail", "complete"), (BOB, "mail", "complete")]
    for state in states:  # one cursor per mailbox, holding each folder's deltaLink
        links = json.loads(state[3])["folders"]
        assert set(links) == {"inbox", "sentitems"} and all("$deltatoken=" in link for link in links.values())


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
    # Well-known folders are named as with `folders: default` (their ids resolved through one $batch), others by
    # their display name; the cursor keys follow the same rule.
    folders = {r[0] for r in warehouse.execute("select distinct folder from raw.graph_messages").fetchall()}
    assert folders == {"inbox", "sentitems", "Archive 2023"}
    cursor = warehouse.execute("select cursor from ops.sync_state where source = 'outlook'").fetchone()
    assert cursor is not None and set(json.loads(cursor[0])["folders"]) == {"inbox", "sentitems", "AAMkArchive=="}


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
        build_model(warehouse, model)
    rows = warehouse.execute(
        "select message_key, mailbox_count, sources from marts.fct_messages where message_key like 'm%' "
        "order by message_key"
    ).fetchall()
    assert [r[0] for r in rows] == [f"m{i}@contoso.com" for i in range(6)]
    assert all(r[1] == 2 and r[2] == ["mbox", "outlook"] for r in rows)
    total = warehouse.execute("select count(*), count(distinct message_key) from marts.fct_messages").fetchone()
    assert total == (9, 9)  # 6 from Ann + 3 replies from Bob, each once


def test_a_message_stays_while_a_copy_of_it_is_left_in_the_mailbox(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ann mails herself: one copy in Sent Items, one in Inbox, one row (the first copy stored wins).
    note = message("ann-s-self", "self@contoso.com", ANN, [ANN])
    fake.put_message(ANN, "sentitems", note)
    fake.put_message(ANN, "inbox", {**note, "id": "ann-i-self"})
    fake.put_message(ANN, "inbox", message("ann-i-other", "other@x.org", "x@x.org", [ANN]))
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    sync(warehouse, settings, source="outlook")
    keys = [r[1] for r in mailbox_rows(warehouse)]
    assert keys == ["other@x.org", "self@contoso.com"]

    fake.delete_message(ANN, "inbox", "ann-i-self")  # the Sent copy is left: the message stays
    result, _ = sync(warehouse, settings, source="outlook")
    assert [r[1] for r in mailbox_rows(warehouse)] == keys
    assert result.removed.get("raw.graph_messages", 0) == 0

    fake.delete_message(ANN, "sentitems", "ann-s-self")  # the last copy: the message goes
    result, _ = sync(warehouse, settings, source="outlook")
    assert [r[1] for r in mailbox_rows(warehouse)] == ["other@x.org"]
    assert result.removed["raw.graph_messages"] == 1
    copies = warehouse.execute("select item_id from ops.item_copies order by 1").fetchall()
    assert copies == [("ann-i-other",)]


class Interrupted(Exception):
    pass


def test_a_resync_removes_what_was_deleted_meanwhile_even_when_interrupted(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=12)
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[BOB], page_size=3)
    sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == {r for r in expected_rows(fake) if r[0] == BOB}

    # While the delta state is lost, a message goes (no @removed will ever name it) and another arrives.
    fake.delete_message(BOB, "inbox", "bob-i-4")
    fake.put_message(BOB, "inbox", message("bob-i-new", "new@x.org", "x@x.org", [BOB]))
    fake.invalidate_delta(BOB)
    before = stored(warehouse)
    pages = 0

    def stop_after_two(stream: str, result: LoadResult) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            raise Interrupted

    # The re-read is killed after two committed pages: nothing is removed yet, nothing lost.
    (source,) = microsoft_sources(settings, source="outlook", retry=quick_policy())
    with pytest.raises(Interrupted):
        sync_account(warehouse, source, pseudonym_key=None, on_page=stop_after_two)
    assert stored(warehouse) >= before - {(BOB, "m4@contoso.com", "bob-i-4")}
    assert (BOB, "m4@contoso.com", "bob-i-4") in stored(warehouse)

    # Resumed from the committed next links, the re-read completes and the deleted message is swept.
    result, sources = sync(warehouse, settings, source="outlook")
    assert stored(warehouse) == {r for r in expected_rows(fake) if r[0] == BOB}
    assert result.removed["raw.graph_messages"] == 1
    # Each folder continued its re-read (a folder interrupted before its first re-read page resyncs again).
    assert sum(getattr(s, "resyncs", 0) for s in sources) <= 1
    stale = warehouse.execute("select count(*) from ops.item_copies where stale").fetchone()
    assert stale == (0,)


def test_users_filter_is_sent_as_graph_requires(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for box in (ANN, BOB, "carl@contoso.com", "fay@fabrikam.com"):
        fake.mailbox(box)
    fake.disable_user("carl@contoso.com")
    advanced = "accountEnabled eq true and endsWith(mail,'@contoso.com')"
    settings = configure(monkeypatch, tmp_path, fake, mailboxes_from="graph", users_filter=advanced)
    conn = microsoft_connection(settings, retry=quick_policy())
    ctx = build_import_context(settings)
    assert mailboxes(settings, conn, ctx) == [ANN, BOB]
    asked = [(p, h) for _, p, h in fake.requests if p.startswith("/v1.0/users?")]
    assert asked and all(h.get("consistencylevel") == "eventual" and "$count=true" in p for p, h in asked)

    # A simple filter is a plain query; without the advanced-query header Graph (and the fake) refuse endsWith.
    fake.requests.clear()
    settings = configure(monkeypatch, tmp_path, fake, mailboxes_from="graph", users_filter="accountEnabled eq false")
    assert mailboxes(settings, microsoft_connection(settings, retry=quick_policy()), ctx) == ["carl@contoso.com"]
    assert all("consistencylevel" not in h for _, _, h in fake.requests)
    with pytest.raises(GraphError, match="Request_UnsupportedQuery"):
        conn.client.get(f"/users?$filter={advanced}", mailbox="/users")


def test_a_warehouse_of_the_per_folder_layout_is_upgraded_in_place(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=4)
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    current = duckdb.connect(str(tmp_path / "current.duckdb"))
    migrate(current)
    sync(current, settings, source="outlook")
    expected = mailbox_rows(current)
    (cursor,) = current.execute("select cursor from ops.sync_state").fetchall()[0]
    links = json.loads(cursor)["folders"]

    # What the per-folder version stored: the same rows, one cursor per folder, schema version 3.
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute(
        "create schema ops; create table ops.schema_version "
        "(version integer primary key, name varchar not null, applied_at timestamptz not null default now())"
    ).fetchall()
    for version, path in migrations()[:3]:
        old.execute(path.read_text()).fetchall()
        old.execute("insert into ops.schema_version (version, name) values (?, ?)", [version, path.stem]).fetchall()
    # without the columns later versions added (008: utc_offset_minutes, subject_digest; 018: X.500 paths and
    # non-person addresses)
    old_rows = current.sql(
        "select * exclude (utc_offset_minutes, subject_digest, x500_sender, x500_recipients, non_person_addresses)"
        " from raw.graph_messages"
    )
    old.register("current_rows", old_rows.to_arrow_table())
    old.execute("insert into raw.graph_messages select * from current_rows").fetchall()
    for folder, link in links.items():
        old.execute(
            "insert into ops.sync_state (source, account, stream, cursor, status) "
            "values ('outlook', ?, ?, ?, 'complete')",
            [ANN, folder, link],
        ).fetchall()
    current.close()

    assert migrate(old) == [version for version, _ in migrations()[3:]]
    state = old.execute("select stream, status, cursor from ops.sync_state").fetchall()
    assert [s[:2] for s in state] == [("mail", "complete")] and json.loads(state[0][2]) == {"folders": links}
    assert old.execute("select count(*) from ops.item_copies").fetchone() == (len(expected),)

    # The upgraded warehouse continues from the stored links (no full re-read) and removes through the copies.
    fake.delete_message(ANN, "sentitems", "ann-s-1")
    fake.requests.clear()
    result, sources = sync(old, settings, source="outlook")
    assert result.removed == {"raw.graph_messages": 1}
    assert sum(getattr(s, "resyncs", 0) for s in sources) == 0
    assert all("$deltatoken=" in p for _, p, _ in fake.requests if "/messages/delta" in p)
    assert mailbox_rows(old) == [r for r in expected if r[2] != "ann-s-1"]
    old.close()
