"""Gmail and Google Calendar metadata connectors (see docs/connectors/google.md).

``build_source(name, account, options=..., ...)`` builds one ``SyncSource`` for an account and API from explicit
options; which accounts to sync is decided above (``tiepulse.pipelines.providers.google``), and
``tiepulse.pipelines.sync.sync_account`` runs the sources.
"""

from __future__ import annotations

from .auth import CALENDAR_SCOPE, GMAIL_SCOPE, SCOPES, Account
from .calendar import CalendarSource
from .errors import GoogleAuthError, GoogleError
from .gmail import GmailSource, SyncProgress
from .settings import GoogleOptions, GoogleSettings
from .sources import build_source, quota_pacer, retry_policy

__all__ = [
    "CALENDAR_SCOPE",
    "GMAIL_SCOPE",
    "SCOPES",
    "Account",
    "CalendarSource",
    "GmailSource",
    "GoogleAuthError",
    "GoogleError",
    "GoogleOptions",
    "GoogleSettings",
    "SyncProgress",
    "build_source",
    "quota_pacer",
    "retry_policy",
]
