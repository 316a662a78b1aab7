"""Find importable files under the paths a user names, and say what each one is.

Each file-format module exposes ``claims(path) -> str | None`` (the format it recognises, or None) and a
``FileSource`` for the files it claims; ``discover`` walks folders and asks them in order.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from .base import ImportContext, OwnerGuess, Page, os_reason

NOT_OURS = "not a format tiepulse reads"
EMPTY = "empty file"
NOT_A_FILE = "not a regular file or folder (a FIFO, socket or device)"
NOT_UTF8 = "its path is not UTF-8 text, which the warehouse cannot store: rename it"


class LeftAlone(NamedTuple):
    """A path ``discover`` did not take, and why."""

    path: Path
    reason: str
    unreadable: bool = False
    """It could not be read now (no permission, a dangling link): the import did not do all it was asked."""


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


def _why_left_alone(path: Path) -> LeftAlone | None:
    """Why ``path`` cannot be read now (no permission, a dangling link) or is no file at all (a FIFO), or None."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(path):
                pass
        elif stat.S_ISREG(mode):
            with path.open("rb"):
                pass
        else:
            return LeftAlone(path, NOT_A_FILE)
    except OSError as exc:
        return LeftAlone(path, f"cannot read it: {os_reason(exc)}", unreadable=True)
    return None


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a name (surrogate escapes)
        return False
    return True


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def discover(paths: list[Path]) -> tuple[list[FileSource], list[LeftAlone]]:
    """Importable sources under ``paths`` (folders walked, hidden files skipped), and the paths left alone with why.

    A path that cannot be read, or that looks like one of our formats but is broken (a CSV missing a required
    column), is left alone with the reason, so one bad file or folder never stops the import of the others. An
    .eml folder is its own .eml files: its subfolders are walked like any other folder. A folder is walked once,
    however many links lead to it.
    """
    found: list[FileSource] = []
    left: list[LeftAlone] = []
    walked: set[Path] = set()
    pending = [p.expanduser() for p in paths]
    for path in pending:
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"{path}: no such file or folder")
    while pending:
        path = pending.pop(0)
        try:
            if path.is_dir():
                if path.resolve() in walked:
                    continue
                walked.add(path.resolve())
            if not _utf8(path):
                left.append(LeftAlone(path, NOT_UTF8))
            elif (problem := _why_left_alone(path)) is not None:
                left.append(problem)
            elif (source := _claim(path)) is not None:
                found.append(source)
                if source.format == "eml" and path.is_dir():
                    pending[:0] = [p for p in _visible(path) if p.is_dir()]
            elif path.is_dir():
                pending[:0] = _visible(path)
            else:
                left.append(LeftAlone(path, EMPTY if path.stat().st_size == 0 else NOT_OURS))
        except ValueError as exc:
            left.append(LeftAlone(path, str(exc)))
        except OSError as exc:  # changed since it was found readable
            left.append(LeftAlone(path, f"cannot read it: {os_reason(exc)}", unreadable=True))
    return found, left
