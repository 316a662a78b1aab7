"""Exchange X.500 identities in the ``X-From`` / ``X-To`` / ``X-cc`` headers of converted Outlook and Notes exports.

Exports converted from PST files (the Enron corpus among them) keep the Exchange directory path of each party
beside the SMTP header: ``X-From: Harris, Stephanie J </O=ENRON/OU=NA/CN=RECIPIENTS/CN=SHARRIS2>``. A path names
one mailbox, so the addresses it is seen with are forms of one person (docs/data-model.md, "One person, one
identity"). Paths are normalised as addresses are (``x500:/o=.../cn=...``; a keyed hash when pseudonymised).

``X-From`` pairs its path with the From address. An ``X-To`` / ``X-cc`` entry is paired with the To / Cc address
at the same position only when the two lists align without doubt: every entry carries a path, no entry name
holds more than one comma, an ``@`` or a ``/`` (a name the exporter glued to the next entry), and the header has
as many usable addresses, none unusable. Otherwise the paths are kept without an address.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Normalise = Callable[[str], "str | None"]

_ENTRY = re.compile(r"\s*(?P<name>[^<>]*?)\s*<\s*(?P<path>/o=[^<>]*?)\s*>\s*(?:,|$)", re.IGNORECASE)
_ANGLED_PATH = re.compile(r"<\s*(/o=[^<>]*?)\s*>", re.IGNORECASE)


def has_path(value: str | None) -> bool:
    """Whether a header value may hold an X.500 path (the cheap test before parsing)."""
    return bool(value) and "/o=" in value.lower()  # type: ignore[union-attr]


def _entries(value: str) -> list[tuple[str, str]] | None:
    """``[(name, path)]`` when the whole value is entries with a path each, else None."""
    entries = []
    pos = 0
    while pos < len(value):
        found = _ENTRY.match(value, pos)
        if found is None or found.end() == pos:
            return None
        entries.append((found.group("name"), found.group("path")))
        pos = found.end()
    return entries


def sender_x500(value: str | None, normalise: Normalise) -> str | None:
    """The normalised path of an ``X-From`` holding exactly one, else None."""
    if not has_path(value):
        return None
    paths = _ANGLED_PATH.findall(value or "")
    return normalise(paths[0]) if len(paths) == 1 else None


def recipient_x500(
    kind: str, value: str | None, addresses: list[str], bad: int, normalise: Normalise
) -> list[dict[str, str | None]]:
    """``{kind, x500, address}`` per path of an ``X-To`` / ``X-cc`` value; ``address`` is the header's address at
    the same position when the lists align (module docstring), else null."""
    if not has_path(value):
        return []
    text = value or ""
    entries = _entries(text)
    aligned = (
        entries is not None
        and bad == 0
        and len(entries) == len(addresses)
        and all(name.count(",") <= 1 and "@" not in name and "/" not in name for name, _ in entries)
    )
    paths = [path for _, path in entries] if entries is not None else _ANGLED_PATH.findall(text)
    found: list[dict[str, str | None]] = []
    for i, path in enumerate(paths):
        x500 = normalise(path)
        if x500 is not None:
            found.append({"kind": kind, "x500": x500, "address": addresses[i] if aligned else None})
    return found
