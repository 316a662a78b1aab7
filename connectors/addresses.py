"""Address parsing and normalisation shared by every connector.

Parsing is the stdlib's (``email.utils.getaddresses``, ``email.header`` for RFC 2047 names). Normalisation makes
one canonical string per mailbox: lower case, IDN domains in Unicode, surrounding quotes and stray dots trimmed,
Gmail dot/plus folding (configurable), Exchange X.500 paths kept as ``x500:/o=.../cn=...`` (resolved later through
the directory), and, when a pseudonym key is set, an HMAC-SHA-256 token that keeps the domain (``p~<hex>@domain``;
``p~auto~<hex>@domain`` when the clear address matched an automated-sender pattern, so no-reply senders are still
recognised downstream). Addresses that are not people are classified here too, while they are still in clear
(``non_person_addresses``): the reason is stored beside the message, so it survives pseudonymisation.
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
AUTOMATED, LIST_ID, GROUP_NAME = "automated", "list_id", "group_name"
"""Reasons an address is not a person that the import can tell (docs/metrics.md, "Addresses that are not people")."""

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
        self,
        *,
        fold_gmail: bool = True,
        hmac_key: bytes | None = None,
        automated_patterns: tuple[str, ...] = (),
        group_patterns: tuple[str, ...] = (),
    ) -> None:
        self.fold_gmail = fold_gmail
        self.hmac_key = hmac_key
        self.automated_patterns = automated_patterns
        self._automated = [re.compile(p) for p in automated_patterns]
        self._groups = [re.compile(p) for p in group_patterns]
        self.pattern_reasons: dict[str, str] = {}
        """Stored address -> ``automated`` or ``group_name``, for every address normalised here that a pattern
        matched in clear (filled by ``normalise``)."""
        self.normalise = lru_cache(maxsize=200_000)(self._normalise)
        self.list_addresses = lru_cache(maxsize=10_000)(self._list_addresses)

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
        automated = any(p.search(address) for p in self._automated)
        reason = AUTOMATED if automated else GROUP_NAME if any(p.search(address) for p in self._groups) else None
        stored = address
        if self.hmac_key is not None:
            token = hmac.new(self.hmac_key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
            prefix = AUTOMATED_PSEUDONYM_PREFIX if automated else PSEUDONYM_PREFIX
            stored = f"{prefix}{token}@{domain or 'x500.invalid'}"
        if reason is not None:
            self.pattern_reasons[stored] = reason
        return stored

    def _list_addresses(self, list_id: str) -> frozenset[str]:
        """The stored addresses a List-Id may name: ``team.corp.example`` names ``team@corp.example`` (or
        ``team.corp@example``: every split is tried, as only the message's own addresses are compared)."""
        parts = list_id.split(".")
        candidates = (".".join(parts[:i]) + "@" + ".".join(parts[i:]) for i in range(1, len(parts)))
        return frozenset(a for a in map(self.normalise, candidates) if a is not None)

    def non_person_addresses(self, addresses: list[str], list_id: str | None) -> list[dict[str, str]] | None:
        """``{address, reason}`` for each of a message's (stored) addresses that is not a person, as far as the
        import can tell: an automated-sender pattern, the list its List-Id names, a group pattern (in that order
        of precedence); None when there is none."""
        listed = self.list_addresses(list_id) if list_id else frozenset()
        found = []
        for address in dict.fromkeys(addresses):
            reason = self.pattern_reasons.get(address)
            if reason != AUTOMATED and address in listed:
                reason = LIST_ID
            if reason is not None:
                found.append({"address": address, "reason": reason})
        return found or None

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
