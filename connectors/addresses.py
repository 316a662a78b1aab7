"""Address parsing and normalisation shared by every connector.

Parsing is the stdlib's (``email.utils.getaddresses``, ``email.header`` for RFC 2047 names). Normalisation makes
one canonical string per mailbox: lower case, IDN domains in Unicode, surrounding quotes and stray dots trimmed,
Gmail dot/plus folding (configurable), Exchange X.500 paths kept as ``x500:/o=.../cn=...`` (resolved later through
the directory), and, when a pseudonym key is set, an HMAC-SHA-256 token that keeps the domain (``p~<hex>@domain``;
``p~auto~<hex>@domain`` when the clear address matched an automated-sender pattern, so no-reply senders are still
recognised downstream).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.header import decode_header, make_header
from email.utils import getaddresses
from functools import lru_cache

import idna

X500_PREFIX = "x500:"
PSEUDONYM_PREFIX = "p~"
AUTOMATED_PSEUDONYM_PREFIX = "p~auto~"
"""Pseudonym of an address that matched an automated-sender pattern before hashing (the SQL cannot test a hash)."""
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

_LOCAL = re.compile(r"^[^\s@<>(),;:\"\[\]\\]+$")
_DOMAIN = re.compile(r"^(?:[^\s@<>(),;:\"\[\]\\.]+\.)+[^\s@<>(),;:\"\[\]\\.]{2,}$")
_ENCODED_WORD = "=?"
_ADDRESS_IN_TEXT = re.compile(r"[A-Za-z0-9._+'-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
"""An address inside free text (an error message, a URL path where ``@`` may be written ``%40``)."""

# An Exchange X.500 path where an address starts (after '<', ',', blank or at the start), up to the next
# ',', '<' or '>': modern paths hold blanks and parentheses ("/ou=Exchange Administrative Group
# (FYDIBOHF23SPDLT)/cn=..."), which the RFC 5322 parser would split into a name and a comment.
_X500_PATH = re.compile(r"(?<![^<,\s])/ou?=[^,<>]*", re.IGNORECASE)
_X500_STANDIN = re.compile(r"^x500\.(\d+)@x500\.invalid$")

# RFC 5322 groups (``Name: a@x, b@y;``, ``undisclosed-recipients:;``) the stdlib parser reads, except two forms
# Exchange and Lotus Notes wrote: a group inside angle brackets (``<Undisclosed-Recipient:@mailman.enron.com;>``)
# and a host glued to the group (``Name:@host;``, ``Name:;@ENRON``), which it would read as addresses.
_ANGLED_GROUP = re.compile(r"<([^<>@:;,\"]*):([^<>]*;)\s*>")
_GROUP_HOST = re.compile(r"(?<=[:;])\s*@[^\s,;:<>\"()@]+(?=\s*(?:[,;]|$))")


def shield_x500(value: str) -> tuple[str, list[str]]:
    """``value`` with each X.500 path replaced by a stand-in address (``x500.N@x500.invalid``), and the paths."""
    if "/" not in value:
        return value, []
    paths: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        paths.append(match.group(0).rstrip())
        return f"x500.{len(paths) - 1}@x500.invalid"

    return _X500_PATH.sub(stand_in, value), paths


def ungroup(value: str) -> str:
    """``value`` with group syntax in the form the stdlib parser reads: a group's name and host are no address."""
    if ":" not in value:
        return value
    return _GROUP_HOST.sub("", _ANGLED_GROUP.sub(r"\1:\2", value))


def unshield_x500(address: str, paths: list[str]) -> str:
    """The X.500 path a stand-in address from ``shield_x500`` replaced (other addresses unchanged)."""
    if paths and (found := _X500_STANDIN.match(address)):
        return paths[int(found.group(1))]
    return address


@lru_cache(maxsize=100_000)
def decode_name(raw: str) -> str | None:
    """The display name with RFC 2047 encoded words decoded; None when empty."""
    name = raw
    if _ENCODED_WORD in raw:
        try:
            name = str(make_header(decode_header(raw)))
        except (UnicodeDecodeError, LookupError, ValueError):
            name = raw
    name = " ".join(name.replace("\x00", "").split()).strip("'\" ")
    return name or None


def _decode_domain(domain: str) -> str | None:
    if "xn--" not in domain:
        return domain
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return None


class AddressNormaliser:
    """Turns header values into canonical addresses; one instance per import (it caches)."""

    def __init__(
        self, *, fold_gmail: bool = True, hmac_key: bytes | None = None, automated_patterns: tuple[str, ...] = ()
    ) -> None:
        self.fold_gmail = fold_gmail
        self.hmac_key = hmac_key
        self.automated_patterns = automated_patterns
        self._automated = [re.compile(p) for p in automated_patterns]
        self.normalise = lru_cache(maxsize=200_000)(self._normalise)

    @property
    def pseudonymised(self) -> bool:
        return self.hmac_key is not None

    def redact(self, text: str) -> str:
        """``text`` with every address in it replaced by its pseudonym (as is without a key)."""
        if self.hmac_key is None:
            return text
        return _ADDRESS_IN_TEXT.sub(lambda m: self.normalise(m.group(0).replace("%40", "@")) or "[address]", text)

    def _normalise(self, raw: str) -> str | None:
        """The canonical form of one address, or None when it is not a usable address."""
        text = raw.strip().strip("'\"<> ").lower()
        if not text:
            return None
        if text.startswith("/o=") or text.startswith("/ou="):
            # Exchange X.500 path; exports sometimes glue '@domain' onto it.
            path = text.split("@", 1)[0]
            return self._protect(X500_PREFIX + path, domain=None) if "/cn=" in path else None
        if text.count("@") != 1:
            return None
        local, raw_domain = text.split("@")
        local = local.strip(".'\"")
        domain = _decode_domain(raw_domain.strip(".'\""))
        if not local or domain is None or not _LOCAL.match(local) or not _DOMAIN.match(domain):
            return None
        if self.fold_gmail and domain in GMAIL_DOMAINS:
            local = local.split("+", 1)[0].replace(".", "")
            domain = "gmail.com"
            if not local:
                return None
        return self._protect(f"{local}@{domain}", domain=domain)

    def _protect(self, address: str, *, domain: str | None) -> str:
        if self.hmac_key is None:
            return address
        token = hmac.new(self.hmac_key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        automated = any(p.search(address) for p in self._automated)
        return f"{AUTOMATED_PSEUDONYM_PREFIX if automated else PSEUDONYM_PREFIX}{token}@{domain or 'x500.invalid'}"

    def parse(self, *values: str | None) -> tuple[list[tuple[str, str | None]], int]:
        """Parse header values into ``[(address, name)]`` (first occurrence kept) and a count of bad entries.

        Group syntax yields the group's members (``undisclosed-recipients:;`` and other empty groups nothing);
        the group's name is not an address and not an error.
        """
        shielded = [shield_x500(ungroup(v)) for v in values if v]
        if not shielded:
            return [], 0
        seen: dict[str, str | None] = {}
        bad = 0
        pairs = ((name, unshield_x500(addr, paths)) for text, paths in shielded for name, addr in getaddresses([text]))
        for name, addr in pairs:
            if not addr:
                continue
            address = self.normalise(addr)
            if address is None:
                bad += 1
                continue
            if address not in seen:
                seen[address] = None if self.pseudonymised else decode_name(name)
        return list(seen.items()), bad
