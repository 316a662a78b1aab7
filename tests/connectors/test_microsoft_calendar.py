"""Outlook calendar through the HTTPS fake: window, attendees and responses, removals, no bodies anywhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from connectors.microsoft.mapping import parse_time
from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, sync  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, event


def test_calendar_full_then_delta(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attendees = [(BOB, "accepted"), ("carol@fabrikam.com", "tentativelyAccepted"), ("dan@x.org", "none")]
    fake.put_event(ANN, event("e1", "uid-1", ANN, attendees, online=True))
    fake.put_event(ANN, event("e2", "uid-2", BOB, [(ANN, "declined")], cancelled=True))
    fake.put_event(
        ANN,
        event(
            "e3",
            "uid-3-occ",
            ANN,
            [(BOB, "organizer")],
            kind="occurrence",
            series="master-1",
            start="2024-05-06T08:00:00.0000000",
            end="2024-05-06T09:00:00.0000000",
        ),
    )
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
    occurrence = warehouse.execute(
        "select series_id, recurrence_id from raw.graph_events where source_position = 'e3'"
    ).fetchone()
    assert occurrence == ("master-1", "2024-05-06T08:00:00Z")

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
