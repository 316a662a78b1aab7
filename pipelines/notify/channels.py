"""The channels digests go to: apprise URLs from the config (``notify.channels``) and ``TIEPULSE_NOTIFY_URLS``.

A channel is known in ``ops`` by its name, else by its URL with the secrets masked (apprise's privacy form without
the query), so rotating a password does not resend anything and no secret is ever stored or printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tiepulse.core.settings import NotifyChannel, Settings
from tiepulse.pipelines.notify import NotifyError

EGO_PLACEHOLDER = "{ego}"
_PIECES = re.compile(r"[/:@?&=#,+{} ]+")


class ChannelError(NotifyError):
    """A channel URL apprise cannot use; the message names the channel without its secrets."""


@dataclass(frozen=True, slots=True)
class Channel:
    key: str
    """How ``ops`` knows the channel: its name, or its masked URL."""
    url: str
    """The apprise URL with its secrets; ``{ego}`` is replaced by the ego's address for each_ego channels."""
    audience: str
    """``organisation``, ``each_ego`` or one ego's id (resolved from ``auto``)."""
    schedule: Literal["daily", "weekly"]
    include_people: bool
    secrets: tuple[str, ...]
    """Pieces of the URL that its masked form hides: scrubbed from every message tiepulse prints or stores."""

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text


def privacy_url(url: str) -> str:
    """The URL as apprise prints it in privacy mode (secrets masked)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url.replace(EGO_PLACEHOLDER, "ego@example.com"))
    if plugin is None:
        raise ChannelError(_unusable(url))
    return str(plugin.url(privacy=True))


def masked_url(url: str) -> str:
    """The privacy form without its query (apprise's defaults there vary between versions)."""
    return privacy_url(url).split("?", 1)[0].rstrip("/")


def _unusable(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
    return (
        f"a notify channel ({scheme}://...) is not a URL apprise can use; check its form in docs/notifications.md "
        "(mailtos://user:pass@smtp.host?to=..., slack://..., msteams://..., json://host:port/path)"
    )


def _secrets(url: str, masked: str) -> tuple[str, ...]:
    """Pieces of ``url`` absent from its masked form: passwords, tokens, webhook keys (longest first)."""
    from urllib.parse import unquote

    shown = set(_PIECES.split(unquote(masked)))
    pieces = {p for p in _PIECES.split(unquote(url)) if len(p) >= 3 and p not in shown}
    pieces.discard("ego")
    return tuple(sorted(pieces, key=len, reverse=True))


def _channel(url: str, audience: str, schedule: Literal["daily", "weekly"], name: str | None, people: bool) -> Channel:
    shown = privacy_url(url)
    return Channel(name or shown.split("?", 1)[0].rstrip("/"), url, audience, schedule, people, _secrets(url, shown))


def _resolve(audience: str, egos: list[str]) -> str:
    if audience != "auto":
        return audience.lower() if "@" in audience else audience
    return egos[0] if len(egos) == 1 else "organisation"


def load_channels(settings: Settings, egos: list[str]) -> list[Channel]:
    """Every configured channel, its audience resolved against the warehouse's egos."""
    options = settings.config.notify
    configured: list[NotifyChannel] = list(options.channels)
    channels = [
        _channel(
            c.url.get_secret_value(),
            _resolve(c.audience, egos),
            c.schedule or options.schedule,
            c.name,
            c.include_people,
        )
        for c in configured
    ]
    env = settings.notify_urls.get_secret_value().split() if settings.notify_urls else []
    for url in env:
        audience = _resolve(options.env_audience, egos)
        if audience == "each_ego" and EGO_PLACEHOLDER not in url:
            raise ChannelError(f"{masked_url(url)}: notify.env_audience is each_ego, so the URL needs {{ego}}")
        channels.append(_channel(url, audience, options.schedule, None, False))
    for channel in channels:
        if channel.audience not in ("organisation", "each_ego") and channel.audience not in egos:
            raise ChannelError(
                f"notify channel {channel.key} is for {channel.audience}, who is not an ego of this warehouse "
                f"({len(egos)} egos, e.g. {', '.join(egos[:3]) or 'none yet'}); use an ego's address"
                + (" (addresses are pseudonymised: only organisation digests can go out)" if settings.hmac_key else "")
            )
        if channel.audience == "each_ego" and settings.hmac_key:
            raise ChannelError(
                f"notify channel {channel.key} is for each_ego, but addresses are pseudonymised "
                "(TIEPULSE_PSEUDONYM_KEY): only organisation digests can go out"
            )
    keys = [c.key for c in channels]
    twins = sorted({k for k in keys if keys.count(k) > 1})
    if twins:
        raise ChannelError(
            f"two notify channels look the same once their secrets are masked ({', '.join(twins)}); "
            "give them distinct names in notify.channels"
        )
    return channels
