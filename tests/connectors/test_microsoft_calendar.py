"""Outlook calendar through the HTTPS fake: window, attendees and responses, removals, no bodies anywhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, sync  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, event
from tiepulse.connectors.microsoft.mapping import parse_time
from tiepulse.core.settings import Settings


def test_calendar_full_then_delta(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attendees = [(BOB, "accepted"), ("carol@fabrikam.com", "tentativelyAccepted"), ("dan@x.org", "none")]
    fake.put_event(ANN, event("e1", "uid-1", ANN, attendees, online=True))
    fake.put_event(ANN, {**event("e2", "uid-2", BOB, [(ANN, "declined")], cancelled=True), "showAs": "free"})
    occurrence = event(
        "e3",
        "uid-3-occ",
        ANN,
        [(BOB, "organizer")],
        kind="occurrence",
        series="master-1",
        start="2024-05-06T08:00:00.0000000",
        end="2024-05-06T09:00:00.0000000",
    )
    fake.put_event(ANN, {**occurrence, "showAs": "oof"})
    fake.put_event(
        ANN,
        event(
            "old",
            "uid-old",
            ANN,
            [(BOB, "accepted")],
            start="2019-01-01T10:00:00.0000000",
            end="2019-01-01T11:00:00.0000000",
        ),
    )  # outside the two-year window
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    first, _ = sync(warehouse, settings, source="outlook-calendar")
    assert first.inserted["raw.graph_events"] == 3

    row = warehouse.execute(
        "select event_key, source, status, is_online, location, organizer_address, timezone, start_at, end_at, "
        "[(a.address, a.response, a.role) for a in attendees] from raw.graph_events where source_position = 'e1'"
    ).fetchone()
    assert row is not None
    assert row[:7] == ("uid-1", "outlook_calendar", "confirmed", True, "Room 1", ANN, "W. Europe Standard Time")
    assert row[7] == dt.datetime(2024, 3, 5, 10, tzinfo=dt.UTC) and row[8] == dt.datetime(
        2024, 3, 5, 10, 30, tzinfo=dt.UTC
    )
    assert row[9] == [
        (BOB, "accepted", "req_participant"),
        ("carol@fabrikam.com", "tentative", "req_participant"),
        ("dan@x.org", "needs_action", "req_participant"),
    ]
    cancelled = warehouse.execute("select status from raw.graph_events where source_position = 'e2'").fetchone()
    assert cancelled == ("cancelled",)
    shown = dict(warehouse.execute("select source_position, show_as from raw.graph_events").fetchall())
    assert shown == {"e1": "busy", "e2": "free", "e3": "oof"}
    stored = warehouse.execute(
        "select series_id, recurrence_id from raw.graph_events where source_position = 'e3'"
    ).fetchone()
    assert stored == ("master-1", "2024-05-06T08:00:00Z")

    # Delta: one event moves, one is deleted.
    fake.put_event(
        ANN,
        event("e1", "uid-1", ANN, attendees, start="2024-03-05T11:00:00.0000000", end="2024-03-05T12:00:00.0000000"),
    )
    fake.delete_event(ANN, "e2")
    second, _ = sync(warehouse, settings, source="outlook_calendar")
    assert second.removed["raw.graph_events"] == 1
    rows = warehouse.execute("select source_position, start_at from raw.graph_events order by 1").fetchall()
    assert rows == [
        ("e1", dt.datetime(2024, 3, 5, 11, tzinfo=dt.UTC)),
        ("e3", dt.datetime(2024, 5, 6, 8, tzinfo=dt.UTC)),
    ]

    # No body, preview or title anywhere in the warehouse.
    for table in ("raw.graph_events", "ops.quarantine", "ops.sync_state"):
        text = warehouse.execute(f"select coalesce(string_agg(t::varchar, ' '), '') from {table} t").fetchone()
        assert text is not None and "SECRET" not in text[0] and "Sync" not in text[0].replace("sync", "")
    first_url = next(p for _, p, _ in fake.requests if "calendarView/delta" in p)
    assert "startDateTime=2022-06-02T00:00:00Z" in first_url and "endDateTime=2024-07-01T00:00:00Z" in first_url


def test_graph_timestamps() -> None:
    assert parse_time("2024-03-05T10:00:00.1234567") == dt.datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert parse_time("2024-03-05T10:00:00Z") == dt.datetime(2024, 3, 5, 10, tzinfo=dt.UTC)
    assert parse_time("2024-03-05T12:00:00+02:00") == dt.datetime(2024, 3, 5, 10, tzinfo=dt.UTC)
    assert parse_time("soon") is None and parse_time(None) is None


def day(when: str) -> dict[str, str]:
    return {"start": f"{when}T10:00:00.0000000", "end": f"{when}T11:00:00.0000000"}


def test_the_window_slides_and_a_resync_sweeps_cleanly(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.put_event(ANN, event("old", "uid-old", ANN, [(BOB, "accepted")], **day("2022-06-10")))
    fake.put_event(ANN, event("now", "uid-now", ANN, [(BOB, "accepted")], **day("2024-06-10")))
    fake.put_event(ANN, event("gone", "uid-gone", ANN, [(BOB, "accepted")], **day("2024-06-12")))
    fake.put_event(ANN, event("late", "uid-late", ANN, [(BOB, "accepted")], **day("2024-07-10")))
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN], page_size=2)
    first, _ = sync(warehouse, settings, source="outlook-calendar")  # as of 2024-06-01: [2022-06-02, 2024-07-01)
    assert first.inserted == {"raw.graph_events": 3}

    def stored() -> list[str]:
        return [r[0] for r in warehouse.execute("select source_position from raw.graph_events order by 1").fetchall()]

    assert stored() == ["gone", "now", "old"]

    # Twenty days later the stored window has less than half its 30 days ahead left: the delta starts afresh over
    # [2022-06-21, 2024-07-20). The meeting beyond the first window appears; one deleted while the delta was being
    # restarted is swept; the unchanged one is not new; the one now older than the window stays.
    fake.delete_event(ANN, "gone")
    fake.invalidate_delta(ANN)  # (its @removed will never come)
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-06-20")
    second, sources = sync(warehouse, Settings(), source="outlook-calendar")
    assert stored() == ["late", "now", "old"]
    assert second.inserted == {"raw.graph_events": 1} and second.removed == {"raw.graph_events": 1}
    assert [getattr(s, "renewals", 0) for s in sources] == [1]
    fresh = [p for _, p, _ in fake.requests if "calendarView/delta?startDateTime=" in p]
    assert "startDateTime=2022-06-21T00:00:00Z" in fresh[-1] and "endDateTime=2024-07-20T00:00:00Z" in fresh[-1]
    cursor = warehouse.execute("select cursor from ops.sync_state where source = 'outlook_calendar'").fetchone()
    assert cursor is not None and json.loads(cursor[0])["window"] == ["2022-06-21T00:00:00Z", "2024-07-20T00:00:00Z"]

    # A day later the window still covers enough: the delta continues; nothing changes.
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-06-21")
    third, sources = sync(warehouse, Settings(), source="outlook-calendar")
    assert not any(third.inserted.values()) and third.removed == {}
    assert [getattr(s, "renewals", None) for s in sources] == [0]


def test_a_resync_replaces_without_counting_unchanged_events_as_new(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        fake.put_event(ANN, event(f"g{n}", f"uid-{n}", ANN, [(BOB, "accepted")], **day(f"2024-05-0{n + 1}")))
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN], page_size=2)
    sync(warehouse, settings, source="outlook-calendar")
    fake.delete_event(ANN, "g1")
    fake.put_event(ANN, {**event("g2", "uid-2", ANN, [(BOB, "declined")], **day("2024-05-03")), "showAs": "free"})
    fake.invalidate_delta(ANN)
    result, sources = sync(warehouse, settings, source="outlook-calendar")
    assert [getattr(s, "resyncs", 0) for s in sources] == [1]
    # Re-read: g0, g3, g4 unchanged (not counted), g2 changed (counted as updated), g1 swept.
    assert result.inserted.get("raw.graph_events", 0) == 0 and result.updated == {"raw.graph_events": 1}
    assert result.removed == {"raw.graph_events": 1}
    rows = warehouse.execute("select source_position, show_as from raw.graph_events order by 1").fetchall()
    assert rows == [("g0", "busy"), ("g2", "free"), ("g3", "busy"), ("g4", "busy")]


CALENDAR_FAULTS = [
    ("calendarView/delta?startDateTime", "429", {"retry_after": "int"}),
    ("calendarView/delta?$skiptoken", "429", {"retry_after": "fraction", "code": "ApplicationThrottled"}),
    ("calendarView/delta?$skiptoken", "410", {}),
    ("calendarView/delta?$skiptoken", "syncStateNotFound", {}),
]


@pytest.mark.parametrize(
    ("match", "kind", "params"), CALENDAR_FAULTS, ids=[f"{m.split('?')[1]}-{k}" for m, k, _ in CALENDAR_FAULTS]
)
def test_calendar_faults_are_survived(
    fake: FakeMicrosoft,
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    match: str,
    kind: str,
    params: dict[str, Any],
) -> None:
    for n in range(7):
        fake.put_event(ANN, event(f"f{n}", f"uid-f{n}", BOB, [(ANN, "accepted")], **day(f"2024-04-1{n}")))
    fake.inject(match, kind, times=1, **params)
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN], page_size=3)
    result, sources = sync(warehouse, settings, source="outlook-calendar")
    assert all(f.times == 0 for f in fake.faults), "the fault was never served"
    assert result.inserted == {"raw.graph_events": 7}
    keys = warehouse.execute("select count(*), count(distinct event_key) from raw.graph_events").fetchone()
    assert keys == (7, 7)
    resynced = kind in ("410", "syncStateNotFound")
    assert [getattr(s, "resyncs", 0) for s in sources] == [int(resynced)]
