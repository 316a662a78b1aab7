"""Formats, claims, owner inference, cursors and idempotency of the mail importers, through the loader."""

from __future__ import annotations

import gzip
import mailbox
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.conftest import home_with_workers, make_context
from tiepulse.connectors.base import ImportContext, OwnerGuess, Page
from tiepulse.connectors.mail import MailFileSource, bare_split, claims, iter_header_blocks, parse_ahead
from tiepulse.connectors.mail import source as mail_source
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.loader import PageCommit, commit_page, commit_pages

TRICKY = Path(__file__).parent / "data" / "mail" / "tricky.mbox"


def message(n: int, *, sender: str = "me@example.com", to: str = "you@example.com", extra: str = "") -> str:
    return (
        f"Message-ID: <m{n}@example.com>\nDate: Mon, 6 Jan 2020 10:{n % 60:02d}:00 +0000\n"
        f"From: {sender}\nTo: {to}\n{extra}Subject: n{n}\n\nbody {n}\nFrom here on a body line\n"
    )


def write_mbox(path: Path, count: int, **kwargs: str) -> Path:
    parts = [f"From x@example.com Mon Jan  6 10:00:00 2020\n{message(n, **kwargs)}\n" for n in range(count)]
    path.write_text("".join(parts).replace("\nFrom here", "\n>From here"))
    return path


def run_import(con: duckdb.DuckDBPyConnection, src: MailFileSource, ctx: ImportContext, owner: str) -> None:
    stream = str(src.path)
    row = con.execute(
        "select cursor from ops.sync_state where source = ? and account = ? and stream = ?",
        [src.source, owner, stream],
    ).fetchone()
    for page in src.pages(owner, ctx, row[0] if row else None):
        commit_page(con, page, source=src.source, account=owner, stream=stream)


def counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    rows = con.execute("select count(*) from raw.mail_messages").fetchone()
    rejects = con.execute("select count(*) from ops.quarantine").fetchone()
    assert rows is not None and rejects is not None
    return int(rows[0]), int(rejects[0])


def test_claims_by_content(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "inbox", 3)
    assert claims(mbox) == "mbox"
    gz = tmp_path / "inbox.mbox.gz"
    gz.write_bytes(gzip.compress(mbox.read_bytes()))
    assert claims(gz) == "mbox.gz"
    takeout = tmp_path / "All mail.mbox"
    takeout.write_text(
        "From 1@xxx Mon Jan 06 10:00:00 +0000 2020\nX-GM-THRID: 42\nX-Gmail-Labels: Inbox,Important\n" + message(1)
    )
    assert claims(takeout) == "takeout"
    eml = tmp_path / "note.txt"
    eml.write_text(message(1))
    assert claims(eml) == "eml"
    (tmp_path / "data.csv").write_text("from,to,date\na,b,c\n")
    (tmp_path / "cal.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n")
    assert claims(tmp_path / "data.csv") is None and claims(tmp_path / "cal.ics") is None
    assert claims(tmp_path) is None  # a folder of mixed files is walked, not claimed
    emls = tmp_path / "emls"
    emls.mkdir()
    (emls / "a.eml").write_text(message(1))
    assert claims(emls) == "eml"
    md = tmp_path / "Maildir"
    mailbox.Maildir(md, create=True)
    assert claims(md) == "maildir"


def test_resume_from_every_cursor_equals_a_full_run(tmp_path: Path) -> None:
    ctx = make_context(page_size=4)
    src = MailFileSource(TRICKY, "mbox")
    full = list(src.pages("o@example.com", ctx, None))
    keys = [k for p in full for k in p.rows["raw.mail_messages"].column("message_key").to_pylist()]
    rejects = [r.key for p in full for r in p.rejects]
    assert len(full) == 4 and full[-1].cursor == str(TRICKY.stat().st_size)
    for i, page in enumerate(full[:-1]):
        rest = list(src.pages("o@example.com", ctx, page.cursor))
        done = full[: i + 1]
        assert [k for p in done + rest for k in p.rows["raw.mail_messages"].column("message_key").to_pylist()] == keys
        assert [r.key for p in done + rest for r in p.rejects] == rejects
    assert list(src.pages("o@example.com", ctx, full[-1].cursor)) == []


def test_import_twice_adds_nothing(warehouse: duckdb.DuckDBPyConnection, ctx: ImportContext) -> None:
    src = MailFileSource(TRICKY, "mbox")
    run_import(warehouse, src, ctx, "o@example.com")
    first = counts(warehouse)
    assert first == (6, 7)
    warehouse.execute("delete from ops.sync_state").fetchall()  # forget the cursor: a full re-read
    run_import(warehouse, src, ctx, "o@example.com")
    assert counts(warehouse) == first


def test_gzip_takeout_maildir_and_eml_import(tmp_path: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    ctx = make_context()
    gz = tmp_path / "old.mbox.gz"
    plain = write_mbox(tmp_path / "plain", 5).read_bytes()
    gz.write_bytes(gzip.compress(plain))
    assert bare_split(gz) == 5
    second = plain.index(b"\nFrom x") + 1  # offsets are in the decompressed stream
    assert [p for p, _ in iter_header_blocks(gz, "mbox.gz")][:2] == ["0", str(second)]

    takeout = tmp_path / "takeout.mbox"
    takeout.write_text(
        "".join(
            f"From 1@xxx Mon Jan 06 10:00:00 +0000 2020\nX-GM-THRID: 16{n}\n"
            f'X-Gmail-Labels: Inbox,"Work, 2020",=?UTF-8?Q?D=C3=A9p?=\n'
            + message(100 + n, to="Me <M.E+tag@gmail.com>", sender=f"s{n}@example.com")
            + "\n"
            for n in range(4)
        )
    )
    md = tmp_path / "Maildir"
    box = mailbox.Maildir(md, create=True)
    box.add(message(200).encode())
    sent = box.add_folder("Sent")
    sent.add(message(201).encode())
    emls = tmp_path / "emls"
    emls.mkdir()
    for n in (300, 301):
        (emls / f"{n}.eml").write_text(message(n).replace("\n", "\r\n"))

    found = {}
    for path in (gz, takeout, md, emls):
        fmt = claims(path)
        assert fmt is not None
        src = MailFileSource(path, fmt)
        guess = src.infer_owner(ctx)
        assert guess is not None
        found[fmt] = guess
        run_import(warehouse, src, ctx, guess.address)
    assert found["takeout"].address == "me@gmail.com" and found["takeout"].method == "takeout_account"
    assert found["mbox.gz"].method == "sent_folder_sender"

    rows = warehouse.execute(
        "select source, count(*), list(distinct folder order by folder), list(thread_id order by thread_id),"
        " any_value(labels) from raw.mail_messages group by 1 order by 1"
    ).fetchall()
    assert rows[0][:3] == ("eml", 2, [None])
    assert rows[1][:3] == ("maildir", 2, ["Sent", None])
    assert rows[2][:2] == ("mbox", 5)
    assert rows[3][:2] == ("takeout", 4) and rows[3][3] == ["160", "161", "162", "163"]
    assert rows[3][4] == ["Inbox", "Work, 2020", "Dép"]
    positions = warehouse.execute(
        "select list(source_position order by source_position) from raw.mail_messages where source = 'eml'"
    ).fetchone()
    assert positions == (["300.eml", "301.eml"],)
    before = counts(warehouse)
    for path in (gz, takeout, md, emls):  # resumed from their cursors: nothing new
        src = MailFileSource(path, claims(path) or "")
        run_import(warehouse, src, ctx, src.infer_owner(ctx).address)  # type: ignore[union-attr]
    assert counts(warehouse) == before


def notices(path: Path, rows: list[tuple[str, str]]) -> Path:
    """An mbox of one message per (sender, To line)."""
    parts = [
        f"From x@example.com Mon Jan  6 10:00:00 2020\n{message(n, sender=sender, to=to)}\n"
        for n, (sender, to) in enumerate(rows)
    ]
    path.write_text("".join(parts))
    return path


def test_owner_of_an_inbox_is_the_address_in_most_messages(tmp_path: Path, ctx: ImportContext) -> None:
    inbox = notices(tmp_path / "inbox", [(f"s{n % 7}@x.org", "me@example.com, other@x.org") for n in range(20)])
    guess = MailFileSource(inbox, "mbox").infer_owner(ctx)
    assert guess is not None and (guess.address, guess.method, guess.share) == (
        "me@example.com",
        "most_frequent_address",
        1.0,
    )


def test_a_configured_ego_wins_over_a_frequent_sender(tmp_path: Path) -> None:
    # A calendar-notice folder: the assistant sends 85 % of the notices to the ego, who is configured.
    rows = [("assistant@x.org", "boss@x.org, a@x.org")] * 17 + [("boss@x.org", "a@x.org")] * 3
    folder = notices(tmp_path / "calendar", rows)
    assert MailFileSource(folder, "mbox").infer_owner(make_context()) == OwnerGuess(
        "assistant@x.org", "sent_folder_sender", 0.85
    )
    configured = make_context(ego_addresses=(("boss@x.org", "boss@x.org"), ("a@x.org", "a@x.org")))
    guess = MailFileSource(folder, "mbox").infer_owner(configured)
    # a@x.org is in every message too, but boss@x.org sent more of them: the ego who sent wins a tie.
    assert guess == OwnerGuess("boss@x.org", "configured_ego", 1.0)
    only_a = make_context(ego_addresses=(("a@x.org", "a@x.org"),))
    assert MailFileSource(folder, "mbox").infer_owner(only_a) == OwnerGuess("a@x.org", "configured_ego", 1.0)
    absent = make_context(ego_addresses=(("c@x.org", "c@x.org"),))
    assert MailFileSource(folder, "mbox").infer_owner(absent).method == "sent_folder_sender"  # type: ignore[union-attr]


def test_a_bad_message_in_two_mailboxes_is_quarantined_once(
    warehouse: duckdb.DuckDBPyConnection, ctx: ImportContext, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.mbox"
    shutil.copy(TRICKY, copy)
    run_import(warehouse, MailFileSource(TRICKY, "mbox"), ctx, "o@example.com")
    once = counts(warehouse)
    run_import(warehouse, MailFileSource(copy, "mbox"), ctx, "other@example.com")
    rows, rejects = counts(warehouse)
    assert rejects == once[1] and rows == 2 * once[0]  # rows are per mailbox; a rejected message is one record


def test_maildir_cursor_resumes_after_the_last_name(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    box = mailbox.Maildir(md, create=True)
    for n in range(5):
        box.add(message(n).encode())
    ctx = make_context(page_size=2)
    src = MailFileSource(md, "maildir")
    pages = list(src.pages("me@example.com", ctx, None))
    assert [p.row_count for p in pages] == [2, 2, 1]
    rest = list(src.pages("me@example.com", ctx, pages[0].cursor))
    assert sum(p.row_count for p in rest) == 3


def test_truncated_gzip_keeps_what_it_can_and_reports(tmp_path: Path) -> None:
    data = gzip.compress(write_mbox(tmp_path / "plain", 400).read_bytes())
    gz = tmp_path / "cut.mbox.gz"
    gz.write_bytes(data[: len(data) // 2])
    assert claims(gz) == "mbox.gz"
    pages = list(MailFileSource(gz, "mbox.gz").pages("me@example.com", make_context(), None))
    rows = sum(p.row_count for p in pages)
    reasons = [r.reason for p in pages for r in p.rejects]
    assert 0 < rows < 400 and reasons == ["unreadable_file"]


def test_garbage_file_does_not_crash(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mbox"
    junk.write_bytes(b"From \n\n\x00\xff\xfe garbage\nFrom broken\nFrom: \n\nFrom x\nDate: x\n")
    pages = list(MailFileSource(junk, "mbox").pages("me@example.com", make_context(), None))
    assert sum(p.row_count for p in pages) == 0
    assert {r.reason for p in pages for r in p.rejects} == {"no_sender"}


def test_worker_processes_give_the_same_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mbox = write_mbox(tmp_path / "big.mbox", 2_500, extra="Cc: a@example.com\n")
    shutil.copy(TRICKY, tmp_path / "tricky.mbox")
    with mbox.open("a") as fh:
        fh.write((tmp_path / "tricky.mbox").read_text())
    serial = list(MailFileSource(mbox, "mbox").pages("me@example.com", make_context(page_size=1_000), None))
    monkeypatch.setattr(mail_source, "PARALLEL_MIN_BYTES", 0)
    ctx = make_context(page_size=1_000, workers=2)
    parallel = list(MailFileSource(mbox, "mbox").pages("me@example.com", ctx, None))
    assert [p.cursor for p in parallel] == [p.cursor for p in serial]
    assert len(parallel) == len(serial) == 3
    for p, s in zip(parallel, serial, strict=True):
        assert p.rows["raw.mail_messages"].equals(s.rows["raw.mail_messages"])
    assert [r.key for p in parallel for r in p.rejects] == [r.key for p in serial for r in p.rejects]


def test_a_page_keeps_the_last_row_of_a_repeated_key_and_never_a_present_one(
    tmp_path: Path, warehouse: duckdb.DuckDBPyConnection
) -> None:
    [page] = MailFileSource(write_mbox(tmp_path / "a.mbox", 4), "mbox").pages("o@example.com", make_context(), None)
    rows = page.rows["raw.mail_messages"]
    commit_page(warehouse, Page(rows={"raw.mail_messages": rows.slice(0, 2)}), source="s", account="o", stream="x")
    # Unique keys (the usual page): only the two keys not present yet are inserted, present rows are kept.
    changed = rows.set_column(rows.schema.get_field_index("folder"), "folder", pa.array(["new"] * 4))
    added = commit_page(warehouse, Page(rows={"raw.mail_messages": changed}), source="s", account="o", stream="x")
    assert added.inserted == {"raw.mail_messages": 2}
    folders = warehouse.execute("select folder from raw.mail_messages order by source_position").fetchall()
    assert folders == [(None,), (None,), ("new",), ("new",)]
    # A key twice in one page: its last row is the one offered.
    warehouse.execute("delete from raw.mail_messages").fetchall()
    twice = pa.concat_tables([rows.slice(0, 1), changed.slice(0, 1)])
    added = commit_page(warehouse, Page(rows={"raw.mail_messages": twice}), source="s", account="o", stream="x")
    assert added.inserted == {"raw.mail_messages": 1}
    assert warehouse.execute("select folder from raw.mail_messages").fetchall() == [("new",)]


@pytest.mark.parametrize("repeated", [False, True], ids=["keys unique", "a key in two pages"])
def test_pages_committed_together_equal_pages_committed_one_after_another(tmp_path: Path, repeated: bool) -> None:
    """One transaction of several pages (``commit_pages``) keeps the rows and counts each page's new rows as
    committing the pages one by one does: a present key is never replaced, across pages the first page's row wins,
    within a page the last row."""
    [page] = MailFileSource(write_mbox(tmp_path / "a.mbox", 6), "mbox").pages("o@example.com", make_context(), None)
    rows = page.rows["raw.mail_messages"]
    folder = rows.schema.get_field_index("folder")
    pages = [rows.slice(0, 3), rows.slice(3, 3).set_column(folder, "folder", pa.array(["b"] * 3))]
    if repeated:  # row 1's key again in the second page, and twice in it
        again = rows.slice(1, 1).set_column(folder, "folder", pa.array(["again"]))
        pages[1] = pa.concat_tables([pages[1], again, again.set_column(folder, "folder", pa.array(["last"]))])
        pages[0] = pages[0].slice(0, 1)  # row 1 is not stored before: the second page brings it
    together, apart = connect(tmp_path / "together.duckdb"), connect(tmp_path / "apart.duckdb")
    try:
        for con in (together, apart):  # one key stored before
            commit_page(con, Page(rows={"raw.mail_messages": rows.slice(2, 1)}), source="s", account="o", stream="x")
        items = [PageCommit(Page(rows={"raw.mail_messages": p}), "s", "o", "x") for p in pages]
        counted = [r.inserted.get("raw.mail_messages", 0) for r in commit_pages(together, items)]
        expected = [
            commit_page(apart, item.page, source="s", account="o", stream="x").inserted.get("raw.mail_messages", 0)
            for item in items
        ]
        query = "select message_key, folder from raw.mail_messages order by message_key"
        assert counted == expected
        assert together.execute(query).fetchall() == apart.execute(query).fetchall()
        assert sum(counted) == 5
        if repeated:
            key = rows.column("message_key")[1].as_py()
            folder_of = "select folder from raw.mail_messages where message_key = ?"
            assert together.execute(folder_of, [key]).fetchall() == [("last",)]
    finally:
        together.close()
        apart.close()


def test_an_import_of_many_files_parsed_ahead_equals_one_parsed_in_process(tmp_path: Path) -> None:
    import datetime as dt

    from tiepulse.core.warehouse import connect
    from tiepulse.pipelines.file_import import import_paths

    folder = tmp_path / "mail"
    folder.mkdir()
    for i in range(7):
        write_mbox(folder / f"box{i}.mbox", 40 * i + 1, sender=f"owner{i}@example.com")
    shutil.copy(TRICKY, folder / "tricky.mbox")
    data = gzip.compress(write_mbox(tmp_path / "plain.mbox", 300).read_bytes())
    (folder / "cut.mbox.gz").write_bytes(data[: len(data) // 2])  # read up to the break, then quarantined
    tables = {}
    for workers in (1, 2):
        settings = home_with_workers(tmp_path, workers, dt.date(2026, 11, 1))
        con = connect(settings.warehouse_path)
        report = import_paths(con, [folder], settings)
        assert [f.status for f in report.files] == ["imported"] * 9
        tables[workers] = [
            con.execute(f"select * exclude ({stamp}) from {table} order by all").fetchall()
            for table, stamp in (
                ("raw.mail_messages", "imported_at"),
                ("ops.quarantine", "quarantined_at"),
                ("ops.sync_state", "updated_at"),
            )
        ]
        con.close()
    assert tables[1] == tables[2]
    rows, rejects, cursors = tables[2]
    assert 6 + sum(40 * i + 1 for i in range(7)) < len(rows) < 6 + sum(40 * i + 1 for i in range(7)) + 300
    assert len(cursors) == 9 and "unreadable_file" in {reject[5] for reject in rejects}


def test_heads_of_upcoming_files_come_parsed_from_the_workers(tmp_path: Path) -> None:
    paths = [write_mbox(tmp_path / f"box{i}.mbox", 30 * i + 5, sender=f"owner{i}@example.com") for i in range(6)]
    ctx = make_context(workers=2)
    sources = [MailFileSource(path, "mbox") for path in paths]
    with parse_ahead(sources, ctx) as ahead:
        guesses = [source.infer_owner(ctx) for source in sources]
        assert ahead is not None and ahead.taken == len(sources) - 1
        pages = [list(source.pages(f"owner{i}@example.com", ctx, None)) for i, source in enumerate(sources)]
    assert all(source.ahead is None for source in sources)
    alone = [MailFileSource(path, "mbox") for path in paths]
    assert guesses == [source.infer_owner(make_context()) for source in alone]
    for i, (source, ahead_pages) in enumerate(zip(alone, pages, strict=True)):
        expected = list(source.pages(f"owner{i}@example.com", make_context(), None))
        assert [p.cursor for p in ahead_pages] == [p.cursor for p in expected]
        assert [p.rows["raw.mail_messages"] for p in ahead_pages] == [p.rows["raw.mail_messages"] for p in expected]
