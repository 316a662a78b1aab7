"""Message framing: find where each message starts and cut its header block, on raw bytes, without parsing.

This is the only code that touches the file contents of an mbox; it never decodes anything. ``bare_split``
runs it alone and is the benchmark floor ("split messages, split header from body") on exactly the bytes the
importer reads.

mbox boundaries follow the stdlib ``mailbox.mbox``: a message starts at every line beginning with ``From ``
(bodies written by mboxrd/mboxo writers escape such lines as ``>From ``). Bytes before the first ``From ``
line are skipped. The header block is everything after the ``From `` line up to the first empty line (LF or
CRLF), or up to the end of the message when there is no empty line (a truncated file).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 4 * 1024 * 1024
"""Read size; a message longer than this (a big attachment) grows the buffer until its end is seen."""

HEADER_SNIFF_BYTES = 64 * 1024
"""How much of a single file (.eml, maildir entry) is read at first to find its header block."""

_BOUNDARY = b"\nFrom "
_HEADER_END = re.compile(rb"\n\r?\n")

MboxBlock = tuple[int, bytes, int]
"""(offset of the message's ``From `` line, header block bytes, offset where the next message starts)."""


def open_mbox(path: Path) -> BinaryIO:
    """The decompressed byte stream of an mbox (gzip when the file starts with the gzip magic)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _header_of(buf: bytes, start: int, end: int) -> bytes:
    """Header block of the message buf[start:end] whose first line is the ``From `` separator."""
    nl = buf.find(b"\n", start, end)
    if nl < 0:
        return b""
    found = _HEADER_END.search(buf, nl, end)
    return buf[nl + 1 : found.start() + 1 if found else end]


def _read(stream: BinaryIO, problems: list[str] | None) -> bytes:
    """The next chunk; b"" at the end, or when the stream breaks (a truncated or corrupt gzip): see problems.

    ``read1`` returns what one underlying read produced, so a gzip stream cut short loses at most the part of
    the last member that could not be decompressed.
    """
    try:
        return stream.read1(CHUNK_BYTES)  # type: ignore[attr-defined]
    except (EOFError, OSError, zlib.error) as exc:
        if problems is not None:
            problems.append(f"{type(exc).__name__}: {exc}")
        return b""


def iter_mbox_blocks(stream: BinaryIO, start: int = 0, problems: list[str] | None = None) -> Iterator[MboxBlock]:
    """Every message of an mbox stream from byte ``start`` (a message start, or 0): offset, header, end.

    A stream that breaks off (truncated gzip) ends the iteration after the last complete bytes, with the error
    appended to ``problems``; a cursor that does not point at a message start resumes at the next one.
    """
    if start:
        try:
            stream.seek(start)
        except (EOFError, OSError, zlib.error) as exc:
            if problems is not None:
                problems.append(f"{type(exc).__name__}: {exc}")
            return
    buf = _read(stream, problems)
    base = start  # stream offset of buf[0]
    eof = not buf
    # Skip anything before the first separator line (a preamble, or a cursor that is not at a message start).
    first = 0 if buf.startswith(b"From ") else -1
    while first < 0:
        hit = buf.find(_BOUNDARY)
        if hit >= 0:
            first = hit + 1
            break
        if eof:
            return
        keep = buf[-(len(_BOUNDARY) - 1) :]
        base += len(buf) - len(keep)
        chunk = _read(stream, problems)
        eof = not chunk
        buf = keep + chunk
    pos = first
    scan = pos
    while True:
        hit = buf.find(_BOUNDARY, scan)
        if hit < 0 and not eof:
            chunk = _read(stream, problems)
            if chunk:
                scan = max(len(buf) - len(_BOUNDARY), pos) - pos
                buf = buf[pos:] + chunk
                base += pos
                pos = 0
                continue
            eof = True
        end = hit + 1 if hit >= 0 else len(buf)
        if end > pos:
            yield base + pos, _header_of(buf, pos, end), base + end
        if hit < 0:
            return
        pos = end
        scan = pos


def read_header_block(fh: BinaryIO) -> bytes:
    """The header block of a single-message file (.eml, maildir entry): bytes up to the first empty line."""
    buf = fh.read(HEADER_SNIFF_BYTES)
    while True:
        if buf.startswith((b"\n", b"\r\n")):
            return b""  # an empty first line: no headers at all
        found = _HEADER_END.search(buf)
        if found:
            return buf[: found.start() + 1]
        chunk = fh.read(HEADER_SNIFF_BYTES)
        if not chunk:
            return buf
        buf += chunk


def bare_split(path: Path) -> int:
    """Benchmark floor: count an mbox's messages (plain or gzip) by framing alone; no header is parsed."""
    with open_mbox(path) as stream:
        return sum(1 for _ in iter_mbox_blocks(stream))
