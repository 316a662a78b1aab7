"""Import files into the raw layer: find them, tell whose they are, and commit them page by page.

Each file is a stream in ``ops.sync_state`` whose cursor holds the file's fingerprint (size and mtime) and the
position after the last committed page. A file already complete with the same fingerprint is skipped; a file
whose import was interrupted resumes after its last committed page; a changed file is read again from the
start (rows already present are ignored, so nothing doubles). A file of which a part could not be read (a
message file or folder without read permission) is never complete: the next import reads it again from the start.

A mail file or calendar whose owner cannot be told because none of its records is usable (all bad, or none at
all) still has its rejects quarantined, under the stream of owner ``''``; a file with usable records and no owner
is left for ``--owner``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import duckdb

from tiepulse.connectors.base import ImportContext, OwnerGuess, Page, Unreadable, os_reason
from tiepulse.connectors.calendar_ahead import calendars_ahead
from tiepulse.connectors.calendar_ics import FORMAT as ICS_FORMAT
from tiepulse.connectors.files import FileSource, LeftAlone, discover
from tiepulse.connectors.mail import FORMATS as MAIL_FORMATS
from tiepulse.connectors.mail import parse_ahead
from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import session
from tiepulse.pipelines.loader import LoadResult, PageCommit, bulk_load, commit_pages, read_cursor
from tiepulse.pipelines.pseudonymise import Pseudonymiser

ProgressCallback = Callable[[FileSource, int, int | None], None]
"""Called after each page with (source, position reached in bytes or records, total or None)."""

TRANSACTION_ROWS = 50_000
"""Pages are gathered into one transaction until they hold about this many rows: each commit costs DuckDB a WAL sync
(and a checkpoint when the WAL has grown), so 5,000-row commits made the load most of a big import's time."""

_OWNER_FROM_RECORDS = frozenset({*MAIL_FORMATS, ICS_FORMAT})
"""Formats whose owner is told from their records (a CSV's comes from --owner, its rows or the config)."""


@dataclass(slots=True)
class FileOutcome:
    path: Path
    format: str
    owner: str
    owner_method: str
    status: str
    """imported | resumed | skipped (unchanged) | no_owner (usable records, no owner: pass --owner) |
    quarantined (no owner because every record was bad: all quarantined) | empty (no records at all)"""
    result: LoadResult = field(default_factory=LoadResult)
    owner_share: float = 1.0
    """Share of the sampled records that support the inferred owner (1.0 when given or configured)."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Parts that could not be read (message files or folders; ``file`` for the file itself): read again next time."""


@dataclass(slots=True)
class ImportReport:
    files: list[FileOutcome] = field(default_factory=list)
    unclaimed: list[LeftAlone] = field(default_factory=list)
    """Paths left alone, with the reason."""

    @property
    def unreadable(self) -> list[tuple[str, str]]:
        """What could not be read, per file or part, with the reason: the import did not do all it was asked."""
        found = [(str(left.path), left.reason) for left in self.unclaimed if left.unreadable]
        for outcome in self.files:
            for part in outcome.unreadable:
                where = str(outcome.path) if part.position == "file" else f"{outcome.path} ({part.position})"
                found.append((where, f"cannot read it: {part.reason}"))
        return found

    @property
    def total(self) -> LoadResult:
        total = LoadResult()
        for outcome in self.files:
            total.add(outcome.result)
        return total


def _fingerprint(source: FileSource) -> str:
    path = source.path
    if path.is_dir():  # a maildir with its folders; an .eml folder is its own files (its subfolders are not in it)
        files = path.rglob("*") if source.format == "maildir" else path.iterdir()
        entries = [p.stat() for p in files if p.is_file()]
        return (
            f"dir:{len(entries)}:{sum(s.st_size for s in entries)}:{max((s.st_mtime_ns for s in entries), default=0)}"
        )
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _resolve_owner(source: FileSource, owner: str | None, ctx: ImportContext, settings: Settings) -> OwnerGuess | None:
    normaliser = ctx.normaliser()
    if owner:
        address = normaliser.normalise(owner)
        if address is None:
            raise ValueError(f"--owner {owner!r} is not a valid email address")
        return OwnerGuess(address, "given")
    guess = source.infer_owner(ctx)
    if guess is not None:
        return guess
    egos = settings.config.egos
    if len(egos) == 1 and (address := normaliser.normalise(egos[0].email)):
        return OwnerGuess(address, "config")
    # A directory or contacts file belongs to no one; a log with an owner column names its owner per row.
    if source.format in ("directory_csv", "contacts_csv") or getattr(source, "has_owner_column", False):
        return OwnerGuess("", "per_row" if source.format == "manual_log_csv" else "not_needed")
    return None


class _CommitBehind:
    """Commits gathered pages on a thread of its own, one transaction at a time and in order, while the importing
    thread frames the next pages and the workers parse them (DuckDB works without Python's lock): committing in
    line left the workers idle for a third of a big import. At most one transaction is in flight, so memory stays
    bounded, and a failed one is raised at the next ``submit`` or at the end, before anything after it commits."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-commit")
        self._last: Future[None] | None = None

    def submit(self, pending: list[tuple[PageCommit, FileOutcome]]) -> None:
        self.wait()
        self._last = self._thread.submit(self._commit, pending)

    def _commit(self, pending: list[tuple[PageCommit, FileOutcome]]) -> None:
        results = commit_pages(self._con, [item for item, _ in pending])
        for (_, outcome), result in zip(pending, results, strict=True):
            outcome.result.add(result)

    def wait(self) -> None:
        """Until the transaction in flight has committed (or raised)."""
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def __enter__(self) -> _CommitBehind:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._last is not None:  # the import failed: let the transaction in flight end, keep its error
                self._last.exception()
        finally:
            self._thread.shutdown(wait=True)


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    settings: Settings,
    *,
    owner: str | None = None,
    on_page: ProgressCallback | None = None,
) -> ImportReport:
    """Import every recognised file under ``paths``; one bad record never stops the import.

    Pages are gathered into one transaction of about ``TRANSACTION_ROWS`` rows (pages of one big file, or of many
    small ones); every page still commits with its own file's cursor, so a killed import resumes after the last
    transaction that committed. Transactions commit on a thread of their own (``_CommitBehind``) on ``con``; this
    thread reads cursors on a session of its own, which sees a file's cursor as the last import left it (a file's
    pages are its own stream, so none of them is still in flight when it is read).
    """
    ctx = build_import_context(settings)
    sources, unclaimed = discover(paths)
    report = ImportReport(unclaimed=unclaimed)
    pending: list[tuple[PageCommit, FileOutcome]] = []
    pending_rows = 0

    # Mail and calendar files are parsed in worker processes while earlier ones commit.
    given = ctx.normaliser().normalise(owner) if owner else None
    with (
        closing(session(con)) as reader,
        bulk_load(con),
        parse_ahead(sources, ctx) as ahead,
        calendars_ahead(sources, ctx, ahead.pool if ahead else None, given),
        _CommitBehind(con) as committer,
    ):
        pseudonymiser = Pseudonymiser(reader, settings.hmac_key) if settings.hmac_key else None
        for source in sources:
            outcome = FileOutcome(source.path, source.format, "", "none", "imported")
            report.files.append(outcome)
            try:
                for item, reached, total in _plan_one(source, outcome, owner, ctx, settings, reader, pseudonymiser):
                    pending.append((item, outcome))
                    pending_rows += item.page.row_count
                    if pending_rows >= TRANSACTION_ROWS:
                        committer.submit(pending)
                        pending, pending_rows = [], 0
                    if on_page is not None and reached is not None:
                        on_page(source, reached, total)
            except OSError as exc:  # the file changed or went away since it was found: the pages read are kept
                outcome.unreadable.append(Unreadable("file", os_reason(exc)))
        if pending:
            committer.submit(pending)
    return report


def _plan_one(
    source: FileSource,
    outcome: FileOutcome,
    owner: str | None,
    ctx: ImportContext,
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    pseudonymiser: Pseudonymiser | None,
) -> Iterator[tuple[PageCommit, int | None, int | None]]:
    """The file's pages (as commits) from where the last import of it stopped; ``outcome`` is filled as they go.
    Pseudonymised, the file's stream is a keyed hash of its path and the pages' identifying values are hashed."""
    guess = _resolve_owner(source, owner, ctx, settings)
    if guess is None and source.format not in _OWNER_FROM_RECORDS:
        outcome.status = "no_owner"
        return
    if guess is not None:
        outcome.owner, outcome.owner_method, outcome.owner_share = guess.address, guess.method, guess.share
    stream = str(source.path.resolve())
    if pseudonymiser is not None:
        stream = pseudonymiser.token(stream)
    fingerprint = _fingerprint(source)
    saved, status = read_cursor(con, source=source.source, account=outcome.owner, stream=stream)
    state = json.loads(saved) if saved else {}
    if state.get("fingerprint") == fingerprint and status == "complete":
        outcome.status = "skipped"
        return
    position = state.get("position") if state.get("fingerprint") == fingerprint else None
    outcome.status = "resumed" if position else "imported"
    total = source.path.stat().st_size if source.path.is_file() else None

    def resumable(position: str | None) -> str | None:
        # Pseudonymised, a position that is a file name is not stored: an interrupted folder restarts (idempotently).
        return position if pseudonymiser is None or position is None or position.isdigit() else None

    usable = rejected = 0
    last = position
    for page in source.pages(outcome.owner, ctx, position):
        outcome.unreadable.extend(page.unreadable)
        rejected += len(page.rejects)
        if guess is None:  # no owner to file the rows under: only the rejects are kept
            usable += page.row_count
            page.rows = {}
        last = page.cursor
        reached = int(last) if last and last.isdigit() else None
        # A file read without an owner, or with a part unreadable, is read again from the start next time.
        page.cursor = _cursor(fingerprint, None if guess is None or outcome.unreadable else resumable(last))
        if pseudonymiser is not None:
            pseudonymiser.page(con, page)
        yield PageCommit(page, source.source, outcome.owner, stream), reached, total
    if guess is None:
        outcome.status = "no_owner" if usable else "quarantined" if rejected else "empty"
    done = Page(cursor=_cursor(fingerprint, None if guess is None or outcome.unreadable else resumable(last)))
    complete = not outcome.unreadable and not usable
    yield PageCommit(done, source.source, outcome.owner, stream, complete=complete), None, None


def _cursor(fingerprint: str, position: str | None) -> str:
    """A file's cursor: its fingerprint and the position after the last committed page (None: from the start)."""
    return json.dumps({"fingerprint": fingerprint, "position": position})
