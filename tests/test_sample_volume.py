"""The sample organisation at ordinary volume: structure, volumes within a band, the truth kept, determinism.

Small sizes only (60 people, a light everyday volume for the year, and single days at the full ordinary volume):
the 1,000-person year is `benchmarks/bench_org.py`'s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.sample import ORDINARY, Volume, generate_next_day, generate_sample

# One light year for 60 people is generated once for the module (a few seconds on a quiet machine).
pytestmark = pytest.mark.slow

SIZE = {"people": 60, "externals": 140, "months": 12, "seed": 3}
LIGHT = Volume(mails_per_day=3.0, meetings_per_day=2.0)
HEADER = re.compile(rb"^(From|To|Cc|Date): (.*(?:\n .*)*)", re.MULTILINE)
ADDRESS = re.compile(rb"<([^>]+)>|([\w.+-]+@[\w.-]+)")


def emails(value: bytes) -> list[str]:
    return [(a or b).decode() for a, b in ADDRESS.findall(value)]


def _messages(mbox: Path) -> list[dict[str, Any]]:
    """The distinct messages of an mbox: sender, recipients (To + Cc) and Date, from the raw headers."""
    found = []
    for entry in mbox.read_bytes().split(b"\n\nFrom ")[0:]:
        headers = entry.split(b"\n\n", 1)[0]
        fields = {m.group(1): m.group(2) for m in HEADER.finditer(headers)}
        if not emails(fields.get(b"From", b"")):
            continue  # the planted broken records
        found.append(
            {
                "id": re.search(rb"Message-ID: (\S+)", headers).group(1).decode(),  # type: ignore[union-attr]
                "from": emails(fields[b"From"])[0],
                "to": emails(fields.get(b"To", b"")) + emails(fields.get(b"Cc", b"")),
                "date": fields.get(b"Date", b"").decode(),
            }
        )
    return found


def _all_messages(folder: Path) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for mbox in sorted((folder / "mail").glob("*.mbox")) for m in _messages(mbox)}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("volume") / "sample"
    summary = generate_sample(out, volume=LIGHT, **SIZE)
    return out, json.loads(summary.truth.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day") / "next"
    generate_next_day(out, volume=ORDINARY, **SIZE)
    return out


def test_volumes_within_the_band(year: tuple[Path, dict[str, Any]]) -> None:
    _, truth = year
    volume = truth["volume"]
    assert 0.85 * LIGHT.mails_per_day <= volume["sent_per_person_workday"] <= 1.15 * LIGHT.mails_per_day
    assert 0.8 * LIGHT.meetings_per_day <= volume["meetings_per_person_workday"] <= 1.2 * LIGHT.meetings_per_day
    assert 1.5 <= volume["recipients_per_message"] <= 2.5
    assert 0.25 <= volume["replies"] / volume["messages"] <= 0.35


def test_counts_match_the_files(year: tuple[Path, dict[str, Any]]) -> None:
    out, truth = year
    counts = truth["counts"]
    for stem, n in counts["mailboxes"].items():
        assert (out / "mail" / f"{stem}.mbox").read_bytes().count(b"\nMessage-ID: ") == n, stem
    calendars = sorted((out / "calendar").glob("*.ics"))
    assert {p.stem for p in calendars} == set(counts["calendars"])
    for path in calendars[:5]:
        events = icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")
        assert len(events) == counts["calendars"][path.stem]
    assert counts["messages"] > truth["volume"]["messages"] > 0


def test_planted_patterns_survive_the_everyday_traffic(year: tuple[Path, dict[str, Any]]) -> None:
    out, truth = year
    everyday = [m for m in _all_messages(out).values() if m["id"].startswith("<v")]
    assert everyday
    contacts: set[tuple[str, str, str]] = set()
    for m in everyday:
        day = parsedate_to_datetime(m["date"]).astimezone(dt.UTC).date().isoformat()
        contacts.update((m["from"], r, day) for r in m["to"])
    planted = {frozenset((t["ego"], t["alter"])) for t in truth["fading_ties"] + truth["steady_ties"]}
    assert not [c for c in contacts if frozenset(c[:2]) in planted]
    meeters = {m["person"] for m in truth["meeters"]}
    assert not [c for c in contacts if meeters & set(c[:2])]
    narrowing = truth["narrowing"][0]
    ego, team = narrowing["ego"], truth["teams"][narrowing["ego"]]
    late = [c for c in contacts if ego in c[:2] and c[2] >= narrowing["since"]]
    assert late and all(truth["teams"].get(c[1] if c[0] == ego else c[0]) == team for c in late)
    prospects = {t["alter"] for t in truth["one_sided_ties"]} | {p for b in truth["burst"] for p in b["new_contacts"]}
    assert not [c for c in contacts if prospects & set(c[:2])]


def test_everyday_mail_stays_mostly_within_teams(day: Path, year: tuple[Path, dict[str, Any]]) -> None:
    teams = year[1]["teams"]  # the same arguments name the same organisation
    messages = _all_messages(day)
    internal = [(m["from"], r) for m in messages.values() for r in m["to"] if m["from"] in teams and r in teams]
    same_team = sum(teams[a] == teams[b] for a, b in internal) / len(internal)
    assert 0.6 <= same_team <= 0.95, same_team
    senders = Counter(m["from"] for m in messages.values() if m["from"] in teams)
    per_person = sum(senders.values()) / SIZE["people"]
    assert 20 <= per_person <= 40, per_person
    assert all(1 <= len(m["to"]) <= 5 for m in messages.values())


def test_next_day_is_the_day_after_and_reproducible(day: Path, tmp_path: Path) -> None:
    again = generate_next_day(tmp_path / "again", volume=ORDINARY, **SIZE)
    assert again.day == dt.date(2026, 7, 1) and again.as_of == dt.date(2026, 7, 2)
    assert _hashes(day) == _hashes(tmp_path / "again")
    other = generate_next_day(tmp_path / "other", volume=ORDINARY, **{**SIZE, "seed": 4})
    assert _hashes(tmp_path / "other") != _hashes(day)
    assert other.messages > 0
    for path in sorted((day / "calendar").glob("*.ics")):
        for event in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            assert event.decoded("dtstart").date() == again.day


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_cli_options_and_their_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["sample", str(tmp_path / "x"), "--next-day"])
    assert refused.exit_code == 2 and "--volume ordinary" in refused.output
    short = runner.invoke(app, ["sample", str(tmp_path / "y"), "--months", "6"])
    assert short.exit_code == 2 and "at least 12" in short.output
    wrote = runner.invoke(
        app, ["sample", str(tmp_path / "z"), "--people", "60", "--months", "12", "--volume", "ordinary", "--next-day"]
    )
    assert wrote.exit_code == 0, wrote.output
    assert "TIEPULSE_AS_OF=2026-07-02 tiepulse import" in wrote.output
