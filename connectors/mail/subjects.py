"""What a subject says about a message (reply? forward?) and its keyed hash; the subject itself is never kept.

Prefixes are matched case-insensitively, repeated (``Re: Fwd: RE[2]:``), after optional list tags
(``[team]``). The outermost prefix decides: ``Fw: Re: x`` is a forward, ``Re: Fw: x`` a reply. The hash covers
the subject with every prefix and list tag removed, lower-cased, whitespace collapsed, so a thread's messages
share it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.errors import CharsetError, HeaderParseError
from email.header import decode_header, make_header

REPLY_PREFIXES = ("re", "aw", "sv", "antw", "vs", "ref", "rif", "odp", "res", "ynt", "回复", "答复")
FORWARD_PREFIXES = ("fw", "fwd", "wg", "tr", "enc", "rv", "doorst", "vl", "vb", "pd", "转发")

_PREFIX = re.compile(
    r"\s*(?:\[[^\]]{0,60}\]\s*)*("
    + "|".join(sorted(REPLY_PREFIXES + FORWARD_PREFIXES, key=len, reverse=True))
    + r")\s*(?:\[\d+\]|\(\d+\))?\s*[:：]",
    re.IGNORECASE,
)
_TAGS = re.compile(r"\s*(?:\[[^\]]{0,60}\]\s*)+")
_REPLY = frozenset(REPLY_PREFIXES)


def decode_subject(raw: str) -> str:
    """The subject with RFC 2047 encoded words decoded; undecodable words are kept as written."""
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, CharsetError, UnicodeDecodeError, LookupError, ValueError):
        return raw


def classify(subject: str) -> tuple[bool, bool, str]:
    """(is_reply, is_forward, the subject without prefixes and list tags)."""
    first = _PREFIX.match(subject)
    if first is None:
        return False, False, _TAGS.sub(" ", subject, count=1) if subject.startswith("[") else subject
    is_reply = first.group(1).lower() in _REPLY
    rest = subject[first.end() :]
    while (more := _PREFIX.match(rest)) is not None:
        rest = rest[more.end() :]
    if rest.lstrip().startswith("["):
        rest = _TAGS.sub(" ", rest, count=1)
    return is_reply, not is_reply, rest


def subject_hash(key: bytes, stripped: str) -> str:
    """HMAC-SHA-256 (hex) of the normalised subject: lower-cased, whitespace collapsed."""
    normal = " ".join(stripped.lower().split())
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()


DIGEST_CHARS = 8
"""32 bits: enough to tell one sender's messages to the same people within hours apart, too few to group threads."""


def subject_digest(key: bytes, stripped: str) -> str:
    """The first ``DIGEST_CHARS`` of the subject's HMAC: the subject part of a copy's fingerprint."""
    return subject_hash(key, stripped)[:DIGEST_CHARS]
