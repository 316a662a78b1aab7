"""Enumerate the messages of a mail file or folder as raw header blocks, in a stable order, from a cursor.

A record is ``(position, header block, folder, cursor after it)``:
- mbox / takeout / mbox.gz: position is the byte offset of the message's ``From `` line in the (decompressed)
  stream; the cursor after a message is the offset where the next one starts, so resuming seeks straight
  there.
- maildir: position is ``<folder>/<unique name>`` (``<unique name>`` at the top level; the name without the
  ``:2,flags`` part, so it survives a move from new/ to cur/); records are sorted by position and the cursor
  is the last position read: resuming reads positions after it. ``cur/`` or ``new/`` may be missing (git drops
  empty folders); Maildir++ folders are the ``.Name`` subfolders, as ``mailbox.Maildir`` lists them.
- eml: position is the file name; a folder's direct ``*.eml`` children are read in name order, as for maildir.

What cannot be read goes to a ``ReadProblems``: an mbox stream that breaks off (reading stops there), and files or
folders of a maildir or .eml folder that cannot be opened (the others are read).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..base import Unreadable, os_reason
from .framing import iter_mbox_blocks, open_mbox, read_header_block

Record = tuple[str, bytes, str | None, str]
MBOX_FORMATS = frozenset({"mbox", "takeout", "mbox.gz"})
MAILDIR_PARTS = ("cur", "new", "tmp")


@dataclass(slots=True)
class ReadProblems:
    broken: list[str] = field(default_factory=list)
    """Why an mbox stream broke off (a truncated or corrupt gzip); the messages before the break were read."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Message files and folders that could not be opened (no permission, a dangling link)."""


def is_message_file(path: Path) -> bool:
    """A regular file, or a link that should lead to one (a dangling link is reported when it is read)."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def _mbox(path: Path, cursor: str | None, problems: ReadProblems | None) -> Iterator[Record]:
    start = int(cursor) if cursor and cursor.isdigit() else 0
    with open_mbox(path) as stream:
        for offset, block, end in iter_mbox_blocks(stream, start, problems.broken if problems else None):
            yield str(offset), block, None, str(end)


def _header(file: Path, position: str, problems: ReadProblems | None) -> bytes | None:
    try:
        with file.open("rb") as fh:
            return read_header_block(fh)
    except OSError as exc:  # no permission, a dangling link, vanished since listing
        if problems is not None:
            problems.unreadable.append(Unreadable(position, os_reason(exc)))
        return None


def _listing(folder: Path, position: str, problems: ReadProblems | None) -> list[os.DirEntry[str]]:
    """The entries of a folder; none when it is missing, none and a problem when it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if problems is not None:
            problems.unreadable.append(Unreadable(position, os_reason(exc)))
        return []


def _maildir_entries(path: Path, problems: ReadProblems | None) -> list[tuple[str, tuple[Path, str | None]]]:
    """``(position, (file, folder))`` of every message, sorted by position."""
    boxes: list[tuple[str | None, Path]] = [(None, path)]
    folders = (e for e in _listing(path, ".", problems) if len(e.name) > 1 and e.name[0] == "." and e.is_dir())
    boxes += sorted((e.name[1:], Path(e.path)) for e in folders)
    found: dict[str, tuple[Path, str | None]] = {}
    for folder, box in boxes:
        for part in ("new", "cur"):  # a message in both (moved while listing) is taken from cur/
            for entry in _listing(box / part, f"{folder}/{part}" if folder else part, problems):
                if not entry.is_dir():
                    unique = entry.name.split(":")[0]
                    found[f"{folder}/{unique}" if folder else unique] = (Path(entry.path), folder)
    return sorted(found.items())


def _maildir(path: Path, cursor: str | None, problems: ReadProblems | None) -> Iterator[Record]:
    for position, (file, folder) in _maildir_entries(path, problems):
        if cursor is not None and position <= cursor:
            continue
        block = _header(file, position, problems)
        if block is not None:
            yield position, block, folder, position


def eml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and is_message_file(p))


def _eml(path: Path, cursor: str | None, problems: ReadProblems | None) -> Iterator[Record]:
    for file in eml_files(path):
        if cursor is not None and file.name <= cursor:
            continue
        block = _header(file, file.name, problems)
        if block is not None:
            yield file.name, block, None, file.name


def iter_records(
    path: Path, fmt: str, cursor: str | None = None, problems: ReadProblems | None = None
) -> Iterator[Record]:
    """Records of a claimed path in file order, after ``cursor``; what cannot be read goes to ``problems``."""
    if fmt in MBOX_FORMATS:
        return _mbox(path, cursor, problems)
    if fmt == "maildir":
        return _maildir(path, cursor, problems)
    if fmt == "eml":
        return _eml(path, cursor, problems)
    raise ValueError(f"not a mail format: {fmt!r}")


def iter_header_blocks(path: Path, fmt: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(position, raw header block) of every message: the plumbing shared by the importer and benchmarks.

    ``fmt`` defaults to what ``claims`` says (an unclaimed path is read as an mbox).
    """
    if fmt is None:
        from .sniff import claims

        fmt = claims(path) or "mbox"
    for position, block, _, _ in iter_records(path, fmt):
        yield position, block
