"""One message through apprise: the delivery id as idempotency key, a timeout, and the failure as one clean line.

apprise reports success as a boolean and explains failures in its log; the log records of one send are caught
here (kept out of the process's own logs, where a plugin's debug output could show a URL) and the warning that
explains the failure is returned with every secret of the channel masked.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from tiepulse.pipelines.notify.channels import EGO_PLACEHOLDER, Channel
from tiepulse.pipelines.notify.retry_after import noting_retry_after

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Schemes whose apprise plugin takes extra headers as ``+Name=value`` (and, for JSON, payload fields as ``:name``).
_HEADER_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}
_PAYLOAD_SCHEMES = {"json", "jsons"}


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str = ""
    retry_at: dt.datetime | None = None
    """When the server asked to be tried again (``Retry-After`` of a 429 or 503), if it did."""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING or message.startswith("Socket Exception"):
            self.lines.append(message)


def target_url(channel: Channel, recipient: str, delivery_id: str, timeout: float) -> str:
    """The channel's URL for one digest: ``{ego}`` filled in, the idempotency key and the timeouts added."""
    url = channel.url.replace(EGO_PLACEHOLDER, recipient)
    scheme = url.split("://", 1)[0].lower()
    extra = [f"cto={timeout:g}", f"rto={timeout:g}"]
    if scheme in _HEADER_SCHEMES:
        extra.append(f"+{IDEMPOTENCY_HEADER}={delivery_id}")
    if scheme in _PAYLOAD_SCHEMES:
        extra.append(f":delivery_id={delivery_id}")
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def send(channel: Channel, recipient: str, delivery_id: str, title: str, body: str, timeout: float) -> Outcome:
    """Send one digest; never raises for a delivery problem (the outcome says what went wrong)."""
    import apprise

    log = logging.getLogger("apprise")
    collect = _Collect()
    propagate, level = log.propagate, log.level
    log.addHandler(collect)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        plugin = apprise.Apprise.instantiate(target_url(channel, recipient, delivery_id, timeout))
        if plugin is None:
            return Outcome(False, channel.scrub(_first(collect.lines) or "apprise could not load the channel URL"))
        with noting_retry_after() as retry_after:
            ok = bool(plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
    finally:
        log.removeHandler(collect)
        log.propagate = propagate
        log.setLevel(level)
    if ok:
        return Outcome(True)
    return Outcome(False, channel.scrub(_first(collect.lines) or "delivery failed"), retry_after.at)


def _first(lines: list[str]) -> str:
    """The explanation of a failure in one line (apprise's warnings, then the socket error behind them)."""
    text = "; ".join(dict.fromkeys(line.strip() for line in lines if line.strip()))
    return " ".join(text.split())[:400]
