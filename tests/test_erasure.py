"""`tiepulse erase`: the person leaves every layer and the warehouse file's bytes, for good and resumably."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ENRON, requires_enron
from tests.privacy_scan import files_holding
from tests.test_cli import env, run  # noqa: F401 - the CLI test environment (TIEPULSE_HOME, AS_OF) and runner
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

ADDRESS, ALIAS, NAME = "john.erasee@example.com", "jerasee@example.com", "John Erasee"


def _message(n: int, date: str, sender: str, to: str) -> str:
    return (
        f"From ann@example.com Mon Mar  4 09:00:00 2024\nMessage-ID: <{n}@example.com>\nDate: {date}\n"
        f"From: {sender}\nTo: {to}\nSubject: plan\n\nbody\n\n"
    )


MBOX = "".join(
    [
        _message(
            1, "Mon, 4 Mar 2024 09:00:00 +0000", "Ann Keep <ann@example.com>", f"{NAME} <{ADDRESS}>, bob@example.com"
        ),
        _message(2, "Tue, 5 Mar 2024 09:00:00 +0000", f"{NAME} <{ALIAS}>", "Ann Keep <ann@example.com>"),
        _message(3, "Wed, 6 Mar 2024 09:00:00 +0000", "Ann Keep <ann@example.com>", "Bob Keep <bob@example.com>"),
        _message(
            4, "Mon, 31 Dec 1979 09:00:00 +0000", f"{NAME} <{ADDRESS}>", "Ann Keep <ann@example.com>"
        ),  # quarantined
    ]
)

ICS = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:test
BEGIN:VEVENT
UID:meeting-1@example.com
DTSTART:20240305T100000Z
DTEND:20240305T110000Z
ORGANIZER;CN=Ann Keep:mailto:ann@example.com
ATTENDEE;CN={NAME}:mailto:{ADDRESS}
ATTENDEE;CN=Bob Keep:mailto:bob@example.com
END:VEVENT
BEGIN:VEVENT
UID:meeting-2@example.com
DTSTART:20240306T100000Z
DTEND:20240306T110000Z
ORGANIZER;CN={NAME}:mailto:{ADDRESS}
ATTENDEE;CN=Ann Keep:mailto:ann@example.com
END:VEVENT
END:VCALENDAR
"""

LOG = (
    "date,person,channel,minutes,name\n"
    f"2024-03-07,{ADDRESS},call,20,{NAME}\n"
    "2024-03-08,bob@example.com,call,10,Bob Keep\n"
)
DIRECTORY = (
    "email,aliases,name,team,manager\n"
    f"{ADDRESS},{ALIAS},{NAME},Platform,ann@example.com\n"
    f"bob@example.com,,Bob Keep,Platform,{ADDRESS}\n"
    "ann@example.com,,Ann Keep,Platform,\n"
)


def write_exports(folder: Path) -> list[Path]:
    """Ann's mailbox, calendar, call log and directory, each naming the person to erase."""
    files = {"ann.mbox": MBOX, "ann.ics": ICS, "calls.csv": LOG, "directory.csv": DIRECTORY}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return [folder / name for name in files]


@pytest.fixture
def exports(tmp_path: Path) -> list[Path]:
    return write_exports(tmp_path)


@pytest.fixture
def home(env: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:  # noqa: F811
    """The CLI's home (the imported ``env`` fixture), on the backend the test asks (``indirect``; a DuckDB file
    unless it asks)."""
    (env.parent / "home" / "dagster").mkdir(parents=True)  # a Dagster instance under the home, erased too
    monkeypatch.setenv("DAGSTER_HOME", str(env.parent / "home" / "dagster"))
    config = env.parent / "config.yaml"
    config.write_text(f"warehouse:\n  backend: {getattr(request, 'param', 'duckdb')}\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    return env.parent / "home"


def query(home: Path, sql: str, params: dict[str, object] | None = None) -> list[tuple[Any, ...]]:
    assert Settings().home == home
    with closing(connect(Settings().warehouse_path, read_only=True)) as con:
        return con.execute(sql, params).fetchall()


def _imported(home: Path, exports: list[Path]) -> None:
    code, out = run("import", *map(str, exports), "--owner", "ann@example.com")
    assert code == 0, out
    assert files_holding(home, ADDRESS, ALIAS, NAME).keys() == {ADDRESS, ALIAS, NAME}  # they are there to erase
    (home / "reports" / "org.html").write_text(f"<p>{NAME}</p>")  # a derived file beside the refresh's reports


@pytest.mark.parametrize("home", ["duckdb", "ducklake"], indirect=True)
def test_erase_leaves_no_byte_of_the_person_and_keeps_everyone_else(home: Path, exports: list[Path]) -> None:
    """On a lake too: no data file, delete file, older snapshot, catalog statistic or free catalog page keeps them."""
    _imported(home, exports)
    people_before = {r[0] for r in query(home, "select person_id from marts.dim_person")}
    code, out = run("erase", "--person", ALIAS.upper(), "--yes")  # any address of theirs, in any case
    assert code == 0, out
    assert files_holding(home, ADDRESS, ALIAS, NAME, "jerasee", "john.erasee") == {}
    people = {r[0] for r in query(home, "select person_id from marts.dim_person")}
    assert people == people_before - {ADDRESS}
    assert query(home, "select count(*) from marts.fct_messages where sender_id = 'ann@example.com'") == [(2,)]
    assert query(home, "select count(*) from raw.manual_interactions") == [(1,)]  # Bob's call stays
    audit = query(home, "select status, addresses, rows_removed from ops.erasures")
    assert [(s, n) for s, n, _ in audit] == [("complete", 2)]
    assert json.loads(str(audit[0][2]))["raw.mail_messages"] >= 2
    assert not (home / "reports" / "org.html").exists()
    # idempotent: a second run finds the erasure complete and nothing left
    code, out = run("erase", "--person", ADDRESS, "--yes")
    assert code == 0 and "Already erased" in out, out
    # a later import of the same files does not bring them back
    (home / "calls-again.csv").write_text(LOG)
    code, out = run("import", *map(str, exports), str(home / "calls-again.csv"), "--owner", "ann@example.com")
    assert code == 0, out
    (home / "calls-again.csv").unlink()
    assert files_holding(home, ADDRESS, ALIAS, NAME) == {}
    assert {r[0] for r in query(home, "select person_id from marts.dim_person")} == people


def test_the_run_log_and_the_audit_hold_no_address(home: Path, exports: list[Path]) -> None:
    _imported(home, exports)
    code, out = run("forget", "--account", ADDRESS, "--yes")  # not a synced account: fails, logged failure
    assert code == 2
    runs = query(home, "select status, summary from ops.runs where kind = 'forget'")
    assert runs and runs[0][0] == "failure" and ADDRESS not in str(runs[0][1]) and "account_id" in str(runs[0][1])
    code, out = run("erase", "--person", ADDRESS, "--yes")
    assert code == 0, out
    assert files_holding(home, ADDRESS, NAME) == {}


def test_erasure_by_pseudonym(home: Path, exports: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from tiepulse.connectors.addresses import AddressNormaliser

    monkeypatch.setenv("TIEPULSE_PSEUDONYM_KEY", "erasure-test-key")
    code, out = run("import", *map(str, exports), "--owner", "ann@example.com")
    assert code == 0, out
    pseudonym = AddressNormaliser(hmac_key=b"erasure-test-key").normalise(ADDRESS)
    alias = AddressNormaliser(hmac_key=b"erasure-test-key").normalise(ALIAS)
    assert pseudonym and alias and files_holding(home, pseudonym, alias).keys() == {pseudonym, alias}
    code, out = run("erase", "--person", pseudonym, "--yes")
    assert code == 0, out
    assert files_holding(home, pseudonym, alias) == {}


def test_a_bad_person_or_a_missing_warehouse_is_one_clear_line(home: Path) -> None:
    code, out = run("erase", "--person", "not an address", "--yes")
    assert code == 2 and "neither an email address nor a pseudonym" in out and "Traceback" not in out
    code, out = run("erase", "--person", ADDRESS, "--yes")
    assert code == 2 and "no warehouse at" in out


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_an_erasure_killed_half_way_finishes_when_run_again(home: Path, exports: list[Path]) -> None:
    _imported(home, exports)
    erase = subprocess.Popen(
        [str(Path(sys.executable).parent / "tiepulse"), "erase", "--person", ADDRESS, "--yes"],
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # The refresh after the scrub starts a Great Expectations worker: kill the erasure then, half way.
    while erase.poll() is None and not _children(erase.pid):
        with contextlib.suppress(subprocess.TimeoutExpired):
            erase.wait(timeout=0.05)
    assert erase.poll() is None, erase.stdout.read() if erase.stdout else ""
    workers = _children(erase.pid)
    erase.send_signal(signal.SIGKILL)
    erase.wait()
    for worker in workers:  # the worker goes with its parent (issue 15, item 6); make sure it is gone here
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
    assert query(home, "select status from ops.erasures") == [("pending",)]
    code, out = run("erase", "--person", ADDRESS, "--yes")
    assert code == 0 and "resumed" in out, out
    assert query(home, "select status from ops.erasures") == [("complete",)]
    assert files_holding(home, ADDRESS, ALIAS, NAME) == {}


@requires_enron
def test_erasing_an_enron_correspondent_leaves_no_byte_of_him(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_AS_OF", "2001-12-01")
    code, out = run("import", str(ENRON / "sent_mail"))
    assert code == 0, out
    address, name = "john.lavorato@enron.com", "John Lavorato"  # the sample keeps no display names; he has none
    assert files_holding(home, address, name).keys() == {address}
    assert query(home, "select count(*) from marts.mart_ties_monthly where alter_id = $a", {"a": address})[0][0]
    code, out = run("erase", "--person", address, "--yes")
    assert code == 0, out
    assert files_holding(home, address, name) == {}
    assert query(home, "select count(*) from marts.fct_messages")[0][0] > 20_000  # everyone else stays
