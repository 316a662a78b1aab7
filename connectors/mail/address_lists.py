"""Address-list parsing with a fast path for plain lists, same result as ``AddressNormaliser.parse``.

Most header values in real mail are bare ``local@domain`` entries separated by commas, where
``email.utils.getaddresses`` returns each entry unchanged with an empty name. For such values (every entry a
dot-atom ``local@domain``, no quotes, brackets, comments, groups or encoded words) the entries are normalised
directly; anything else goes through the normaliser (the stdlib parser). A test checks both agree on real
data.
"""

from __future__ import annotations

import re
from functools import lru_cache

from connectors.addresses import AddressNormaliser

Parsed = tuple[tuple[tuple[str, str | None], ...], int]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"\s*{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*\s*")


class AddressLists:
    """Parses header values for one normaliser, caching per value (Sent folders repeat the same lists)."""

    def __init__(self, normaliser: AddressNormaliser, *, cache_size: int = 50_000) -> None:
        self.normaliser = normaliser
        self.parse = lru_cache(maxsize=cache_size)(self._parse)

    def _parse(self, value: str) -> Parsed:
        entries = value.split(",")
        if all(_PLAIN.fullmatch(e) for e in entries):
            normalise = self.normaliser.normalise
            seen: dict[str, None] = {}
            bad = 0
            for entry in entries:
                address = normalise(entry.strip())
                if address is None:
                    bad += 1
                elif address not in seen:
                    seen[address] = None
            return tuple((a, None) for a in seen), bad
        return self.slow(value)

    def slow(self, value: str) -> Parsed:
        found, bad = self.normaliser.parse(value)
        return tuple(found), bad
