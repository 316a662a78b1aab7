"""A mail import killed mid-way (SIGKILL) and re-run ends with exactly the rows and rejects of a clean run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_context  # noqa: F401  (the script imports it too; fail here first if broken)
from tests.stepping import GO_AHEAD, kill_after, stdin_for

ROOT = Path(__file__).resolve().parents[2]
TRICKY = Path(__file__).parent / "data" / "mail" / "tricky.mbox"

# Imports one mbox page by page, resuming from the committed cursor; after each commit it waits for the test's
# go-ahead (tests/stepping.py), so the test can kill it after an exact number of pages.
SCRIPT = f"""
import sys
from pathlib import Path
from tiepulse.connectors.base import Page
from tiepulse.connectors.mail import MailFileSource
from tiepulse.pipelines.loader import commit_page, read_cursor
from tiepulse.core.warehouse import connect
from tests.conftest import make_context

path, db = Path(sys.argv[1]), Path(sys.argv[2])
con = connect(db)
src = MailFileSource(path, "mbox")
owner = "me@example.com"
keys = dict(source=src.source, account=owner, stream=str(path))
cursor, status = read_cursor(con, **keys)
if status != "complete":
    for page in src.pages(owner, make_context(page_size=50), cursor):
        commit_page(con, page, **keys)
        cursor = page.cursor
        print("committed", cursor, flush=True)
        {GO_AHEAD}
    commit_page(con, Page(cursor=cursor), complete=True, **keys)
print("done", flush=True)
con.close()
"""


def run(mbox: Path, db: Path, *, stepped: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(mbox), str(db)],
        cwd=ROOT,
        stdin=stdin_for(stepped),
        stdout=subprocess.PIPE,
        text=True,
    )


def counts(db: Path) -> tuple[int, int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select count(*), count(distinct message_key) from raw.mail_messages").fetchone()
        rejects = con.execute("select count(*) from ops.quarantine").fetchone()
    finally:
        con.close()
    assert rows is not None and rejects is not None
    return int(rows[0]), int(rows[1]), int(rejects[0])


@pytest.mark.slow
def test_killed_import_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    body = "".join(
        f"From x Mon Jan  6 10:00:00 2020\nMessage-ID: <c{n}@example.com>\n"
        "Date: Mon, 6 Jan 2020 10:00:00 +0000\n"
        f"From: me@example.com\nTo: p{n % 17}@example.com\nSubject: s\n\nbody\n\n"
        for n in range(400)
    )
    mbox.write_text(body + TRICKY.read_text() + "\n" + body.replace("<c", "<d"))

    clean = tmp_path / "clean.duckdb"
    done = run(mbox, clean)
    assert done.wait(timeout=120) == 0
    expected = counts(clean)
    assert expected == (806, 806, 7)

    crashed = tmp_path / "crashed.duckdb"
    lines = kill_after(run(mbox, crashed, stepped=True), 3)
    assert all(line.startswith("committed") for line in lines), lines
    partial = counts(crashed)
    assert 0 < partial[0] < expected[0]

    again = run(mbox, crashed)
    assert again.wait(timeout=120) == 0
    assert counts(crashed) == expected
