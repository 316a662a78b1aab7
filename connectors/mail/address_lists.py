"""Address-list parsing with a fast path for common lists, same result as ``AddressNormaliser.parse``.

Most header values in real mail are lists of ``local@domain``, ``Name <local@domain>`` or
``"Quoted, Name" <local@domain>`` entries, for which ``email.utils.getaddresses`` returns the name and the
address unchanged. Such values (dot-atom addresses, names without comments, brackets, backslashes or groups) are
read with one regular expression; anything else goes through the normaliser (the stdlib parser). Tests check
that both agree on real and generated data.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..addresses import AddressNormaliser, decode_name, shield_x500, unshield_x500

Parsed = tuple[tuple[tuple[str, str | None], ...], int]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_ENTRY = re.compile(
    rf'\s*(?:(?:"(?P<quoted>[^"\\]*)"|(?P<name>[^",<>()\[\]:;@\\]*?))\s*<(?P<angled>{_ADDR})>|(?P<bare>{_ADDR}))\s*'
)


class AddressLists:
    """Parses header values for one normaliser, caching per value (Sent folders repeat the same lists)."""

    def __init__(self, normaliser: AddressNormaliser, *, cache_size: int = 50_000) -> None:
        self.normaliser = normaliser
        self.parse = lru_cache(maxsize=cache_size)(self._parse)

    def _parse(self, value: str) -> Parsed:
        shielded, paths = shield_x500(value)
        entries = self._entries(shielded)
        if entries is None:
            return self.slow(value)
        normalise = self.normaliser.normalise
        keep_names = not self.normaliser.pseudonymised
        seen: dict[str, str | None] = {}
        bad = 0
        for name, raw in entries:
            address = normalise(unshield_x500(raw, paths))
            if address is None:
                bad += 1
            elif address not in seen:
                seen[address] = decode_name(name) if keep_names and name else None
        return tuple(seen.items()), bad

    @staticmethod
    def _entries(value: str) -> list[tuple[str, str]] | None:
        """``[(name, address)]`` when every entry has a simple form, else None (the stdlib decides)."""
        entries = []
        pos, end = 0, len(value)
        while pos < end:
            if value[pos] in ", \t":
                pos += 1
                continue
            match = _ENTRY.match(value, pos)
            if match is None:
                return None
            pos = match.end()
            if pos < end and value[pos] != ",":
                return None
            name = match.group("quoted") if match.group("quoted") is not None else match.group("name") or ""
            entries.append((name, match.group("angled") or match.group("bare")))
        return entries

    def slow(self, value: str) -> Parsed:
        found, bad = self.normaliser.parse(value)
        return tuple(found), bad
