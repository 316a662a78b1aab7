"""A full build of the interactions by ranges of egos equals the build of the whole organisation at once: threads,
references and meetings that cross the ranges, and records left out for egos of several ranges."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from tests.analytics import builders as b
from tiepulse.core.params import AnalyticsParams
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics import build_interaction_records, summarise_exclusions
from tiepulse.pipelines.interaction_chunks import ego_chunks
from tiepulse.pipelines.interaction_records import EXCLUSION_RECORDS, refresh_interactions
from tiepulse.pipelines.marts_io import publish, read_table

PARAMS = AnalyticsParams(max_group_size=4)
ANN, BEN, CAT, DAN = "ann@acme.com", "ben@acme.com", "cat@acme.com", "dan@client.com"
BOT = "noreply@tools.com"


def _mail(key: str, day: str, sender: str, n: int, **more: object) -> dict[str, object]:
    return {"message_key": key, "sent_at": b.at(day), "sender_id": sender, "n_recipients": n, **more}


def _organisation() -> dict[str, pl.DataFrame]:
    """Three egos (a range each in the test) who write in the same threads and meet together."""
    messages = [
        _mail("m1", "2026-03-02", ANN, 3, thread_id="t1"),
        _mail("m2", "2026-03-03", BEN, 1, thread_id="t1", in_reply_to="m1", is_reply=True),
        _mail("m3", "2026-03-04", CAT, 2, thread_id="t1", references=["m1", "m2"], is_reply=True),
        # a thread known by its subject only: Cat answers Ben without naming his message
        _mail("s1", "2026-03-05", BEN, 1, subject_hash="h1"),
        _mail("s2", "2026-03-06", CAT, 1, subject_hash="h1", is_reply=True),
        # a reply in another thread to a mail of another range's ego: Cat answers Ben's mail to Dan, to Ann only,
        # and the parent's sender (not Ann) makes it no response to Ann
        _mail("q1", "2026-03-07", BEN, 1, thread_id="t2"),
        _mail("q2", "2026-03-08", CAT, 1, thread_id="t3", in_reply_to="q1", is_reply=True),
        # left out: an automated sender to every ego; a group too large; a non-person alter
        _mail("x1", "2026-03-09", BOT, 3, is_automated=True),
        _mail("x2", "2026-03-10", ANN, 5),
        _mail("x3", "2026-03-11", CAT, 1),
        _mail("self", "2026-03-12", BEN, 0),
    ]
    recipients = [
        ("m1", BEN), ("m1", CAT), ("m1", DAN), ("m2", ANN), ("m3", ANN), ("m3", BEN), ("s1", CAT), ("s2", BEN),
        ("q1", DAN), ("q2", ANN),
        ("x1", ANN), ("x1", BEN), ("x1", CAT),
        ("x2", BEN), ("x2", CAT), ("x2", DAN), ("x2", ANN), ("x2", BOT), ("x3", BOT),
    ]  # fmt: skip
    events = [
        {"event_key": "e1", "start_at": b.at("2026-03-03", 14), "duration_minutes": 60, "organizer_id": ANN,
         "n_attendees": 4},
        {"event_key": "e2", "start_at": b.at("2026-03-05", 9), "duration_minutes": 30, "organizer_id": CAT,
         "n_attendees": 2, "is_cancelled": True},
    ]  # fmt: skip
    attendees = [
        ("e1", ANN, "accepted", True), ("e1", BEN, "accepted"), ("e1", CAT, "declined"), ("e1", DAN, "tentative"),
        ("e2", CAT, "accepted", True), ("e2", ANN, "accepted"),
    ]  # fmt: skip
    manual = [
        {"row_key": "r1", "ego_id": BEN, "person_id": DAN, "occurred_at": b.at("2026-03-06"), "channel": "call"},
        {"row_key": "r2", "ego_id": CAT, "person_id": DAN, "occurred_at": b.at("2026-03-07"), "channel": "pigeon"},
    ]
    return {
        tables.MESSAGES: b.messages(messages),
        tables.MESSAGE_RECIPIENTS: b.recipients(recipients),
        tables.EVENTS: b.events(events),
        tables.EVENT_ATTENDEES: b.attendees(attendees),
        tables.MANUAL_INTERACTIONS: b.manual(manual),
        tables.EGOS: b.egos([{"ego_id": ANN}, {"ego_id": BEN}, {"ego_id": CAT}]),
        tables.PERSONS: b.persons(
            [{"person_id": p, "is_ego": p != DAN, "is_internal": p != DAN} for p in (ANN, BEN, CAT, DAN)]
            + [{"person_id": BOT, "is_automated": True, "is_internal": False}]
        ),
    }


def test_a_build_by_ranges_of_egos_equals_the_whole_build(tmp_path: Path) -> None:
    frames = _organisation()
    con = connect(tmp_path / "warehouse.duckdb")
    for table, frame in frames.items():
        publish(con, table, frame)
    whole, records = build_interaction_records(*frames.values(), params=PARAMS)
    assert records.get_column("reason").n_unique() >= 5 and whole.get_column("source").n_unique() == 3

    assert [(c.first, c.last) for c in ego_chunks(con, 1)] == [(ANN, ANN), (BEN, BEN), (CAT, CAT)]
    for chunk_pairs in (1, 10**9):  # a range per ego, then one range
        done = refresh_interactions(con, PARAMS, full=True, chunk_pairs=chunk_pairs)
        assert done.rows_written == whole.height
        keys = ["ego_id", "alter_id", "occurred_at", "source", "source_key"]
        assert_frame_equal(read_table(con, tables.INTERACTIONS).sort(keys), whole.sort(keys))
        by_record = ["source", "source_key", "reason"]
        assert_frame_equal(read_table(con, EXCLUSION_RECORDS).sort(by_record), records.sort(by_record))
        by_reason = ["source", "reason"]
        assert_frame_equal(
            read_table(con, tables.INTERACTION_EXCLUSIONS).sort(by_reason),
            summarise_exclusions(records).sort(by_reason),
        )
    # the automated mail reached the three egos, one range each: its pairs are summed over the ranges
    automated = records.filter(pl.col("source_key") == "x1")
    assert automated.select("reason", "n_pairs").rows() == [("automated", 3)]
    # Cat's reply names a message of Ben's, in another range and thread: read there, it is no response to Ann
    reply = whole.filter(pl.col("source_key") == "q2").sort("ego_id")
    assert reply.select("ego_id", "alter_id", "is_response").rows() == [(ANN, CAT, False), (CAT, ANN, False)]
    con.close()
