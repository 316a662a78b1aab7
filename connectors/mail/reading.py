"""Enumerate the messages of a mail file or folder as raw header blocks, in a stable order, from a cursor.

A record is ``(position, header block, folder, cursor after it)``:
- mbox / takeout / mbox.gz: position is the byte offset of the message's ``From `` line in the (decompressed)
  stream; the cursor after a message is the offset where the next one starts, so resuming seeks straight
  there.
- maildir: position is ``<folder>/<unique name>`` (``<unique name>`` at the top level; the name without the
  ``:2,flags`` part, so it survives a move from new/ to cur/); records are sorted by position and the cursor
  is the last position read: resuming reads positions after it.
- eml: position is the file name; a folder's direct ``*.eml`` children are read in name order, as for maildir.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from .framing import iter_mbox_blocks, open_mbox, read_header_block

Record = tuple[str, bytes, str | None, str]
MBOX_FORMATS = frozenset({"mbox", "takeout", "mbox.gz"})


def _mbox(path: Path, cursor: str | None, problems: list[str] | None) -> Iterator[Record]:
    start = int(cursor) if cursor and cursor.isdigit() else 0
    with open_mbox(path) as stream:
        for offset, block, end in iter_mbox_blocks(stream, start, problems):
            yield str(offset), block, None, str(end)


def _maildir_entries(path: Path) -> list[tuple[str, mailbox.Maildir, str, str | None]]:
    root = mailbox.Maildir(path, factory=None, create=False)
    boxes: list[tuple[str | None, mailbox.Maildir]] = [(None, root)]
    for name in sorted(root.list_folders()):
        boxes.append((name, root.get_folder(name)))
    entries = []
    for folder, box in boxes:
        for key in box.iterkeys():
            entries.append((f"{folder}/{key}" if folder else key, box, key, folder))
    entries.sort(key=lambda e: e[0])
    return entries


def _maildir(path: Path, cursor: str | None, problems: list[str] | None) -> Iterator[Record]:
    for position, box, key, folder in _maildir_entries(path):
        if cursor is not None and position <= cursor:
            continue
        try:
            with box.get_file(key) as fh:
                block = read_header_block(fh)  # type: ignore[arg-type]
        except OSError as exc:  # vanished or unreadable since listing
            if problems is not None:
                problems.append(f"{position}: {exc}")
            continue
        yield position, block, folder, position


def eml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")


def _eml(path: Path, cursor: str | None, problems: list[str] | None) -> Iterator[Record]:
    for file in eml_files(path):
        if cursor is not None and file.name <= cursor:
            continue
        try:
            with file.open("rb") as fh:
                block = read_header_block(fh)
        except OSError as exc:
            if problems is not None:
                problems.append(f"{file.name}: {exc}")
            continue
        yield file.name, block, None, file.name


def iter_records(
    path: Path, fmt: str, cursor: str | None = None, problems: list[str] | None = None
) -> Iterator[Record]:
    """Records of a claimed path in file order, after ``cursor``; read errors are appended to ``problems``."""
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
