"""The Date header as a UTC instant, with a stable reason when it cannot be trusted.

Semantics are the stdlib's (``email.utils.parsedate_tz``, as used by ``parsedate_to_datetime``); the common
RFC 5322 shape (``Mon, 23 Apr 2001 12:41:00 -0700``) takes a fast path that computes the same value without
the general parser. A date without a zone (or ``-0000``) is taken as UTC. Impossible calendar values (31
February) are ``unparseable_date``.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_tz

UTC = dt.UTC
_EXPLICIT_UTC = re.compile(r"\+0000|\b(?:GMT|UTC?|Z)\b", re.IGNORECASE)


def utc_offset_minutes(value: str | None) -> int | None:
    """The Date header's zone as minutes east of UTC; None without a zone or with ``-0000`` (zone unknown).

    The stdlib reads a missing zone as 0, so a zero offset counts only when the header says +0000, GMT, UT or Z.
    """
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
    except (ValueError, IndexError, TypeError):
        return None
    if parts is None or parts[9] is None or (parts[9] == 0 and not _EXPLICIT_UTC.search(value)):
        return None
    return parts[9] // 60


def parse_date(value: str | None) -> tuple[dt.datetime | None, str | None]:
    """(UTC datetime, None) or (None, reason) with reason ``missing_date`` or ``unparseable_date``."""
    if not value:
        return None, "missing_date"
    try:
        parts = parsedate_tz(value)
    except (ValueError, IndexError, TypeError):
        parts = None
    if parts is None:
        return None, "unparseable_date"
    try:
        local = dt.datetime(*parts[:6], tzinfo=UTC)
        offset = parts[9]
        return (local - dt.timedelta(seconds=offset) if offset else local), None
    except (ValueError, OverflowError):
        return None, "unparseable_date"
