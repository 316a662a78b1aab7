"""Calendars read ahead in the import's workers give what the importing process would read itself."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import home_with_workers, make_context
from tiepulse.connectors.base import ImportContext, OwnerGuess, Page
from tiepulse.connectors.calendar_ahead import CalendarAhead, calendars_ahead
from tiepulse.connectors.calendar_ics import IcsFileSource
from tiepulse.connectors.mail import parse_ahead
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.file_import import import_paths

DATA = Path(__file__).parent / "data" / "ics"
TABLE = "raw.calendar_events"

NO_PARTICIPANTS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:test\r
BEGIN:VEVENT\r
UID:focus-time\r
DTSTART:20240105T090000Z\r
DTEND:20240105T110000Z\r
SUMMARY:Focus\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _folder(tmp_path: Path) -> Path:
    """Calendars of three owners, one told by its name and one by its events, a garbled file and one with no
    participants (no owner)."""
    folder = tmp_path / "calendars"
    folder.mkdir()
    for name in ("garbled", "mixed", "weekly_one_on_one"):
        shutil.copy(DATA / f"{name}.ics", folder / f"{name}.ics")
    weekly = (DATA / "weekly_one_on_one.ics").read_text(encoding="utf-8")
    zoe = weekly.replace("ann@example.com", "zoe@example.com").replace("UID:", "UID:zoe-")
    (folder / "zoe.ics").write_text(zoe, encoding="utf-8")
    (folder / "focus.ics").write_text(NO_PARTICIPANTS, encoding="utf-8")
    return folder


def _rows(pages: list[Page]) -> list[tuple[str | None, list[dict[str, Any]], list[str]]]:
    return [(p.cursor, p.rows[TABLE].to_pylist(), [r.key for r in p.rejects]) for p in pages]


@contextmanager
def _ahead(sources: list[IcsFileSource], ctx: ImportContext, given: str | None) -> Iterator[CalendarAhead]:
    with parse_ahead(sources, ctx) as mail, calendars_ahead(sources, ctx, mail.pool if mail else None, given) as ahead:
        assert ahead is not None
        yield ahead


def _in_import_order(
    sources: list[IcsFileSource], ctx: ImportContext
) -> tuple[list[OwnerGuess | None], list[list[Page]]]:
    """Each file's owner, then its pages for that owner, file after file (as ``import_paths`` asks)."""
    guesses, pages = [], []
    for source in sources:
        guess = source.infer_owner(ctx)
        guesses.append(guess)
        pages.append(list(source.pages(guess.address if guess else "", ctx, None)))
    return guesses, pages


def test_owners_and_pages_read_ahead_equal_those_read_here(tmp_path: Path) -> None:
    paths = sorted(_folder(tmp_path).glob("*.ics"))
    ctx = make_context(workers=2, page_size=3)
    sources = [IcsFileSource(path) for path in paths]
    with _ahead(sources, ctx, None) as ahead:
        guesses, pages = _in_import_order(sources, ctx)
        assert ahead.taken == len(sources)
    assert all(source.ahead is None for source in sources)
    alone = [IcsFileSource(path) for path in paths]
    here = [source.infer_owner(make_context(page_size=3)) for source in alone]
    assert guesses == here
    assert {g.address for g in here if g} == {"ann@example.com", "zoe@example.com"} and here.count(None) == 2
    for source, guess, ahead_pages in zip(alone, here, pages, strict=True):
        expected = list(source.pages(guess.address if guess else "", make_context(page_size=3), None))
        assert _rows(ahead_pages) == _rows(expected)
        assert sum(p.row_count for p in expected) > 0 or any(p.rejects for p in expected) or "focus" in str(source)


def test_a_given_owner_is_read_ahead_and_another_owner_or_a_resume_is_read_here(tmp_path: Path) -> None:
    path = _folder(tmp_path) / "mixed.ics"
    ctx = make_context(workers=2, page_size=2)
    sources = [IcsFileSource(path)]
    with _ahead(sources, ctx, "x@y.org") as ahead:
        given = list(sources[0].pages("x@y.org", ctx, None))
        assert ahead.taken == 1
        other = list(sources[0].pages("ann@example.com", ctx, None))
        resumed = list(sources[0].pages("x@y.org", ctx, given[0].cursor))
        assert ahead.taken == 1
    alone = IcsFileSource(path)
    here = make_context(page_size=2)
    assert {row["calendar_owner"] for _, rows, _ in _rows(given) for row in rows} == {"x@y.org"}
    assert _rows(given) == _rows(list(alone.pages("x@y.org", here, None)))
    assert _rows(other) == _rows(list(alone.pages("ann@example.com", here, None)))
    assert _rows(resumed) == _rows(list(alone.pages("x@y.org", here, given[0].cursor)))
    assert len(resumed) == len(given) - 1


def test_an_import_with_calendars_read_ahead_equals_one_without(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    tables = {}
    for workers in (1, 2):
        settings = home_with_workers(tmp_path, workers, dt.date(2024, 6, 1))  # the files are of 2024
        con = connect(settings.warehouse_path)
        report = import_paths(con, [folder], settings)
        outcomes = [(f.path.name, f.owner, f.owner_method, f.owner_share, f.status) for f in report.files]
        again = [f.status for f in import_paths(con, [folder], settings).files]
        owners = con.execute(f"select calendar_owner, count(*) from {TABLE} group by all order by all").fetchall()
        tables[workers] = [
            outcomes,
            again,
            owners,
            *(
                con.execute(f"select * exclude ({stamp}) from {table} order by all").fetchall()
                for table, stamp in (
                    (TABLE, "imported_at"),
                    ("ops.quarantine", "quarantined_at"),
                    ("ops.sync_state", "updated_at"),
                )
            ),
        ]
        con.close()
    assert tables[1] == tables[2]
    outcomes, again, owners, _, rejects, _ = tables[2]
    assert [status for *_, status in outcomes] == ["no_owner", "quarantined", "imported", "imported", "imported"]
    assert again == ["no_owner", "skipped", "skipped", "skipped", "skipped"]  # read again until it has an owner
    assert {row[0] for row in owners} == {"ann@example.com", "zoe@example.com"} and rejects


def test_calendars_are_read_here_once_the_workers_die(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    for i in range(4):  # more files than are in flight when the workers die: those are sent to a broken pool
        shutil.copy(DATA / "mixed.ics", folder / f"then{i}.ics")
    paths = sorted(folder.glob("*.ics"))
    ctx = make_context(workers=2, page_size=3)
    sources = [IcsFileSource(path) for path in paths]
    with _ahead(sources, ctx, None) as ahead:
        first = sources[0].infer_owner(ctx)
        executor = ahead.pool._pool
        assert executor is not None
        for process in list(executor._processes.values()):  # a worker killed (the OOM killer, a crash)
            os.kill(process.pid, signal.SIGKILL)
            process.join()
        pages = [list(sources[0].pages(first.address if first else "", ctx, None))]
        guesses, more = _in_import_order(sources[1:], ctx)
        guesses, pages = [first, *guesses], pages + more
        assert 1 <= ahead.taken <= 1 + 2 * ctx.workers < len(sources)
    here = make_context(page_size=3)
    alone = [IcsFileSource(path) for path in paths]
    assert guesses == [source.infer_owner(here) for source in alone]
    for source, guess, ahead_pages in zip(alone, guesses, pages, strict=True):
        assert _rows(ahead_pages) == _rows(list(source.pages(guess.address if guess else "", here, None)))
