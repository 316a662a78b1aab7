"""The .ics importer: recurrences, overrides, time zones, attendees, quarantine, paging, idempotency."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import make_context
from tiepulse.connectors.base import ImportContext, Page
from tiepulse.connectors.calendar_ics import (
    IcsFileSource,
    claims,
    normalise_title,
    parse_cursor,
    title_hash,
)
from tiepulse.pipelines.loader import commit_page

DATA = Path(__file__).parent / "data" / "ics"
WEEKLY = DATA / "weekly_one_on_one.ics"
MIXED = DATA / "mixed.ics"
GARBLED = DATA / "garbled.ics"
TABLE = "raw.calendar_events"
OWNER = "ann@example.com"
UTC = dt.UTC
SERIES = "one-on-one-bob@example.com"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def run(path: Path, ctx: ImportContext, cursor: str | None = None) -> list[Page]:
    return list(IcsFileSource(path).pages(OWNER, ctx, cursor))


def rows_of(pages: list[Page]) -> list[dict[str, Any]]:
    return [row for page in pages for row in page.rows[TABLE].to_pylist()]


def by_key(path: Path, ctx: ImportContext) -> dict[str, dict[str, Any]]:
    return {row["event_key"]: row for row in rows_of(run(path, ctx))}


def rejects_of(pages: list[Page]) -> dict[str, str]:
    return {r.position: r.reason for page in pages for r in page.rejects}


def write(tmp_path: Path, body: str, name: str = "cal.ics") -> Path:
    path = tmp_path / name
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:test", *body.strip().splitlines(), "END:VCALENDAR"]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- recognising


def test_claims_by_suffix_and_content(tmp_path: Path) -> None:
    assert claims(WEEKLY) == "ics"
    hidden = tmp_path / "export.txt"
    hidden.write_bytes(b"\xef\xbb\xbf\r\nbegin:vcalendar\r\nEND:VCALENDAR\r\n")
    assert claims(hidden) == "ics"
    other = tmp_path / "notes.txt"
    other.write_text("BEGIN:VCARD\n")
    assert claims(other) is None
    assert claims(tmp_path) is None


# ------------------------------------------------------------------------------------------------ recurrence


def test_weekly_series_with_exdate_rdate_moved_and_cancelled(ctx: ImportContext) -> None:
    rows = by_key(WEEKLY, ctx)
    # COUNT=6 Mondays from 8 Jan: 15 Jan is excluded, 22 Jan moved, 29 Jan cancelled; plus one RDATE.
    assert sorted(rows) == [
        f"{SERIES}|2024-01-08T08:00:00Z",
        f"{SERIES}|2024-01-22T08:00:00Z",
        f"{SERIES}|2024-01-29T08:00:00Z",
        f"{SERIES}|2024-02-05T08:00:00Z",
        f"{SERIES}|2024-02-12T08:00:00Z",
        f"{SERIES}|2024-02-14T14:00:00Z",
    ]
    first = rows[f"{SERIES}|2024-01-08T08:00:00Z"]
    assert first["start_at"] == at(2024, 1, 8, 8) and first["end_at"] == at(2024, 1, 8, 8, 30)
    assert first["series_id"] == SERIES and first["uid"] == SERIES
    assert first["recurrence_id"] == "2024-01-08T08:00:00Z"
    assert first["timezone"] == "Europe/Berlin" and first["status"] == "confirmed"
    assert first["organizer_address"] == "ann@example.com" and first["organizer_name"] == "Ann Example"
    assert first["updated_at"] == at(2024, 1, 2, 8) and first["sequence"] == 0
    assert first["location"] == "Room 4.12" and first["is_online"] is False
    assert first["calendar_owner"] == OWNER and first["source"] == "ics"
    assert first["source_position"] == "vevent#0" and first["title_hash"] is None

    moved = rows[f"{SERIES}|2024-01-22T08:00:00Z"]
    assert moved["start_at"] == at(2024, 1, 22, 10) and moved["end_at"] == at(2024, 1, 22, 10, 30)
    assert moved["source_position"] == "vevent#1" and moved["sequence"] == 1
    assert {a["address"]: a["response"] for a in moved["attendees"]}["bob@example.com"] == "tentative"

    cancelled = rows[f"{SERIES}|2024-01-29T08:00:00Z"]
    assert cancelled["status"] == "cancelled"
    assert rows[f"{SERIES}|2024-02-14T14:00:00Z"]["start_at"] == at(2024, 2, 14, 14)


def test_window_limits_series_but_keeps_single_events(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
BEGIN:VEVENT
UID:daily
DTSTART:20231230T090000Z
DTEND:20231230T091500Z
RRULE:FREQ=DAILY;COUNT=10
ORGANIZER:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:forever
DTSTART:20231204T090000Z
RRULE:FREQ=WEEKLY
ORGANIZER:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:old-single
DTSTART:20230601T090000Z
ORGANIZER:mailto:ann@example.com
END:VEVENT
""",
    )
    ctx = make_context(calendar_window=(at(2024, 1, 1), at(2024, 1, 5)))
    rows = by_key(path, ctx)
    daily = sorted(k for k in rows if k.startswith("daily|"))
    assert daily == [f"daily|2024-01-0{d}T09:00:00Z" for d in (1, 2, 3, 4)]
    assert [k for k in rows if k.startswith("forever|")] == ["forever|2024-01-01T09:00:00Z"]
    assert rows["old-single"]["series_id"] is None and rows["old-single"]["recurrence_id"] is None
    # An open-ended weekly series fills a two-year window with about 105 rows, no more.
    wide = by_key(path, make_context(calendar_window=(at(2024, 1, 1), at(2026, 1, 1))))
    assert len([k for k in wide if k.startswith("forever|")]) == 105


def test_bad_recurrence_is_quarantined_and_the_rest_continues(ctx: ImportContext) -> None:
    pages = run(MIXED, ctx)
    assert rejects_of(pages)["vevent#13"] == "bad_recurrence"
    assert "bad-rule" not in {r["uid"] for r in rows_of(pages)}


THIS_AND_FUTURE = """
BEGIN:VEVENT
UID:standup
DTSTART;TZID=Europe/Berlin:20240304T090000
DTEND;TZID=Europe/Berlin:20240304T093000
RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20240630T000000Z
RDATE;TZID=Europe/Berlin:20240402T090000
EXDATE;TZID=Europe/Berlin:20240422T090000
ORGANIZER:mailto:ann@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com
END:VEVENT
BEGIN:VEVENT
UID:standup
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20240321T090000
DTSTART;TZID=Europe/Berlin:20240321T110000
DTEND;TZID=Europe/Berlin:20240321T120000
SEQUENCE:1
ORGANIZER:mailto:ann@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:cy@example.com
END:VEVENT
BEGIN:VEVENT
UID:standup
RECURRENCE-ID;TZID=Europe/Berlin:20240408T090000
DTSTART;TZID=Europe/Berlin:20240409T150000
DTEND;TZID=Europe/Berlin:20240409T153000
SEQUENCE:2
ORGANIZER:mailto:ann@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:cy@example.com
END:VEVENT
BEGIN:VEVENT
UID:standup
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20240516T090000
DTSTART;TZID=Europe/Berlin:20240517T083000
DTEND;TZID=Europe/Berlin:20240517T084500
SEQUENCE:3
ORGANIZER:mailto:ann@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dee@example.com
END:VEVENT
"""


def test_this_and_future_overrides_expand_as_recurring_ical_events(tmp_path: Path, ctx: ImportContext) -> None:
    """RANGE=THISANDFUTURE moves every later occurrence (across a daylight-saving change); each keeps the key of
    its own original start, and the rows are exactly the library's occurrences."""
    import icalendar
    import recurring_ical_events

    path = write(tmp_path, THIS_AND_FUTURE)
    rows = rows_of(run(path, ctx))
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    expected = recurring_ical_events.of(calendar).between(*ctx.calendar_window)
    assert len(rows) == len(expected) == 34
    assert sorted(r["start_at"] for r in rows) == sorted(e["DTSTART"].dt.astimezone(UTC) for e in expected)
    assert sorted(r["end_at"] for r in rows) == sorted(e["DTEND"].dt.astimezone(UTC) for e in expected)
    by = {r["event_key"]: r for r in rows}
    assert len(by) == len(rows)
    # Moved by the first range (+2 h, an hour long, with cy), before and after the clocks changed on 31 March:
    assert by["standup|2024-03-21T08:00:00Z"]["start_at"] == at(2024, 3, 21, 10)
    assert by["standup|2024-03-25T08:00:00Z"]["start_at"] == at(2024, 3, 25, 10)  # 11:00 CET, rule time 09:00
    assert by["standup|2024-04-01T07:00:00Z"]["start_at"] == at(2024, 4, 1, 9)  # 11:00 CEST
    assert by["standup|2024-04-02T07:00:00Z"]["start_at"] == at(2024, 4, 2, 9)  # the RDATE, moved too
    assert by["standup|2024-04-01T07:00:00Z"]["end_at"] == at(2024, 4, 1, 10)
    assert [a["address"] for a in by["standup|2024-04-01T07:00:00Z"]["attendees"]] == ["cy@example.com"]
    # A single override inside the range keeps its own time; the EXDATE stays out.
    assert by["standup|2024-04-08T07:00:00Z"]["start_at"] == at(2024, 4, 9, 13)
    assert "standup|2024-04-22T07:00:00Z" not in by
    # The second range: a day later at 08:30, a quarter of an hour, with dee.
    assert by["standup|2024-05-20T07:00:00Z"]["start_at"] == at(2024, 5, 21, 6, 30)
    assert by["standup|2024-06-27T07:00:00Z"]["end_at"] == at(2024, 6, 28, 6, 45)
    assert by["standup|2024-03-18T08:00:00Z"]["start_at"] == at(2024, 3, 18, 8)  # before any range: untouched


def test_events_that_end_before_they_start_are_quarantined(tmp_path: Path, ctx: ImportContext) -> None:
    path = write(
        tmp_path,
        """
BEGIN:VEVENT
UID:backwards
DTSTART:20240305T100000Z
DTEND:20240305T090000Z
END:VEVENT
BEGIN:VEVENT
UID:negative-duration
DTSTART:20240305T100000Z
DURATION:-PT30M
RRULE:FREQ=DAILY;COUNT=3
END:VEVENT
BEGIN:VEVENT
UID:ok
DTSTART:20240305T100000Z
DTEND:20240305T100000Z
END:VEVENT
""",
    )
    pages = run(path, ctx)
    assert rejects_of(pages) == {"vevent#0": "end_before_start", "vevent#1": "end_before_start"}
    reject = next(r for p in pages for r in p.rejects if r.position == "vevent#0")
    assert reject.detail == "ends 2024-03-05T09:00:00+00:00, before it starts 2024-03-05T10:00:00+00:00"
    assert [r["event_key"] for r in rows_of(pages)] == ["ok"]


# ------------------------------------------------------------------------------------------------------ time


def test_all_day_events(ctx: ImportContext) -> None:
    rows = by_key(MIXED, ctx)
    offsite = rows["allday-offsite"]
    assert offsite["is_all_day"] is True and offsite["timezone"] is None
    assert (offsite["start_at"], offsite["end_at"]) == (at(2024, 3, 1), at(2024, 3, 2))
    conference = rows["allday-conference"]
    assert (conference["start_at"], conference["end_at"]) == (at(2024, 3, 4), at(2024, 3, 7))


def test_time_zones_floating_and_duration(ctx: ImportContext) -> None:
    rows = by_key(MIXED, ctx)
    new_york = rows["new-york-call"]  # EDT (UTC-4) since 10 March 2024; DURATION instead of DTEND
    assert (new_york["start_at"], new_york["end_at"]) == (at(2024, 3, 12, 14), at(2024, 3, 12, 14, 45))
    assert new_york["timezone"] == "America/New_York"
    berlin = rows["berlin-summer"]  # CEST (UTC+2)
    assert berlin["start_at"] == at(2024, 7, 1, 7) and berlin["timezone"] == "Europe/Berlin"
    floating = rows["floating-coffee"]  # floating times are read as UTC
    assert floating["start_at"] == at(2024, 3, 13, 10) and floating["timezone"] is None
    assert rows["cancelled-lunch"]["timezone"] == "UTC"


def test_vtimezone_with_a_custom_name(tmp_path: Path, ctx: ImportContext) -> None:
    path = write(
        tmp_path,
        """
BEGIN:VTIMEZONE
TZID:Office Time
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:custom
DTSTART;TZID=Office Time:20240405T100000
DTEND;TZID=Office Time:20240405T110000
ORGANIZER:mailto:ann@example.com
END:VEVENT
""",
    )
    row = by_key(path, ctx)["custom"]
    assert row["start_at"] == at(2024, 4, 5, 4, 30) and row["timezone"] == "Office Time"


# ----------------------------------------------------------------------------------------- people and status


def test_attendees_responses_roles_and_resources(ctx: ImportContext) -> None:
    rows = by_key(MIXED, ctx)
    attendees = {a["address"]: a for a in rows["new-york-call"]["attendees"]}
    # the duplicate GINA@ is folded into the first gina@, the invalid address is dropped
    assert sorted(attendees) == ["ann@example.com", "erin@client.com", "frank@client.com", "gina@client.com"]
    assert attendees["erin@client.com"]["response"] == "declined"
    assert attendees["erin@client.com"]["role"] == "opt_participant"
    assert attendees["frank@client.com"]["response"] == "tentative"
    assert attendees["gina@client.com"] == {
        "address": "gina@client.com",
        "name": "Gina",
        "response": "needs_action",
        "role": "non_participant",
        "is_resource": False,
    }
    assert rows["new-york-call"]["organizer_name"] == "Dan NY"
    teams = {a["address"]: a for a in rows["teams-review"]["attendees"]}
    assert teams["room.blue@example.com"]["is_resource"] is True
    assert teams["bob@example.com"]["is_resource"] is False


def test_status_and_online(ctx: ImportContext) -> None:
    rows = by_key(MIXED, ctx)
    assert rows["cancelled-lunch"]["status"] == "cancelled" and rows["cancelled-lunch"]["sequence"] == 3
    assert rows["teams-review"]["status"] == "tentative"
    assert rows["teams-review"]["is_online"] is True
    assert rows["teams-review"]["location"] == "Microsoft Teams Meeting"
    assert rows["zoom-in-description"]["is_online"] is True
    assert rows["zoom-in-description"]["location"] is None  # DESCRIPTION is never stored
    assert rows["floating-coffee"]["is_online"] is False


def test_event_without_participants_is_kept(ctx: ImportContext) -> None:
    block = by_key(MIXED, ctx)["focus-block"]
    assert block["organizer_address"] is None and block["attendees"] == []


def test_description_is_never_stored(ctx: ImportContext) -> None:
    pages = run(WEEKLY, ctx) + run(MIXED, ctx)
    text = repr(rows_of(pages)) + repr([r.as_row() for p in pages for r in p.rejects])
    assert "Private agenda" not in text and "zoom.us/j" not in text and "Focus time" not in text


def test_method_cancel_cancels(tmp_path: Path, ctx: ImportContext) -> None:
    path = write(
        tmp_path,
        """
METHOD:CANCEL
BEGIN:VEVENT
UID:gone
DTSTART:20240405T100000Z
ORGANIZER:mailto:ann@example.com
END:VEVENT
""",
    )
    assert by_key(path, ctx)["gone"]["status"] == "cancelled"


# ------------------------------------------------------------------------------------------------ quarantine


def test_bad_components_are_quarantined_with_stable_reasons(ctx: ImportContext) -> None:
    pages = run(MIXED, ctx)
    assert rejects_of(pages) == {
        "vevent#9": "missing_start",
        "vevent#10": "unparseable_date",
        "vevent#11": "implausible_date",
        "vevent#12": "no_valid_address",
        "vevent#13": "bad_recurrence",
    }
    reject = next(r for p in pages for r in p.rejects if r.reason == "unparseable_date")
    assert reject.kind == "event" and reject.source == "ics" and "2024031T090000Z" in reject.excerpt
    assert len(rows_of(pages)) == 9


def test_garbled_file_is_one_quarantined_record(ctx: ImportContext) -> None:
    pages = run(GARBLED, ctx)
    assert len(pages) == 1
    assert [r.reason for r in pages[0].rejects] == ["unparseable_file"]
    assert pages[0].row_count == 0
    assert IcsFileSource(GARBLED).infer_owner(ctx) is None


def test_truncated_and_empty_files(tmp_path: Path, ctx: ImportContext) -> None:
    truncated = tmp_path / "cut.ics"
    truncated.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20240101T000000Z\n")
    assert [r.reason for p in run(truncated, ctx) for r in p.rejects] == ["unparseable_file"]
    empty = tmp_path / "empty.ics"
    empty.write_text("")
    pages = run(empty, ctx)
    assert len(pages) == 1 and pages[0].row_count == 0 and not pages[0].rejects


# ----------------------------------------------------------------------------------------------------- owner


def test_infer_owner(ctx: ImportContext) -> None:
    guess = IcsFileSource(WEEKLY).infer_owner(ctx)
    assert guess is not None and (guess.address, guess.method) == ("ann@example.com", "calendar_owner")
    guess = IcsFileSource(MIXED).infer_owner(ctx)
    assert guess is not None and (guess.address, guess.method) == ("ann@example.com", "most_frequent_address")
    assert 0.9 < guess.share <= 1.0


# --------------------------------------------------------------------------------------------------- privacy


def test_title_hash_only_with_a_subject_key() -> None:
    key = b"subject-secret"
    rows = by_key(WEEKLY, make_context(subject_key=key))
    expected = hmac.new(key, b"ann / bob 1:1", hashlib.sha256).hexdigest()
    assert title_hash(key, "  Ann  / BOB 1:1 ") == expected
    assert rows[f"{SERIES}|2024-01-08T08:00:00Z"]["title_hash"] == expected
    assert normalise_title("Ａnn\t/ Bob") == "ann / bob"
    assert rows[f"{SERIES}|2024-01-22T08:00:00Z"]["title_hash"] != expected  # "(moved)"


def test_pseudonymised_addresses_and_no_names() -> None:
    ctx = make_context(hmac_key=b"secret")
    pages = list(IcsFileSource(MIXED).pages("ann@example.com", ctx, None))
    rows = {r["event_key"]: r for r in rows_of(pages)}
    call = rows["new-york-call"]
    assert call["organizer_address"].startswith("p~") and call["organizer_address"].endswith("@client.com")
    assert call["organizer_name"] is None
    assert all(a["name"] is None and a["address"].startswith("p~") for a in call["attendees"])
    owner = ctx.normaliser().normalise("ann@example.com")
    assert call["calendar_owner"] == owner
    # an owner that is already a pseudonym is not hashed twice
    again = list(IcsFileSource(MIXED).pages(owner or "", ctx, None))
    assert {r["calendar_owner"] for r in rows_of(again)} == {owner}
    guess = IcsFileSource(MIXED).infer_owner(ctx)
    assert guess is not None and guess.address == owner
    assert "Dan NY" not in repr(rows_of(pages))


# ---------------------------------------------------------------------------------------------------- paging


@pytest.mark.parametrize("page_size", [1, 2, 4, 7])
def test_pages_and_resume_equal_a_full_run(page_size: int) -> None:
    full = rows_of(run(MIXED, make_context())) + rows_of(run(WEEKLY, make_context()))
    for path in (MIXED, WEEKLY):
        ctx = make_context(page_size=page_size)
        pages = run(path, ctx)
        assert all(p.row_count <= page_size for p in pages)
        keys = [r["event_key"] for r in rows_of(pages)]
        assert len(keys) == len(set(keys))
        # resuming from every cursor yields exactly the tail of the full run
        cursors = [None] + [p.cursor for p in pages]
        for i, cursor in enumerate(cursors[:-1]):
            tail = rows_of(run(path, ctx, cursor))
            assert [r["event_key"] for r in tail] == [r["event_key"] for r in rows_of(pages[i:])]
        assert rows_of(run(path, ctx, pages[-1].cursor)) == []
    all_keys = {r["event_key"] for r in full}
    assert len(all_keys) == len(full)


def test_cursor_format() -> None:
    assert parse_cursor(None) == (0, 0)
    assert parse_cursor("3") == (3, 0)
    assert parse_cursor("3:2") == (3, 2)
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor("abc")


# ------------------------------------------------------------------------------------------------- warehouse


def counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    events = con.execute("select count(*) from raw.calendar_events").fetchone()
    quarantined = con.execute("select count(*) from ops.quarantine").fetchone()
    assert events is not None and quarantined is not None
    return int(events[0]), int(quarantined[0])


def test_commit_twice_is_idempotent(warehouse: duckdb.DuckDBPyConnection) -> None:
    ctx = make_context(page_size=3)
    for _ in range(2):
        for path in (WEEKLY, MIXED, GARBLED):
            for page in IcsFileSource(path).pages(OWNER, ctx, None):
                commit_page(warehouse, page, source="ics", account=OWNER, stream=str(path))
        assert counts(warehouse) == (6 + 9, 5 + 1)
    moved = f"{SERIES}|2024-01-22T08:00:00Z"
    row = warehouse.execute("select status, start_at from raw.calendar_events where event_key = ?", [moved]).fetchone()
    assert row is not None and row[0] == "confirmed" and row[1] == at(2024, 1, 22, 10)


def test_updated_override_replaces_the_occurrence(tmp_path: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    """A later export cancels one more occurrence (in a second VCALENDAR of the same file)."""
    ctx = make_context()
    for page in IcsFileSource(WEEKLY).pages(OWNER, ctx, None):
        commit_page(warehouse, page, source="ics", account=OWNER, stream="cal")
    later = tmp_path / "later.ics"
    later.write_text(
        WEEKLY.read_text() + "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:one-on-one-bob@example.com\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20240205T090000\nDTSTART:20240205T100000Z\nSTATUS:CANCELLED\n"
        "ORGANIZER:mailto:ann@example.com\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    for page in IcsFileSource(later).pages(OWNER, ctx, None):
        commit_page(warehouse, page, source="ics", account=OWNER, stream="cal")
    assert counts(warehouse)[0] == 6
    row = warehouse.execute(
        "select status from raw.calendar_events where event_key = ?", [f"{SERIES}|2024-02-05T08:00:00Z"]
    ).fetchone()
    assert row == ("cancelled",)


def test_google_x_wr_timezone_and_windows_zone_names(tmp_path: Path, ctx: ImportContext) -> None:
    path = write(
        tmp_path,
        """
X-WR-TIMEZONE:Europe/Berlin
BEGIN:VEVENT
UID:google-weekly
DTSTART:20240321T080000Z
DTEND:20240321T083000Z
RRULE:FREQ=WEEKLY;COUNT=3
ORGANIZER:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:outlook
DTSTART;TZID=W. Europe Standard Time:20240110T090000
DTEND;TZID=W. Europe Standard Time:20240110T100000
ORGANIZER:mailto:ann@example.com
END:VEVENT
""",
    )
    rows = by_key(path, ctx)
    # 09:00 Berlin before and after the switch to summer time (31 March)
    assert rows["google-weekly|2024-03-21T08:00:00Z"]["start_at"] == at(2024, 3, 21, 8)
    assert rows["google-weekly|2024-03-28T08:00:00Z"]["start_at"] == at(2024, 3, 28, 8)
    assert rows["google-weekly|2024-04-04T07:00:00Z"]["start_at"] == at(2024, 4, 4, 7)
    assert rows["google-weekly|2024-04-04T07:00:00Z"]["timezone"] == "Europe/Berlin"
    assert rows["outlook"]["start_at"] == at(2024, 1, 10, 8)
    assert rows["outlook"]["timezone"] == "W. Europe Standard Time"


def test_runaway_rule_is_quarantined_and_floating_series_expand(tmp_path: Path, ctx: ImportContext) -> None:
    path = write(
        tmp_path,
        """
BEGIN:VEVENT
UID:every-minute
DTSTART:20240101T090000Z
RRULE:FREQ=MINUTELY
ORGANIZER:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:floating-standup
DTSTART:20240102T091500
DURATION:PT15M
RRULE:FREQ=DAILY;COUNT=3
ORGANIZER:mailto:ann@example.com
END:VEVENT
""",
    )
    pages = run(path, ctx)
    assert rejects_of(pages) == {"vevent#0": "bad_recurrence"}
    rows = by_key(path, ctx)
    assert sorted(rows) == [f"floating-standup|2024-01-0{d}T09:15:00Z" for d in (2, 3, 4)]
    assert rows["floating-standup|2024-01-02T09:15:00Z"]["end_at"] == at(2024, 1, 2, 9, 30)


@pytest.mark.parametrize("shared", [False, True], ids=["each key in one page", "a key in two pages"])
def test_calendar_pages_committed_together_equal_pages_committed_one_after_another(
    tmp_path: Path, shared: bool
) -> None:
    """Consecutive calendar pages (a file per person) are written in one go: the same rows, and the same new and
    replaced counts per page, as committing them one by one (both checked by hand too); a key offered by two pages
    takes them one by one."""
    from tiepulse.connectors.raw_schemas import to_table
    from tiepulse.core.warehouse import connect
    from tiepulse.pipelines.loader import PageCommit, commit_pages

    def event(key: str, owner: str, status: str = "confirmed") -> dict[str, Any]:
        start = at(2024, 3, 4, 10)
        end = start + dt.timedelta(hours=1)
        return dict(event_key=key, calendar_owner=owner, source="ics", uid=key, status=status, start_at=start,
                    end_at=end, is_all_day=False, attendees=[])  # fmt: skip

    before = [event("a", "o1"), event("b", "o1"), event("c", "o2")]
    pages = [
        [event("a", "o1", "cancelled"), event("b", "o1"), event("d", "o1", "tentative"), event("d", "o1")],
        [event("c", "o2"), event("e", "o2")],
        [event("f", "o3"), *([event("a", "o1", "tentative")] if shared else [])],
    ]
    together, apart = connect(tmp_path / "together.duckdb"), connect(tmp_path / "apart.duckdb")
    try:
        items = [PageCommit(Page(rows={"raw.calendar_events": to_table("raw.calendar_events", p)}), "ics", "o", "x")
                 for p in pages]  # fmt: skip
        for con in (together, apart):
            commit_page(con, Page(rows={"raw.calendar_events": to_table("raw.calendar_events", before)}),
                        source="ics", account="o", stream="x")  # fmt: skip
        counted = [(r.inserted, r.updated) for r in commit_pages(together, items)]
        one_by_one = [commit_page(apart, i.page, source="ics", account="o", stream="x") for i in items]
        assert counted == [(r.inserted, r.updated) for r in one_by_one]
        query = "select event_key, calendar_owner, status from raw.calendar_events order by all"
        assert together.execute(query).fetchall() == apart.execute(query).fetchall()
        # by hand: d new (its last row) and a replaced, b unchanged; e new, c unchanged; f new (and a replaced again)
        one = {"raw.calendar_events": 1}
        assert counted == [(one, one), (one, {}), (one, one if shared else {})]
        a_status = "tentative" if shared else "cancelled"
        assert together.execute(query).fetchall() == [
            ("a", "o1", a_status),
            ("b", "o1", "confirmed"),
            ("c", "o2", "confirmed"),
            ("d", "o1", "confirmed"),
            ("e", "o2", "confirmed"),
            ("f", "o3", "confirmed"),
        ]
    finally:
        together.close()
        apart.close()
