"""Find importable files under the paths a user names, and say what each one is.

Each file-format module exposes ``claims(path) -> str | None`` (the format it recognises, or None) and a
``FileSource`` for the files it claims; ``discover`` walks folders and asks them in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .base import ImportContext, OwnerGuess, Page


class FileSource(Protocol):
    """One importable unit (a file, or a folder for maildir / .eml folders)."""

    path: Path
    format: str
    """mbox | takeout | mbox.gz | maildir | eml | ics | manual_log_csv | directory_csv | contacts_csv"""
    source: str
    """Value of the ``source`` column in raw rows and quarantine."""

    def infer_owner(self, ctx: ImportContext) -> OwnerGuess | None:
        """Whose data this is, when the user did not say; None when it cannot be told (or does not apply)."""
        ...

    def pages(self, owner: str, ctx: ImportContext, cursor: str | None) -> Iterator[Page]:
        """Pages of raw rows in file order, resuming after ``cursor`` (a value an earlier page returned)."""
        ...


def _claim(path: Path) -> FileSource | None:
    # Imported here so each format module stays independent of the others.
    from . import calendar_ics, csv_files, mail

    if (fmt := mail.claims(path)) is not None:
        return mail.MailFileSource(path, fmt)
    if path.is_file() and (fmt := calendar_ics.claims(path)) is not None:
        return calendar_ics.IcsFileSource(path)
    if path.is_file() and (kind := csv_files.claims(path)) is not None:
        return csv_files.CsvFileSource(path, kind)
    return None


def discover(paths: list[Path]) -> tuple[list[FileSource], list[tuple[Path, str]]]:
    """Importable sources under ``paths`` (folders walked, hidden files skipped), and the files left alone with why.

    A file that looks like one of our formats but is broken (a CSV missing a required column) is left alone with
    the reason, so one bad file never stops the import of the others.
    """
    found: list[FileSource] = []
    unclaimed: list[tuple[Path, str]] = []
    pending = [p.expanduser() for p in paths]
    for path in pending:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    while pending:
        path = pending.pop(0)
        try:
            source = _claim(path)
        except ValueError as exc:
            unclaimed.append((path, str(exc)))
            continue
        if source is not None:
            found.append(source)
        elif path.is_dir():
            pending[:0] = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        else:
            unclaimed.append((path, "not a format tiepulse reads"))
    return found, unclaimed
