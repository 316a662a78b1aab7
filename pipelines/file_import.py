"""Import files into the raw layer: find them, tell whose they are, and commit them page by page.

Each file is a stream in ``ops.sync_state`` whose cursor holds the file's fingerprint (size and mtime) and the
position after the last committed page. A file already complete with the same fingerprint is skipped; a file
whose import was interrupted resumes after its last committed page; a changed file is read again from the
start (rows already present are ignored, so nothing doubles).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from connectors.base import ImportContext, OwnerGuess, Page, Plausibility
from connectors.files import FileSource, discover
from pipelines.loader import LoadResult, commit_page, read_cursor
from tiepulse.settings import Settings

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


@dataclass(slots=True)
class ImportReport:
    files: list[FileOutcome] = field(default_factory=list)
    unclaimed: list[Path] = field(default_factory=list)

    @property
    def total(self) -> LoadResult:
        total = LoadResult()
        for outcome in self.files:
            total.add(outcome.result)
        return total


def subject_key(settings: Settings) -> bytes | None:
    """The HMAC key for subjects and titles: the pseudonym key, else a random key kept (0600) in TIEPULSE_HOME."""
    if not settings.config.privacy.keep_subject_hash:
        return None
    if settings.hmac_key is not None:
        return settings.hmac_key
    path = settings.home / "subject_hmac.key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def build_import_context(settings: Settings) -> ImportContext:
    options = settings.config.imports
    as_of = dt.datetime.combine(settings.as_of, dt.time(), tzinfo=dt.UTC)
    earliest = dt.datetime.combine(options.earliest_plausible_date, dt.time(), tzinfo=dt.UTC)
    window_end = as_of + dt.timedelta(days=options.calendar_window_days_ahead)
    latest = max(as_of + dt.timedelta(days=options.future_tolerance_days), window_end)
    return ImportContext(
        plausibility=Plausibility(earliest, latest),
        calendar_window=(as_of - dt.timedelta(days=options.calendar_window_days_back), window_end),
        fold_gmail=settings.config.identity.fold_gmail,
        hmac_key=settings.hmac_key,
        subject_key=subject_key(settings),
        workers=options.workers or os.cpu_count() or 1,
    )


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
    if source.format in ("directory_csv", "contacts_csv"):
        return OwnerGuess("", "not_needed")
    return None


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    settings: Settings,
    *,
    owner: str | None = None,
    on_page: ProgressCallback | None = None,
) -> ImportReport:
    """Import every recognised file under ``paths``; one bad record never stops the import."""
    ctx = build_import_context(settings)
    sources, unclaimed = discover(paths)
    report = ImportReport(unclaimed=unclaimed)
    for source in sources:
        report.files.append(_import_one(con, source, owner, ctx, settings, on_page))
    return report


def _import_one(
    con: duckdb.DuckDBPyConnection,
    source: FileSource,
    owner: str | None,
    ctx: ImportContext,
    settings: Settings,
    on_page: ProgressCallback | None,
) -> FileOutcome:
    guess = _resolve_owner(source, owner, ctx, settings)
    if guess is None:
        return FileOutcome(source.path, source.format, "", "none", "no_owner")
    stream = str(source.path.resolve())
    fingerprint = _fingerprint(source.path)
    saved, status = read_cursor(con, source=source.source, account=guess.address, stream=stream)
    state = json.loads(saved) if saved else {}
    if state.get("fingerprint") == fingerprint and status == "complete":
        return FileOutcome(source.path, source.format, guess.address, guess.method, "skipped")
    position = state.get("position") if state.get("fingerprint") == fingerprint else None
    outcome = FileOutcome(
        source.path, source.format, guess.address, guess.method, "resumed" if position else "imported"
    )
    total = source.path.stat().st_size if source.path.is_file() else None

    def cursor(pos: str | None) -> str:
        return json.dumps({"fingerprint": fingerprint, "position": pos})

    for page in source.pages(guess.address, ctx, position):
        position = page.cursor
        page.cursor = cursor(position)
        outcome.result.add(commit_page(con, page, source=source.source, account=guess.address, stream=stream))
        if on_page is not None:
            reached = int(position) if position and position.isdigit() else outcome.result.pages
            on_page(source, reached, total)
    commit_page(
        con,
        Page(cursor=cursor(position)),
        source=source.source,
        account=guess.address,
        stream=stream,
        complete=True,
    )
    return outcome
