"""API syncs: events that end before they start are quarantined as the .ics importer does, and `tiepulse sync`
whose refresh fails says so, exits 2 and is not logged a success."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.connectors.microsoft_support import ANN, configure, fake_server, sync
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tests.fakes.microsoft_server import FakeMicrosoft, event
from tiepulse.cli.app import app

__all__ = ["fake_server"]  # the fixture, re-exported for pytest

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def google_event(ident: str, minutes: int) -> dict[str, object]:
    start = NOW - dt.timedelta(days=3)
    return {
        "id": ident,
        "iCalUID": f"{ident}@google.com",
        "status": "confirmed",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + dt.timedelta(minutes=minutes)).isoformat()},
        "organizer": {"email": OWNER},
        "attendees": [{"email": "guest@partner.example", "responseStatus": "accepted"}],
    }


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Testbed]:
    for key in ("TIEPULSE_MS_TENANT_ID", "TIEPULSE_MS_CLIENT_ID", "TIEPULSE_MS_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with FakeGoogle() as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        yield bed
        bed.close()


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("select source, source_position, reason from ops.quarantine order by all").fetchall()


def test_a_google_event_ending_before_it_starts_is_quarantined(google: Testbed) -> None:
    calendar = google.fake.calendar(OWNER)
    calendar.put(google_event("fine", 30))
    calendar.put(google_event("backwards", -30))
    result = google.sync("gcal")
    assert result.inserted == {"raw.gcal_events": 1} and result.quarantined == 1
    assert quarantined(google.con) == [("gcal", "backwards", "end_before_start")]
    detail = google.con.execute("select detail from ops.quarantine").fetchall()[0][0]
    assert detail.startswith("ends ") and "before it starts" in detail


def test_a_graph_event_ending_before_it_starts_is_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection
) -> None:
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    fake.put_event(ANN, event("fine", "fine-uid", ANN))
    fake.put_event(ANN, event("backwards", "back-uid", ANN, end="2024-03-05T09:30:00.0000000"))
    result, _ = sync(warehouse, settings, source="outlook_calendar")
    assert result.inserted == {"raw.graph_events": 1} and result.quarantined == 1
    assert quarantined(warehouse) == [("outlook_calendar", "backwards", "end_before_start")]
    assert warehouse.execute("select event_key from raw.graph_events").fetchall() == [("fine-uid",)]


def test_a_sync_whose_refresh_fails_exits_2_and_is_logged_partial(google: Testbed) -> None:
    google.fake.generate_mailbox(OWNER, 5)
    runner = CliRunner()
    first = runner.invoke(app, ["sync", "--no-refresh"])
    assert first.exit_code == 0, first.output
    # A row an older version let through (an event ending before it starts) fails the refresh's quality checks.
    with duckdb.connect(str(google.settings.warehouse_path)) as con:
        con.execute(
            "insert into raw.calendar_events (event_key, calendar_owner, source, source_file, source_position, "
            "start_at, end_at, is_all_day, status) values ('old', ?, 'ics', 'old.ics', '0', "
            "'2024-03-05 10:00:00+00', '2024-03-05 09:00:00+00', false, 'confirmed')",
            [OWNER],
        )
    result = runner.invoke(app, ["sync"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "the refresh failed (" in output and "run `tiepulse refresh`" in output
    with duckdb.connect(str(google.settings.warehouse_path), read_only=True) as con:
        status, summary = con.execute(
            "select status, summary from ops.runs where kind = 'sync' order by started_at desc limit 1"
        ).fetchone()  # type: ignore[misc]
    assert status == "partial"  # the exit code and the run log agree
    assert json.loads(summary)["refresh"].startswith("failed: ")
