"""Settings of the Google connectors: endpoints and key file from the environment, options from the config file.

Environment (prefix ``TIEPULSE_GOOGLE_``):

- ``API_ENDPOINT``: a base URL standing in for Google's API hosts (Gmail under ``/gmail/v1/``, Calendar under
  ``/calendar/v3/``, batches at ``/batch/gmail/v1``). Unset: Google's own hosts. Tests point it at a fake.
- ``TOKEN_URI``: the OAuth token endpoint used to refresh personal tokens and to grant service-account tokens.
- ``SERVICE_ACCOUNT_FILE``: a service-account key with domain-wide delegation (organisation mode).
- ``ALLOW_HTTP_LOOPBACK``: ``1`` lets the two URLs above (and a token file's token URI) be plain ``http://`` to
  127.0.0.1, ::1 or localhost, for local test servers. Otherwise every endpoint must be ``https://``: tokens and
  client secrets travel to it.

Options live under ``google:`` in the YAML config and are validated by ``GoogleOptions`` (see
docs/connectors/google.md for every field); ``tiepulse.pipelines.providers.google`` reads them from the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GMAIL_HOST = "https://gmail.googleapis.com"
CALENDAR_HOST = "https://www.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

DEFAULT_COSTS: dict[str, float] = {
    "gmail.getProfile": 1,
    "gmail.messages.list": 5,
    "gmail.messages.get": 5,
    "gmail.history.list": 2,
    "calendar.calendarList.list": 1,
    "calendar.events.list": 1,
}
"""Quota units per call (Gmail's published table; a newer copy says 20 for messages.get: set it in the config)."""


class GoogleSettings(BaseSettings):
    """Where the Google connectors send their requests, and the organisation's service-account key."""

    model_config = SettingsConfigDict(env_prefix="TIEPULSE_GOOGLE_", frozen=True)

    api_endpoint: str | None = None
    token_uri: str | None = None
    service_account_file: Path | None = None
    allow_http_loopback: bool = False

    @field_validator("api_endpoint", "token_uri")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _secure(self) -> GoogleSettings:
        for name in ("api_endpoint", "token_uri"):
            value = getattr(self, name)
            if value is not None:
                self.secure(value, f"TIEPULSE_GOOGLE_{name.upper()}")
        return self

    def secure(self, url: str, what: str) -> str:
        """``url`` if tokens may travel to it: https, or http to this machine with ``ALLOW_HTTP_LOOPBACK``."""
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and self.allow_http_loopback:
            return url
        raise ValueError(
            f"{what} must be an https:// URL, not {url!r} (plain http:// only to 127.0.0.1 or localhost, for a local "
            "test server, with TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK=1)"
        )

    def token_endpoint(self, from_file: str | None, file: Path) -> str:
        """Where tokens are granted: the environment's, else the one ``file`` names, else Google's; checked."""
        if self.token_uri:
            return self.token_uri
        return self.secure(from_file, f"token_uri in {file}") if from_file else GOOGLE_TOKEN_URI

    @property
    def gmail_endpoint(self) -> str:
        """Base URL for ``client_options["api_endpoint"]`` of the Gmail service (paths carry ``gmail/v1``)."""
        return (self.api_endpoint or GMAIL_HOST) + "/"

    @property
    def gmail_batch_uri(self) -> str:
        return (self.api_endpoint or GMAIL_HOST) + "/batch/gmail/v1"

    @property
    def calendar_endpoint(self) -> str:
        """Calendar's endpoint includes its service path (unlike Gmail's)."""
        return (self.api_endpoint or CALENDAR_HOST) + "/calendar/v3/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GmailOptions(_Strict):
    window_days: int = Field(default=730, ge=1)
    """How far back a full sync reads (by Gmail's internalDate); default two years."""
    batch_size: int = Field(default=25, ge=1, le=100)
    """messages.get calls per batch request (Google advises at most 50; 429s start around 50)."""
    list_page_size: int = Field(default=500, ge=1, le=500)
    """messages.list / history.list maxResults."""
    commit_rows: int = Field(default=500, ge=1)
    """Messages per committed page: a kill loses at most this much work, never data."""
    read_subject: bool = True
    """Ask for the Subject header to tell replies and forwards (and for the optional HMAC); it is never stored."""


class CalendarOptions(_Strict):
    calendars: list[str] | Literal["all"] = Field(default_factory=lambda: ["primary"])
    """Calendar ids to read (``primary`` is the account's own), or ``all`` for every calendar in its list."""
    window_days_back: int | None = Field(default=None, ge=1)
    """Full syncs start this many days back (default: imports.calendar_window_days_back)."""
    page_size: int = Field(default=250, ge=1, le=2500)


class QuotaOptions(_Strict):
    gmail_units_per_minute: float = Field(default=6_000, gt=0)
    """Per-user Gmail budget (6,000/min for projects created from May 2026; 15,000/min for older ones)."""
    calendar_requests_per_minute: float = Field(default=600, gt=0)
    headroom: float = Field(default=0.95, gt=0, le=1)
    """Share of the budget the pacer spends; the rest absorbs clock skew between us and Google."""
    burst_seconds: float = Field(default=2.0, gt=0)
    """The pacer may spend this many seconds' worth of budget at once (a batch always fits)."""
    costs: dict[str, float] = Field(default_factory=dict)
    """Overrides of the units per method, e.g. ``{"gmail.messages.get": 20}``."""

    def cost_table(self) -> dict[str, float]:
        return {**DEFAULT_COSTS, **self.costs}


class HttpOptions(_Strict):
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    base_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=64.0, ge=0)
    max_retry_after: float = Field(default=300.0, ge=0)


class GoogleOptions(_Strict):
    """The ``google:`` section of the config file."""

    users: list[str] | Literal["directory"] = Field(default_factory=list)
    """Organisation mode: the mailboxes to read as themselves, or ``directory`` for the directory CSV's
    internal people."""
    gmail: GmailOptions = GmailOptions()
    calendar: CalendarOptions = CalendarOptions()
    quota: QuotaOptions = QuotaOptions()
    http: HttpOptions = HttpOptions()

    @field_validator("users")
    @classmethod
    def _lower(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str):
            return value
        cleaned = [v.strip().lower() for v in value if v.strip()]
        bad = [v for v in cleaned if v.count("@") != 1]
        if bad:
            raise ValueError(f"not email addresses: {bad}")
        return cleaned
