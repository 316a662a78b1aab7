"""Lean header extraction: the few header fields tiepulse needs, from a raw header block, as text.

``email.parser`` builds a full message model (5x to 40x the cost of framing); this reads only the fields below
with one regular expression over the bytes, unfolds continuation lines, and decodes values as UTF-8, falling
back to Latin-1 (which never fails) for legacy 8-bit headers. Field names are matched case-insensitively.
Address fields that occur more than once are joined (some exporters split long lists); other fields keep their
first occurrence. RFC 2047 encoded words are left as they are: address parsing and subject handling decode
what they use.
"""

from __future__ import annotations

import re

FIELDS = (
    "from",
    "to",
    "cc",
    "bcc",
    "date",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "x-gm-thrid",
    "x-gmail-labels",
    "x-folder",
    "list-id",
    "list-unsubscribe",
    "precedence",
    "auto-submitted",
    "x-from",
    "x-to",
    "x-cc",
)
_JOINED = frozenset({"to", "cc", "bcc"})

# A wanted field name at a line start, then its value with any continuation lines (starting with blank).
# The pattern starts with a literal newline (the block is searched with one prepended) so the regex engine can
# skip quickly to line starts.
_NAMES_RE = "|".join(re.escape(f) for f in FIELDS)
_FIELD = re.compile(rf"\n({_NAMES_RE})[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.IGNORECASE)
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when valid, else Latin-1; NUL bytes removed."""
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        value = raw.decode("latin-1")
    return value.replace("\x00", "") if "\x00" in value else value


def _clean(value: str) -> str:
    return _FOLD.sub("", value).strip() if "\n" in value else value.strip()


def extract(block: bytes) -> dict[str, str]:
    """The wanted fields of a header block, names lower-cased, values unfolded and stripped."""
    try:
        pairs = _FIELD.findall("\n" + block.decode("utf-8"))
    except UnicodeDecodeError:
        # Legacy 8-bit header: decode field by field, so a UTF-8 field next to a Latin-1 one stays right.
        pairs = [(n, text(v.encode("latin-1"))) for n, v in _FIELD.findall("\n" + block.decode("latin-1"))]
    found = {name.lower(): _clean(value) for name, value in reversed(pairs)}  # the first occurrence wins
    if len(found) != len(pairs):
        for name in _JOINED:
            values = [v for v in (_clean(value) for n, value in pairs if n.lower() == name) if v]
            if len(values) > 1:
                found[name] = ", ".join(values)
    if any("\x00" in v for v in found.values()):
        found = {k: v.replace("\x00", "") for k, v in found.items()}
    return found


def excerpt(fields: dict[str, str], *, pseudonymised: bool) -> str:
    """Quarantine excerpt: Date, From, To, Cc, Message-ID (never Subject; no addresses when pseudonymised)."""
    names = ("date", "message-id") if pseudonymised else ("date", "from", "to", "cc", "message-id")
    lines = [f"{name}: {fields[name]}" for name in names if name in fields]
    if pseudonymised:
        lines.append("(addresses withheld: pseudonymisation is on)")
    return "\n".join(lines)
