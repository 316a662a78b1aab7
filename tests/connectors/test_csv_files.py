"""The CSV importers: header sniffing, tricky rows, quarantine, paging, idempotency."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import make_context
from tiepulse.connectors.base import ImportContext, Page
from tiepulse.connectors.csv_files import (
    CONTACTS,
    DIRECTORY,
    MANUAL_LOG,
    CsvFileSource,
    CsvHeaderError,
    claims,
    column_name,
    parse_channel,
    parse_when,
)
from tiepulse.pipelines.loader import commit_page

DATA = Path(__file__).parent / "data" / "csv"
LOG = DATA / "manual_log.csv"
DIRECTORY_FILE = DATA / "directory.csv"
DIRECTORY_EMAILS = DATA / "directory_emails.csv"
CONTACTS_FILE = DATA / "contacts.csv"
OWNER = "ann@example.com"
UTC = dt.UTC


def run(path: Path, kind: str, ctx: ImportContext, owner: str = OWNER, cursor: str | None = None) -> list[Page]:
    return list(CsvFileSource(path, kind).pages(owner, ctx, cursor))


def rows_of(pages: list[Page]) -> list[dict[str, Any]]:
    return [row for page in pages for table in page.rows.values() for row in table.to_pylist()]


def rejects_of(pages: list[Page]) -> list[tuple[str, str]]:
    return [(r.position, r.reason) for page in pages for r in page.rejects]


# ------------------------------------------------------------------------------------------------ recognising


def test_claims_by_header() -> None:
    assert claims(LOG) == MANUAL_LOG
    assert claims(DIRECTORY_FILE) == DIRECTORY
    assert claims(DIRECTORY_EMAILS) == DIRECTORY
    assert claims(CONTACTS_FILE) == CONTACTS
    assert claims(DATA / "unrelated.csv") is None
    assert claims(DATA) is None


def test_claims_sniffs_delimiters_and_minimal_headers(tmp_path: Path) -> None:
    semicolons = tmp_path / "log.csv"
    semicolons.write_text("DATE;PERSON;CHANNEL\n2024-01-02;bob@example.com;call\n")
    assert claims(semicolons) == MANUAL_LOG
    tabs = tmp_path / "people.tsv"
    tabs.write_text("\n\nE-Mail\tOrg Unit\n")  # leading blank lines; hyphen and space as underscores
    assert claims(tabs) == DIRECTORY
    outlook = tmp_path / "outlook.csv"  # a wide export of another tool is not ours, even with Department
    outlook.write_text("First Name,Last Name,Company,Department,Job Title,E-mail Address,Location,Notes\n")
    assert claims(outlook) is None
    only_email = tmp_path / "d.csv"
    only_email.write_text("email\nbob@example.com\n")
    assert claims(only_email) == DIRECTORY
    wrong_suffix = tmp_path / "log.txt"
    wrong_suffix.write_text("date,person,channel\n")
    assert claims(wrong_suffix) is None
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert claims(empty) is None
    assert column_name("\ufeff  Cadence-Days ") == "cadence_days"


def test_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    broken = DATA / "broken_log.csv"
    with pytest.raises(CsvHeaderError) as info:
        claims(broken)
    message = str(info.value)
    assert str(broken) in message and "'channel'" in message
    assert "date,person,channel[,minutes][,name][,owner]" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="'bucket'"):
        contacts = tmp_path / "c.csv"
        contacts.write_text("email,cadence_days\nbob@example.com,30\n")
        claims(contacts)
    with pytest.raises(ValueError, match="'channel'"):
        list(CsvFileSource(broken, "manual_log").pages(OWNER, make_context(), None))
    with pytest.raises(ValueError, match="unknown CSV kind"):
        CsvFileSource(broken, "spreadsheet")


# ------------------------------------------------------------------------------------------------ manual log


def test_manual_log_rows(ctx: ImportContext) -> None:
    pages = run(LOG, MANUAL_LOG, ctx)
    rows = {r["source_position"]: r for r in rows_of(pages)}
    assert sorted(rows, key=int) == ["2", "3", "4", "5", "14"]
    first = rows["2"]
    assert first["occurred_at"] == dt.datetime(2024, 3, 5, tzinfo=UTC)  # a date alone is 00:00 UTC
    assert (first["owner"], first["person_address"], first["person_name"]) == (
        OWNER,
        "bob@example.com",
        "Bob Builder",
    )
    assert (first["channel"], first["minutes"]) == ("call", 30.0)
    # two identical coffees on one day both count, with different keys
    assert rows["2"]["row_key"] != rows["3"]["row_key"]
    carol = rows["4"]  # zone converted; "Name <addr>" parsed; "In person"
    assert carol["occurred_at"] == dt.datetime(2024, 3, 6, 8, 15, tzinfo=UTC)
    assert (carol["person_address"], carol["person_name"], carol["channel"]) == (
        "carol@partner.org",
        "Carol",
        "in_person",
    )
    assert carol["minutes"] is None
    dan = rows["5"]  # naive date-time is UTC; "Video-Call"; decimal minutes
    assert dan["occurred_at"] == dt.datetime(2024, 3, 7, 18, tzinfo=UTC)
    assert (dan["channel"], dan["minutes"]) == ("video", 45.5)
    hal = rows["14"]  # quoted multi-line cell, decimal comma, upper-case address
    assert (hal["person_address"], hal["channel"], hal["minutes"]) == ("hal@example.com", "note", 1.5)
    assert hal["person_name"] == "Hal, the second"


def test_manual_log_rejects(ctx: ImportContext) -> None:
    pages = run(LOG, MANUAL_LOG, ctx)
    assert rejects_of(pages) == [
        ("7", "bad_date"),
        ("8", "bad_date"),
        ("9", "implausible_date"),
        ("10", "bad_email"),
        ("11", "bad_channel"),
        ("12", "bad_minutes"),
        ("13", "missing_field"),
    ]
    reject = pages[0].rejects[4]
    assert reject.kind == "csv_row" and reject.source == "manual_log" and reject.source_file == str(LOG)
    assert reject.excerpt == "2024-03-10,frank@client.com,carrier pigeon,,"


def test_manual_log_owner_column_and_missing_owner(tmp_path: Path, ctx: ImportContext) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "date,person,channel,owner\n"
        "2024-01-02,bob@example.com,call,Zed@Example.com\n"
        "2024-01-03,bob@example.com,call,\n"
        "2024-01-04,bob@example.com,call,zed@@example\n"
    )
    assert CsvFileSource(path, MANUAL_LOG).has_owner_column
    assert not CsvFileSource(LOG, MANUAL_LOG).has_owner_column
    assert CsvFileSource(path, MANUAL_LOG).infer_owner(ctx) is None
    pages = run(path, MANUAL_LOG, ctx, owner="")
    assert [r["owner"] for r in rows_of(pages)] == ["zed@example.com"]
    assert rejects_of(pages) == [("3", "missing_field"), ("4", "bad_email")]
    pages = run(path, MANUAL_LOG, ctx, owner="Ann@Example.com")
    assert [r["owner"] for r in rows_of(pages)] == ["zed@example.com", "ann@example.com"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", dt.datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05T23:30:00Z", dt.datetime(2024, 3, 5, 23, 30, tzinfo=UTC)),
        ("2024-03-05 07:00:00-05:00", dt.datetime(2024, 3, 5, 12, tzinfo=UTC)),
        ("2024-03-05T07:00", dt.datetime(2024, 3, 5, 7, tzinfo=UTC)),
        ("2024-02-30", None),
        ("5 March 2024", None),
        ("20240305", None),
    ],
)
def test_parse_when(text: str, expected: dt.datetime | None) -> None:
    assert parse_when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call", "call"),
        ("In person", "in_person"),
        ("in-person", "in_person"),
        (" VIDEO ", "video"),
        ("fax", None),
    ],
)
def test_parse_channel(text: str, expected: str | None) -> None:
    assert parse_channel(text) == expected


# ------------------------------------------------------------------------------------------------ directory


def test_directory_rows_aliases_and_x500(ctx: ImportContext) -> None:
    pages = run(DIRECTORY_FILE, DIRECTORY, ctx)
    rows = {r["email"]: r for r in rows_of(pages)}
    assert sorted(rows) == ["ann@example.com", "bob@example.com", "carol@partner.org", "dan@example.com"]
    ann = rows["ann@example.com"]
    assert ann["other_emails"] == [
        "ann.example@example.com",
        "x500:/o=example/ou=exchange administrative group/cn=recipients/cn=ann",
    ]
    assert (ann["name"], ann["team"], ann["department"], ann["org_unit"], ann["location"]) == (
        "Ann Example",
        "Platform",
        "Engineering",
        "EU",
        "Berlin",
    )
    assert ann["is_internal"] is True and ann["manager_email"] is None
    assert rows["bob@example.com"]["manager_email"] == "ann@example.com"  # first of the duplicate rows wins
    assert rows["bob@example.com"]["name"] == "Bob Builder"
    assert rows["carol@partner.org"]["is_internal"] is False
    dan = rows["dan@example.com"]
    assert dan["other_emails"] == ["d.an@example.com"] and dan["manager_email"] is None
    assert rejects_of(pages) == [
        ("5", "bad_alias"),
        ("5", "bad_manager"),
        ("6", "duplicate_email"),
        ("7", "bad_boolean"),
        ("8", "missing_field"),
        ("9", "bad_email"),
    ]


def test_directory_emails_list(ctx: ImportContext) -> None:
    [row] = rows_of(run(DIRECTORY_EMAILS, DIRECTORY, ctx))
    assert row["email"] == "jdoe@enron.com"
    assert row["other_emails"] == ["john.doe@enron.com", "x500:/o=enron/ou=na/cn=recipients/cn=jdoe"]
    assert row["is_internal"] is False


# ------------------------------------------------------------------------------------------------ contacts


def test_contacts(ctx: ImportContext) -> None:
    pages = run(CONTACTS_FILE, CONTACTS, ctx, owner="")
    rows = {r["email"]: r for r in rows_of(pages)}
    assert rows["bob@example.com"] == {
        "owner": "",
        "email": "bob@example.com",
        "bucket": "client",
        "cadence_days": 30,
        "source_file": str(CONTACTS_FILE),
    }
    assert rows["carol@partner.org"]["owner"] == "ann@example.com"
    assert (rows["dan@client.com"]["bucket"], rows["dan@client.com"]["cadence_days"]) == ("key_account", None)
    assert sorted(rows) == ["bob@example.com", "carol@partner.org", "dan@client.com"]
    assert rejects_of(pages) == [
        ("5", "bad_cadence"),
        ("6", "missing_field"),
        ("7", "bad_email"),
        ("8", "duplicate_contact"),
        ("9", "bad_cadence"),
    ]
    with_owner = rows_of(run(CONTACTS_FILE, CONTACTS, ctx, owner=OWNER))
    assert {r["owner"] for r in with_owner} == {OWNER}


# ------------------------------------------------------------------------------------------------ privacy


def test_pseudonymisation_drops_names_and_masks_excerpts() -> None:
    ctx = make_context(hmac_key=b"secret")
    pages = run(LOG, MANUAL_LOG, ctx)
    rows = rows_of(pages)
    assert all(r["person_address"].startswith("p~") and r["person_name"] is None for r in rows)
    assert all(r["owner"].startswith("p~") for r in rows)
    text = repr(rows) + repr([r.as_row() for p in pages for r in p.rejects])
    assert "frank@client.com" not in text and "erin@client.com" not in text and "Bob Builder" not in text
    directory = rows_of(run(DIRECTORY_FILE, DIRECTORY, ctx))
    assert all(r["name"] is None and r["email"].startswith("p~") for r in directory)
    assert any(a.endswith("@x500.invalid") for r in directory for a in r["other_emails"])


# ------------------------------------------------------------------------------------------------ paging


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
@pytest.mark.parametrize(("path", "kind"), [(LOG, MANUAL_LOG), (DIRECTORY_FILE, DIRECTORY), (CONTACTS_FILE, CONTACTS)])
def test_pages_and_resume_equal_a_full_run(page_size: int, path: Path, kind: str) -> None:
    full = run(path, kind, make_context())
    ctx = make_context(page_size=page_size)
    pages = run(path, kind, ctx)
    # a page closes once it holds page_size records' output (a kept directory row may add two notes)
    assert all(p.row_count <= page_size and p.row_count + len(p.rejects) <= page_size + 2 for p in pages)
    assert rows_of(pages) == rows_of(full)
    assert rejects_of(pages) == rejects_of(full)
    cursors = [None] + [p.cursor for p in pages]
    for i, cursor in enumerate(cursors[:-1]):
        assert rows_of(run(path, kind, ctx, cursor=cursor)) == rows_of(pages[i:])
    assert rows_of(run(path, kind, ctx, cursor=pages[-1].cursor)) == []


# ------------------------------------------------------------------------------------------------ warehouse


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_commit_twice_is_idempotent(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ctx = make_context(page_size=2)
    files = [
        (LOG, MANUAL_LOG),
        (DIRECTORY_FILE, DIRECTORY),
        (DIRECTORY_EMAILS, DIRECTORY),
        (CONTACTS_FILE, CONTACTS),
    ]
    for _ in range(2):
        for path, kind in files:
            for page in CsvFileSource(path, kind).pages(OWNER, ctx, None):
                commit_page(warehouse, page, source=kind, account=OWNER, stream=str(path))
        assert count(warehouse, "raw.manual_interactions") == 5
        assert count(warehouse, "raw.directory") == 5
        assert count(warehouse, "raw.contacts") == 3
        assert count(warehouse, "ops.quarantine") == 7 + 6 + 5
    # the same log under another name adds nothing; one more coffee adds one
    copy = tmp_path / "copy.csv"
    copy.write_bytes(LOG.read_bytes() + b"2024-03-05,bob@example.com,call,30,Bob Builder\r\n")
    for page in CsvFileSource(copy, MANUAL_LOG).pages(OWNER, ctx, None):
        commit_page(warehouse, page, source=MANUAL_LOG, account=OWNER, stream=str(copy))
    assert count(warehouse, "raw.manual_interactions") == 6
