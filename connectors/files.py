"""Find importable files under the paths a user names, and say what each one is.

Each file-format module exposes ``claims(path) -> str | None`` (the format it recognises, or None) and a
``FileSource`` for the files it claims; ``discover`` walks folders and asks them in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from connectors.base import ImportContext, OwnerGuess, Page


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
