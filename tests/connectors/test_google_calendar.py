"""Google Calendar through the real client library against the fake: full sync, sync tokens, 410, mapping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.google_server import FakeCalendar, FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tiepulse.connectors.google.errors import GoogleAuthError

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(n: int, **extra: Any) -> dict[str, Any]:
    start = NOW - dt.timedelta(days=n, hours=n % 5)
    return {
        "id": f"ev{n:04d}",
        "iCalUID": f"ev{n:04d}@google.com",
        "status": "confirmed",
        "summary": f"Secret title {n}",
        "description": "Agenda: never store me",
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": (start + dt.timedelta(minutes=30 + n % 3 * 15)).isoformat(), "timeZone": "Europe/Berlin"},
        "organizer": {"email": OWNER if n % 2 else f"boss{n % 3}@corp.example", "displayName": "Organiser"},
        "attendees": [
            {"email": OWNER, "responseStatus": "accepted", "self": True},
            {"email": f"Guest{n % 7}@Partner.example", "displayName": "Guest", "responseStatus": "needsAction"},
            {"email": "room-1@resource.calendar.google.com", "resource": True, "responseStatus": "accepted"},
            {"email": f"opt{n % 4}@corp.example", "optional": True, "responseStatus": "tentative"},
        ],
        "updated": iso(NOW - dt.timedelta(days=n)),
        "sequence": n % 3,
        "eventType": "default",
        **extra,
    }


def populate(calendar: FakeCalendar, count: int) -> None:
    for n in range(count):
        extra: dict[str, Any] = {}
        if n % 5 == 0:
            extra["hangoutLink"] = "https://meet.google.com/abc-defg-hij"
        if n % 7 == 0:
            extra["location"] = "Berlin office, room 4"
        calendar.put(event(n, **extra))
    series_start = NOW - dt.timedelta(days=20)
    for week in range(3):  # three instances of a weekly series (singleEvents=True expands them)
        start = series_start + dt.timedelta(days=7 * week)
        calendar.put(
            event(
                900 + week,
                id=f"series1_{start.strftime('%Y%m%dT%H%M%SZ')}",
                iCalUID="series1@google.com",
                recurringEventId="series1",
                originalStartTime={"dateTime": start.isoformat()},
                start={"dateTime": start.isoformat()},
                end={"dateTime": (start + dt.timedelta(hours=1)).isoformat()},
                conferenceData={"conferenceId": "x", "entryPoints": [{"entryPointType": "video"}]},
            )
        )
    day = (NOW - dt.timedelta(days=2)).date()
    calendar.put(
        event(
            999, start={"date": day.isoformat()}, end={"date": (day + dt.timedelta(days=1)).isoformat()}, attendees=[]
        )
    )


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle) -> Iterator[Testbed]:
    testbed = Testbed(tmp_path, monkeypatch, fake)
    testbed.configure(calendar={"page_size": 7})
    populate(fake.calendar(OWNER), 30)
    yield testbed
    testbed.close()


def stored(bed: Testbed) -> dict[str, tuple[Any, ...]]:
    rows = bed.con.execute(
        "select source_position, status, start_at, sequence from raw.gcal_events where calendar_owner = ?", [OWNER]
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def expected(calendar: FakeCalendar, before: dict[str, tuple[Any, ...]] | None = None) -> dict[str, str]:
    """Event id -> status the warehouse should hold (deleted events keep their row, marked cancelled)."""
    out = {}
    for ident, ev in calendar.events.items():
        if "start" in ev:
            out[ident] = ev["status"]
        elif before is not None and ident in before:
            out[ident] = "cancelled"
    return out


def assert_exact(bed: Testbed, calendar: FakeCalendar, before: dict[str, tuple[Any, ...]] | None = None) -> None:
    rows = stored(bed)
    assert {k: v[0] for k, v in rows.items()} == expected(calendar, before)
    total, distinct = bed.con.execute(
        "select count(*), count(distinct (event_key, calendar_owner)) from raw.gcal_events"
    ).fetchall()[0]
    assert total == distinct == len(rows)


def test_full_then_incremental(bed: Testbed, fake: FakeGoogle) -> None:
    calendar = fake.calendar(OWNER)
    first = bed.sync("gcal")
    assert first.inserted["raw.gcal_events"] == 34
    assert_exact(bed, calendar)
    lists = [q for m, q in fake.requests if m == "calendar.events.list"]
    assert len(lists) == 5 and all(q["singleEvents"] == ["true"] for q in lists)
    assert "description" not in lists[0]["fields"][0] and "summary" not in lists[0]["fields"][0]
    assert "timeMin" in lists[0]

    before = stored(bed)
    calendar.put(event(3, sequence=5, attendees=[{"email": OWNER, "responseStatus": "declined"}]))
    calendar.delete("ev0004")  # deleted: only {"id", "status": "cancelled"} comes back
    calendar.put({**calendar.events["ev0006"], "status": "cancelled"})  # a cancelled payload with its fields
    calendar.put(event(40))
    fake.requests.clear()
    second = bed.sync("gcal")
    assert_exact(bed, calendar, before)
    rows = stored(bed)
    assert rows["ev0004"][0] == "cancelled" and rows["ev0004"][1] == before["ev0004"][1]
    assert rows["ev0006"][0] == "cancelled" and rows["ev0003"][2] == 5
    # ev0040 is new; ev0003 and ev0006 replace their rows, ev0004 is marked cancelled: three updated rows.
    assert second.inserted["raw.gcal_events"] == 1 and second.updated["raw.gcal_events"] == 3
    incremental = [q for m, q in fake.requests if m == "calendar.events.list"]
    assert all("syncToken" in q and "timeMin" not in q for q in incremental)
    assert incremental[0]["singleEvents"] == ["true"] and incremental[0]["showDeleted"] == ["true"]


def test_event_rows_map_like_the_ics_importer(bed: Testbed, fake: FakeGoogle) -> None:
    bed.configure(calendar={"page_size": 50})
    bed.sync("gcal")
    row = bed.con.execute(
        "select event_key, uid, recurrence_id, series_id, is_all_day, timezone, organizer_address, attendees, "
        "location, is_online, title_hash, end_at - start_at from raw.gcal_events where source_position = 'ev0005'"
    ).fetchall()[0]
    assert row[:5] == ("ev0005@google.com", "ev0005@google.com", None, None, False)
    assert row[5] == "Europe/Berlin" and row[6] == OWNER
    assert [(a["address"], a["response"], a["role"], a["is_resource"]) for a in row[7]] == [
        (OWNER, "accepted", "req_participant", False),
        ("guest5@partner.example", "needs_action", "req_participant", False),
        ("room-1@resource.calendar.google.com", "accepted", "req_participant", True),
        ("opt1@corp.example", "tentative", "opt_participant", False),
    ]
    assert row[8] is None and row[9] is True and row[10] is None
    assert row[11] == dt.timedelta(minutes=60)
    instance = bed.con.execute(
        "select event_key, recurrence_id, series_id, is_online from raw.gcal_events where uid = 'series1@google.com' "
        "order by start_at limit 1"
    ).fetchall()[0]
    start = NOW - dt.timedelta(days=20)
    assert instance == (f"series1@google.com|{iso(start)}", iso(start), "series1@google.com", True)
    all_day = bed.con.execute(
        "select is_all_day, timezone, end_at - start_at from raw.gcal_events where source_position = 'ev0999'"
    ).fetchall()[0]
    assert all_day == (True, None, dt.timedelta(days=1))


def test_title_hash_only_with_a_key(bed: Testbed, fake: FakeGoogle) -> None:
    bed.write_config(privacy={"keep_subject_hash": True})
    bed.sync("gcal")
    hashes = bed.con.execute("select count(distinct title_hash) from raw.gcal_events").fetchall()[0][0]
    assert hashes > 30
    lists = [q for m, q in fake.requests if m == "calendar.events.list"]
    assert "summary" in lists[0]["fields"][0] and "description" not in lists[0]["fields"][0]


def test_expired_sync_token_resyncs_cleanly(bed: Testbed, fake: FakeGoogle) -> None:
    calendar = fake.calendar(OWNER)
    bed.sync("gcal")
    before = stored(bed)
    calendar.put(event(50))
    calendar.put(event(2, sequence=9))
    calendar.expire_tokens()
    source = bed.sources("gcal")[0]
    from tiepulse.pipelines.sync import sync_account

    result = sync_account(bed.con, source, pseudonym_key=None)
    assert source.resyncs == 1  # type: ignore[attr-defined]
    assert_exact(bed, calendar, before)
    assert stored(bed)["ev0002"][2] == 9
    # The resync offers all 35 events again: one is new, one changed, the 33 others are counted nowhere.
    assert (result.inserted, result.updated) == ({"raw.gcal_events": 1}, {"raw.gcal_events": 1})


def test_410_in_the_middle_of_paging(bed: Testbed, fake: FakeGoogle) -> None:
    calendar = fake.calendar(OWNER)
    bed.sync("gcal")
    before = stored(bed)
    for n in range(20):  # enough changes for three incremental pages
        calendar.put(event(n, sequence=7))
    calendar.delete("ev0021")
    fault = fake.add_fault(
        "calendar.events.list", "410", times=1, where=lambda q: bool(q.get("pageToken")) and bool(q.get("syncToken"))
    )
    bed.sync("gcal")
    assert fault.hits == 1
    assert_exact(bed, calendar, before)
    assert {v[2] for k, v in stored(bed).items() if k < "ev0020"} == {7}


def test_calendar_faults_are_survived(bed: Testbed, fake: FakeGoogle) -> None:
    calendar = fake.calendar(OWNER)
    fake.add_fault("calendar.events.list", "429", times=2, retry_after="1")
    fake.add_fault("calendar.events.list", "403", times=1, skip=2)
    fake.add_fault("calendar.events.list", "503", times=1, skip=3)
    fake.add_fault("calendar.events.list", "non_json", times=1, skip=4)
    fake.add_fault("calendar.events.list", "empty_page", times=1, where=lambda q: bool(q.get("pageToken")))
    bed.sync("gcal")
    assert_exact(bed, calendar)
    assert 1.0 in bed.sleeps


def test_all_calendars_and_malformed_events(bed: Testbed, fake: FakeGoogle) -> None:
    team = fake.calendar(OWNER, "team@group.calendar.google.com")
    team.put(event(70, id="team70"))
    team.put({"id": "broken1", "status": "confirmed", "iCalUID": "b1", "start": {"dateTime": "yesterday-ish"}})
    team.put({"id": "broken2", "status": "confirmed", "iCalUID": "b2", "end": {"date": "2026-01-01"}})
    team.put(event(71, id="noone", organizer={"email": "not an address"}, attendees=[{"email": "nobody"}]))
    bed.configure(calendar={"calendars": "all"})
    bed.sync("gcal")
    streams = {r[0] for r in bed.con.execute("select stream from ops.sync_state where source = 'gcal'").fetchall()}
    assert streams == {"primary", "team@group.calendar.google.com"}
    reasons = dict(bed.con.execute("select source_position, reason from ops.quarantine").fetchall())
    assert reasons == {"broken1": "unparseable_date", "broken2": "missing_start", "noone": "no_valid_address"}
    assert bed.con.execute("select count(*) from raw.gcal_events where source_position = 'team70'").fetchall() == [(1,)]


@pytest.fixture
def slow_bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Testbed]:
    """A fake that answers a 'timeout' fault after 2 s."""
    with FakeGoogle(slow_seconds=2.0) as fake:
        testbed = Testbed(tmp_path, monkeypatch, fake)
        testbed.configure(calendar={"page_size": 7})
        populate(fake.calendar(OWNER), 30)
        yield testbed
        testbed.close()


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("reset", {"times": 2, "skip": 1}),
        ("timeout", {"times": 1, "where": lambda q: bool(q.get("pageToken"))}),
        ("403_rate", {"times": 2}),  # 403 rateLimitExceeded (the per-project limit), not only userRateLimitExceeded
        ("401", {"times": 1, "skip": 2}),  # the access token expired: refreshed once, then the page again
    ],
    ids=["connection reset", "read timeout", "403 rateLimitExceeded", "401 once"],
)
def test_calendar_transport_and_auth_faults_are_survived(slow_bed: Testbed, kind: str, options: dict[str, Any]) -> None:
    fake = slow_bed.fake
    calendar = fake.calendar(OWNER)
    if kind == "timeout":  # a client that gives up after 1 s; elsewhere a busy machine's slow answer is no fault
        slow_bed.configure(http={"timeout_seconds": 1.0})
    fault = fake.add_fault("calendar.events.list", kind, **options)
    tokens = fake.calls["token"]
    result = slow_bed.sync("gcal")
    assert fault.hits == options["times"]
    assert_exact(slow_bed, calendar)
    assert result.inserted == {"raw.gcal_events": 34} and not result.updated
    if kind == "401":
        assert fake.calls["token"] - tokens == 2 and not slow_bed.sleeps  # one grant, one refresh; no backoff
    else:
        assert len(slow_bed.sleeps) == options["times"]  # each fault was retried after a backoff


def test_calendar_persistent_401_fails_with_the_reconnect_hint(bed: Testbed, fake: FakeGoogle) -> None:
    fake.add_fault("calendar.events.list", "401", times=5)
    with pytest.raises(GoogleAuthError, match="domain-wide delegation"):
        bed.sync("gcal")
    assert fake.calls["token"] == 2  # one grant, one refresh, no more
    assert bed.con.execute("select count(*) from raw.gcal_events").fetchall() == [(0,)]
