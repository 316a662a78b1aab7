"""Name-and-address headers written the same way in every process.

``email.utils.formataddr`` encodes a non-ASCII name with the charset the ``email`` package has registered for
UTF-8, and other libraries change that registration process-wide (apprise's email plugin switches it to
quoted-printable on import). The sample must not depend on what was imported before it, so it uses its own
charset object, set to the standard library's own default for UTF-8.
"""

from __future__ import annotations

from email.charset import BASE64, SHORTEST, Charset
from email.utils import formataddr


def _utf8() -> Charset:
    utf8 = Charset("utf-8")
    utf8.header_encoding = SHORTEST
    utf8.body_encoding = BASE64
    utf8.output_charset = "utf-8"
    return utf8


UTF8 = _utf8()


def address_header(name: str, address: str) -> str:
    """``Name <address>``, the name RFC 2047-encoded when it is not ASCII."""
    return formataddr((name, address), UTF8)
