"""Say whether a path is mail this package imports, and in which format, from its contents.

- ``maildir``: a folder with ``cur/`` (``new/`` and ``tmp/`` may be missing: git drops empty folders), or one
  whose only visible entries are ``new/`` and ``tmp/`` folders.
- ``eml``: a ``.eml`` file, a file that starts with an RFC 822 header block naming a sender or date, or a
  folder whose visible files are all ``.eml`` (one source of those files; its subfolders are walked on their own).
- ``takeout``: an mbox (plain or gzip) whose first message carries ``X-Gmail-Labels`` (Google Takeout).
- ``mbox`` / ``mbox.gz``: a file whose (decompressed) content starts with a ``From `` line. A folder of mbox
  files is not claimed as a whole: each file is claimed on its own.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

from .framing import HEADER_SNIFF_BYTES
from .reading import MAILDIR_PARTS, is_message_file

_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_MAIL_FIELDS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"date",
        b"subject",
        b"message-id",
        b"received",
        b"return-path",
        b"mime-version",
        b"delivered-to",
        b"reply-to",
        b"sender",
        b"x-gmail-labels",
    }
)
_ANCHORS = frozenset({b"from", b"date", b"message-id", b"received"})


def _head(path: Path) -> tuple[bytes, bool]:
    """The first bytes of the (decompressed) file and whether it is gzip."""
    with path.open("rb") as fh:
        raw = fh.read(HEADER_SNIFF_BYTES)
    if not raw.startswith(b"\x1f\x8b"):
        return raw, False
    try:
        with gzip.open(path, "rb") as gz:
            return gz.read1(HEADER_SNIFF_BYTES), True
    except (EOFError, OSError, zlib.error):
        return b"", True


def _first_block(data: bytes) -> bytes:
    end = re.search(rb"\n\r?\n", data)
    return data[: end.start()] if end else data


def looks_like_headers(data: bytes) -> bool:
    """An RFC 822 header block: header lines from the first byte, two or more mail fields, one an anchor."""
    block = _first_block(data)
    if not _HEADER_LINE.match(block):
        return False
    names = {m.group(1).lower() for m in _HEADER_LINE.finditer(block)}
    return len(names & _MAIL_FIELDS) >= 2 and bool(names & _ANCHORS)


def _claims_dir(path: Path) -> str | None:
    visible = [p for p in path.iterdir() if not p.name.startswith(".")]
    parts = {p.name for p in visible if p.name in MAILDIR_PARTS and p.is_dir()}
    if "cur" in parts or ("new" in parts and len(parts) == len(visible)):
        return "maildir"
    files = [p for p in visible if is_message_file(p)]
    if files and all(p.suffix.lower() == ".eml" for p in files):
        return "eml"
    return None


def claims(path: Path) -> str | None:
    """The mail format of ``path`` (mbox, takeout, mbox.gz, maildir, eml), or None when it is not ours."""
    try:
        if path.is_dir():
            return _claims_dir(path)
        if not path.is_file():
            return None
        head, gz = _head(path)
    except OSError:
        return None
    text = head.lstrip(b"\r\n")
    if text.startswith(b"From "):
        first = text[text.find(b"\n") + 1 :] if b"\n" in text else b""
        if b"\nx-gmail-labels:" in b"\n" + _first_block(first).lower():
            return "takeout"
        return "mbox.gz" if gz else "mbox"
    if gz:
        return None
    if path.suffix.lower() == ".eml" or looks_like_headers(head):
        return "eml"
    return None
