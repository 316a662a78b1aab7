"""Gmail and Google Calendar metadata connectors (see docs/connectors/google.md).

``google_sources(settings, source=..., account=...)`` lists the accounts (personal tokens, or service-account
users) and builds one ``SyncSource`` per account and API; ``tiepulse.pipelines.sync.sync_account`` runs them.
"""

from __future__ import annotations

from tiepulse.connectors.google.auth import CALENDAR_SCOPE, GMAIL_SCOPE, SCOPES, Account
from tiepulse.connectors.google.calendar import CalendarSource
from tiepulse.connectors.google.errors import GoogleAuthError, GoogleError
from tiepulse.connectors.google.gmail import GmailSource, SyncProgress
from tiepulse.connectors.google.settings import GoogleOptions, GoogleSettings, load_options
from tiepulse.connectors.google.sources import SOURCES, google_sources, list_accounts

__all__ = [
    "CALENDAR_SCOPE",
    "GMAIL_SCOPE",
    "SCOPES",
    "SOURCES",
    "Account",
    "CalendarSource",
    "GmailSource",
    "GoogleAuthError",
    "GoogleError",
    "GoogleOptions",
    "GoogleSettings",
    "SyncProgress",
    "google_sources",
    "list_accounts",
    "load_options",
]
