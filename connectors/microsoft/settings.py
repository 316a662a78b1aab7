"""Where the Microsoft connectors connect (environment) and what they read (the config file's ``microsoft:``).

Environment, read by :class:`MicrosoftSettings`:

| variable | meaning |
| --- | --- |
| ``TIEPULSE_MS_TENANT_ID`` | Entra ID tenant (GUID or domain) for app-only access |
| ``TIEPULSE_MS_CLIENT_ID`` | the app registration's client id |
| ``TIEPULSE_MS_CLIENT_SECRET`` | client secret (app-only) |
| ``TIEPULSE_MS_CERTIFICATE_PATH`` | PEM holding the private key and certificate (app-only, instead of a secret) |
| ``TIEPULSE_MS_AUTHORITY_HOST`` | stands in for ``https://login.microsoftonline.com`` |
| ``TIEPULSE_GRAPH_ENDPOINT`` | stands in for ``https://graph.microsoft.com`` |
| ``TIEPULSE_CA_BUNDLE`` | an extra certificate authority (PEM) trusted for both |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"
GRAPH_VERSION = "v1.0"


class MicrosoftSettings(BaseSettings):
    """Connection settings from the environment; secrets stay ``SecretStr`` and are never printed."""

    model_config = SettingsConfigDict(env_prefix="TIEPULSE_MS_", frozen=True, extra="ignore")

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    certificate_path: Path | None = None
    certificate_password: SecretStr | None = None
    authority_host: str = DEFAULT_AUTHORITY_HOST
    graph_endpoint: str = Field(
        default=DEFAULT_GRAPH_ENDPOINT,
        validation_alias=AliasChoices("TIEPULSE_GRAPH_ENDPOINT", "graph_endpoint"),
    )
    ca_bundle: Path | None = Field(default=None, validation_alias=AliasChoices("TIEPULSE_CA_BUNDLE", "ca_bundle"))

    @field_validator("authority_host", "graph_endpoint")
    @classmethod
    def _https_base(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            raise ValueError(f"must be an https:// URL (msal and Graph refuse plain HTTP), got {value!r}")
        return value

    @property
    def app_only(self) -> bool:
        """Client credentials are configured (organisation mode)."""
        return bool(self.tenant_id and self.client_id and (self.client_secret or self.certificate_path))

    @property
    def graph_base(self) -> str:
        return f"{self.graph_endpoint}/{GRAPH_VERSION}"


MailboxSource = Literal["config", "directory", "graph"]


@dataclass(frozen=True, slots=True)
class CalendarWindow:
    """The calendarView window a sync wants: ``[start, end)``, and when a stored one is too short to keep."""

    start: dt.datetime
    end: dt.datetime
    renew_before: dt.datetime
    """A stored delta whose window ends before this (less than half the look-ahead left) is started afresh."""


class MicrosoftOptions(BaseModel):
    """The ``microsoft:`` section of the config file (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mailboxes: list[str] = Field(default_factory=list)
    """Mailboxes to read with app-only access; empty means the egos' addresses."""
    mailboxes_from: MailboxSource = "config"
    """``config`` (``mailboxes`` / egos), ``directory`` (internal rows of the directory CSV), ``graph`` (/users)."""
    users_filter: str | None = None
    """OData ``$filter`` for ``/users`` when ``mailboxes_from: graph`` (e.g. ``accountEnabled eq true``)."""
    folders: Literal["default", "all"] | list[str] = "default"
    """``default``: Inbox and SentItems; ``all``: every folder (enumerated through the folder delta); or a list of
    well-known folder names (``inbox``, ``sentitems``, ``archive``...)."""
    internet_headers: bool = False
    """Also read List-Id, List-Unsubscribe, Precedence, Auto-Submitted, In-Reply-To, References per message
    (one extra request per message, batched 20 at a time)."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """``Prefer: odata.maxpagesize``."""
    calendar_days_back: int | None = Field(default=None, ge=0)
    """Calendar window; None takes ``imports.calendar_window_days_back`` (730)."""
    calendar_days_ahead: int | None = Field(default=None, ge=0)
    """None takes ``imports.calendar_window_days_ahead`` (30)."""
    max_concurrency: int = Field(default=4, ge=1, le=4)
    """Requests in flight per mailbox (Graph allows 4)."""
    requests_per_window: int = Field(default=10_000, ge=1)
    window_seconds: float = Field(default=600.0, gt=0)
    """The per-app-and-mailbox request budget the client paces itself to."""
    pace_burst: int = Field(default=20, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    prefetch: bool = True
    """Fetch the next page while the current one is committed."""

    @field_validator("mailboxes")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]

    def calendar_window(self, as_of: dt.date, days_back: int, days_ahead: int) -> CalendarWindow:
        today = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
        back = self.calendar_days_back if self.calendar_days_back is not None else days_back
        ahead = self.calendar_days_ahead if self.calendar_days_ahead is not None else days_ahead
        return CalendarWindow(
            start=today - dt.timedelta(days=back),
            end=today + dt.timedelta(days=ahead),
            renew_before=today + dt.timedelta(days=ahead / 2),
        )
