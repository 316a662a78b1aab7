"""Import files into the raw layer: find them, tell whose they are, and commit them page by page.

Each file is a stream in ``ops.sync_state`` whose cursor holds the file's fingerprint (size and mtime) and the
position after the last committed page. A file already complete with the same fingerprint is skipped; a file
whose import was interrupted resumes after its last committed page; a changed file is read again from the
start (rows already present are ignored, so nothing doubles).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tiepulse.connectors.base import ImportContext, OwnerGuess, Page
from tiepulse.connectors.files import FileSource, discover
from tiepulse.connectors.mail import parse_ahead
from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import Settings
from tiepulse.pipelines.loader import LoadResult, PageCommit, commit_pages, read_cursor

ProgressCallback = Callable[[FileSource, int, int | None], None]
"""Called after each page with (source, position reached in bytes or records, total or None)."""


@dataclass(slots=True)
class FileOutcome:
    path: Path
    format: str
    owner: str
    owner_method: str
    status: str
    """imported | resumed | skipped (unchanged) | no_owner"""
    result: LoadResult = field(default_factory=LoadResult)
    owner_share: float = 1.0
    """Share of the sampled records that support the inferred owner (1.0 when given or configured)."""


@dataclass(slots=True)
class ImportReport:
    files: list[FileOutcome] = field(default_factory=list)
    unclaimed: list[tuple[Path, str]] = field(default_factory=list)
    """Files left alone, with the reason."""

    @property
    def total(self) -> LoadResult:
        total = LoadResult()
        for outcome in self.files:
            total.add(outcome.result)
        return total


def _fingerprint(path: Path) -> str:
    if path.is_dir():
        entries = [p.stat() for p in path.rglob("*") if p.is_file()]
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


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    settings: Settings,
    *,
    owner: str | None = None,
    on_page: ProgressCallback | None = None,
) -> ImportReport:
    """Import every recognised file under ``paths``; one bad record never stops the import.

    Pages of small files are gathered into one transaction of about ``page_size`` rows (each commit costs DuckDB
    milliseconds); every page still commits with its own file's cursor.
    """
    ctx = build_import_context(settings)
    sources, unclaimed = discover(paths)
    report = ImportReport(unclaimed=unclaimed)
    pending: list[tuple[PageCommit, FileOutcome]] = []

    def flush() -> None:
        results = commit_pages(con, [item for item, _ in pending])
        for (_, outcome), result in zip(pending, results, strict=True):
            outcome.result.add(result)
        pending.clear()

    with parse_ahead(sources, ctx):  # mail files are parsed in worker processes while earlier ones commit
        for source in sources:
            outcome, commits = _plan_one(source, owner, ctx, settings, con)
            report.files.append(outcome)
            for item, reached, total in commits:
                pending.append((item, outcome))
                if sum(p.page.row_count for p, _ in pending) >= ctx.page_size:
                    flush()
                if on_page is not None and reached is not None:
                    on_page(source, reached, total)
        if pending:
            flush()
    return report


def _plan_one(
    source: FileSource,
    owner: str | None,
    ctx: ImportContext,
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
) -> tuple[FileOutcome, Iterator[tuple[PageCommit, int | None, int | None]]]:
    """The file's outcome record and its pages (as commits) from where the last import of it stopped."""
    guess = _resolve_owner(source, owner, ctx, settings)
    if guess is None:
        return FileOutcome(source.path, source.format, "", "none", "no_owner"), iter(())
    stream = str(source.path.resolve())
    fingerprint = _fingerprint(source.path)
    saved, status = read_cursor(con, source=source.source, account=guess.address, stream=stream)
    state = json.loads(saved) if saved else {}
    if state.get("fingerprint") == fingerprint and status == "complete":
        return FileOutcome(
            source.path, source.format, guess.address, guess.method, "skipped", owner_share=guess.share
        ), iter(())
    position = state.get("position") if state.get("fingerprint") == fingerprint else None
    outcome = FileOutcome(
        source.path,
        source.format,
        guess.address,
        guess.method,
        "resumed" if position else "imported",
        owner_share=guess.share,
    )
    total = source.path.stat().st_size if source.path.is_file() else None

    def commits() -> Iterator[tuple[PageCommit, int | None, int | None]]:
        last = position
        for page in source.pages(guess.address, ctx, position):
            last = page.cursor
            page.cursor = json.dumps({"fingerprint": fingerprint, "position": last})
            reached = int(last) if last and last.isdigit() else None
            yield PageCommit(page, source.source, guess.address, stream), reached, total
        done = Page(cursor=json.dumps({"fingerprint": fingerprint, "position": last}))
        yield PageCommit(done, source.source, guess.address, stream, complete=True), None, None

    return outcome, commits()
