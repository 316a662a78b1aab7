"""Shapes of real exports the file import must take whole: nested .eml folders, maildirs without new/, paths that
cannot be read now (read again next time), files whose records are all bad or that hold none.

Unreadable paths are made with conditions the OS enforces for root too (a dangling link, a link that loops); the
permission case itself (chmod 000) is in tests/test_cli.py, run in a process without root's file-access override.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from tiepulse.connectors.files import EMPTY, NOT_A_FILE, NOT_UTF8, discover
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.file_import import ImportReport, import_paths


def message(n: int, sender: str = "me@example.com", to: str = "you@example.com") -> str:
    return (
        f"Message-ID: <m{n}@example.com>\nDate: Mon, 6 Jan 2020 10:{n % 60:02d}:00 +0000\n"
        f"From: {sender}\nTo: {to}\nSubject: n{n}\n\nbody\n"
    )


def write_emls(folder: Path, numbers: range, **kwargs: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"{n:03d}.eml").write_text(message(n, **kwargs))


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return connect(tmp_path / "home" / "warehouse.duckdb")


def run(con: duckdb.DuckDBPyConnection, tmp_path: Path, *paths: Path) -> ImportReport:
    settings = Settings(home=tmp_path / "home", config_file=None, as_of=dt.date(2024, 1, 1))
    return import_paths(con, list(paths), settings)


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_every_subfolder_of_an_eml_folder_is_walked(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    root = tmp_path / "export"
    write_emls(root, range(0, 3))
    write_emls(root / "a", range(10, 14))
    write_emls(root / "a" / "deeper", range(20, 22))
    write_emls(root / "b", range(30, 35), sender="b@example.com")
    (root / "c").mkdir()
    (root / "c" / "box.mbox").write_text(f"From x Mon Jan  6 10:00:00 2020\n{message(40)}\n")
    write_emls(root / "c", range(41, 43))
    (root / "c" / "notes.txt").write_text("not mail")

    report = run(con, tmp_path, root)
    assert count(con, "select count(*) from raw.mail_messages") == 3 + 4 + 2 + 5 + 1 + 2
    assert {f.path.relative_to(root).as_posix(): f.format for f in report.files} == {
        ".": "eml",
        "a": "eml",
        "a/deeper": "eml",
        "b": "eml",
        "c/box.mbox": "mbox",
        "c/041.eml": "eml",
        "c/042.eml": "eml",
    }
    assert [left.path.name for left in report.unclaimed] == ["notes.txt"]
    assert {f.status for f in run(con, tmp_path, root).files} == {"skipped"}


def maildir_message(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_a_maildir_without_new_is_one_mailbox(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """git keeps no empty folder: a maildir checked out of a repository may have cur/ alone, or new/ alone."""
    box = tmp_path / "Maildir"
    for n in range(5):
        maildir_message(box / "cur", f"17000000{n}.M{n}P1.host:2,S", message(n, sender=f"s{n}@x.org", to="me@x.org"))
    for n in range(5, 7):
        maildir_message(box / ".Sent" / "cur", f"17000000{n}.M{n}P1.host:2,S", message(n, sender="me@x.org"))
    unread = tmp_path / "Unread"
    for n in range(7, 9):
        maildir_message(unread / "new", f"17000000{n}.M{n}P1.host", message(n, sender=f"s{n}@x.org", to="me@x.org"))

    report = run(con, tmp_path, box, unread)
    assert [(f.path.name, f.format, f.owner) for f in report.files] == [
        ("Maildir", "maildir", "me@x.org"),
        ("Unread", "maildir", "me@x.org"),
    ]
    rows = con.execute(
        "select source_file, count(*), list(distinct folder order by folder) from raw.mail_messages "
        "group by 1 order by 1"
    ).fetchall()
    assert [(Path(f).name, n, folders) for f, n, folders in rows] == [
        ("Maildir", 7, ["Sent", None]),
        ("Unread", 2, [None]),
    ]


def test_unreadable_parts_are_reported_and_read_again(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """A dangling link in an .eml folder and in a maildir's cur/, a looping link among files: reported one by one
    with the reason, everything else imported, and nothing marked done until they are read."""
    root = tmp_path / "export"
    write_emls(root / "emls", range(0, 3))
    (root / "emls" / "001.eml").unlink()
    (root / "emls" / "001.eml").symlink_to(tmp_path / "elsewhere.eml")
    for n in range(10, 12):
        maildir_message(root / "Maildir" / "cur", f"{n}.M1P1.host:2,S", message(n))
    (root / "Maildir" / "cur" / "12.M1P1.host:2,S").symlink_to(tmp_path / "gone")
    (root / "loop.mbox").symlink_to(root / "loop.mbox")
    os.mkfifo(root / "pipe")

    report = run(con, tmp_path, root)
    assert count(con, "select count(*) from raw.mail_messages") == 4
    assert count(con, "select count(*) from ops.quarantine") == 0
    assert sorted(report.unreadable) == [
        (f"{root / 'Maildir'} (12.M1P1.host)", "cannot read it: No such file or directory"),
        (f"{root / 'emls'} (001.eml)", "cannot read it: No such file or directory"),
        (str(root / "loop.mbox"), "cannot read it: Too many levels of symbolic links"),
    ]
    assert [(left.path.name, left.reason) for left in report.unclaimed if not left.unreadable] == [("pipe", NOT_A_FILE)]
    assert count(con, "select count(*) from ops.sync_state where status = 'complete'") == 0
    again = run(con, tmp_path, root)
    assert [f.status for f in again.files] == ["imported", "imported"]  # not "skipped": read from the start

    (root / "emls" / "001.eml").unlink()
    (root / "emls" / "001.eml").write_text(message(1))
    (root / "Maildir" / "cur" / "12.M1P1.host:2,S").unlink()
    (root / "Maildir" / "cur" / "12.M1P1.host:2,S").write_text(message(12))
    (root / "loop.mbox").unlink()
    fixed = run(con, tmp_path, root)
    assert fixed.unreadable == [] and count(con, "select count(*) from raw.mail_messages") == 6
    assert {f.status for f in run(con, tmp_path, root).files} == {"skipped"}


def test_a_file_whose_records_are_all_bad_is_quarantined(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "bad.mbox").write_text(
        "".join(f"From x Mon Jan  6 10:00:00 2020\nMessage-ID: <b{n}@x.org>\nSubject: no sender\n\n" for n in range(3))
    )
    (folder / "blank.eml").write_text("")
    (folder / "empty.mbox").write_text("")
    (folder / "nothing.ics").write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")

    report = run(con, tmp_path, folder)
    assert {f.path.name: (f.status, f.result.quarantined) for f in report.files} == {
        "bad.mbox": ("quarantined", 3),
        "blank.eml": ("quarantined", 1),
        "nothing.ics": ("empty", 0),
    }
    assert [(left.path.name, left.reason) for left in report.unclaimed] == [("empty.mbox", EMPTY)]
    reasons = con.execute("select reason, count(*) from ops.quarantine group by 1").fetchall()
    assert reasons == [("no_sender", 4)]
    assert {f.path.name: f.status for f in run(con, tmp_path, folder).files} == {
        "bad.mbox": "skipped",
        "blank.eml": "skipped",
        "nothing.ics": "skipped",
    }
    assert count(con, "select count(*) from ops.quarantine") == 4


def test_a_file_with_usable_records_and_no_owner_waits_for_one(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    """An .ics of events without participants: no owner can be told, its bad event is quarantined, its rows wait
    for --owner, and the next import says so again."""
    calendar = tmp_path / "blocks.ics"
    calendar.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nUID:focus\r\nDTSTART:20230105T090000Z\r\nDTEND:20230105T100000Z\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:nostart\r\nDTEND:20230105T100000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    for _ in range(2):
        [outcome] = run(con, tmp_path, calendar).files
        assert (outcome.status, outcome.owner) == ("no_owner", "")
    assert count(con, "select count(*) from raw.calendar_events") == 0
    assert con.execute("select reason from ops.quarantine").fetchall() == [("missing_start",)]


def test_discover_names_what_it_left_alone_and_walks_each_folder_once(tmp_path: Path) -> None:
    (tmp_path / "dangling.mbox").symlink_to(tmp_path / "nowhere")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)  # a link back into the export: walked once, not forever
    (tmp_path / "sub" / "device.eml").symlink_to("/dev/null")
    with open(os.fsencode(tmp_path) + b"/\xff.mbox", "wb") as handle:  # a name from another encoding
        handle.write(f"From x Mon Jan  6 10:00:00 2020\n{message(1)}".encode())
    found, left = discover([tmp_path])
    assert found == []
    assert [(x.path.name, x.reason, x.unreadable) for x in left] == [
        ("dangling.mbox", "cannot read it: No such file or directory", True),
        ("device.eml", NOT_A_FILE, False),
        ("\udcff.mbox", NOT_UTF8, False),
    ]


def test_a_failed_transaction_stops_the_import_and_the_next_one_resumes(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transactions commit on a thread of their own: the first that fails is raised by the import, nothing after
    it commits, and the next import takes each file up after its last committed page, nothing doubled."""
    from tiepulse.pipelines import file_import

    for n in range(4):
        write_emls(tmp_path / "mail" / f"box{n}", range(n * 10, n * 10 + 10))
    monkeypatch.setattr(file_import, "TRANSACTION_ROWS", 10)  # one transaction per folder
    real = file_import.commit_pages
    calls: list[int] = []

    def failing_second(con: duckdb.DuckDBPyConnection, items: list[file_import.PageCommit]) -> object:
        calls.append(len(items))
        if len(calls) == 2:
            raise duckdb.IOException("disk full (injected)")
        return real(con, items)

    monkeypatch.setattr(file_import, "commit_pages", failing_second)
    with pytest.raises(duckdb.IOException, match="injected"):
        run(con, tmp_path, tmp_path / "mail")
    assert len(calls) == 2  # the third folder's transaction was never sent
    assert count(con, "select count(*) from raw.mail_messages") == 10
    monkeypatch.setattr(file_import, "commit_pages", real)
    report = run(con, tmp_path, tmp_path / "mail")
    # The first folder's rows had committed, its completion was in the failed transaction: it resumes, adds nothing.
    assert [outcome.status for outcome in report.files] == ["resumed", "imported", "imported", "imported"]
    assert report.files[0].result.inserted.get("raw.mail_messages", 0) == 0
    assert count(con, "select count(*) from raw.mail_messages") == 40
    assert count(con, "select count(distinct message_key) from raw.mail_messages") == 40
