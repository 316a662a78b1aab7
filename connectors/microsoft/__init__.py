"""Outlook mail and calendar metadata through Microsoft Graph and msal (see docs/connectors/microsoft.md).

``microsoft_sources(settings, source=..., account=...)`` builds one ``SyncSource`` per mailbox and kind
(``outlook``: one delta stream per folder; ``outlook_calendar``: one calendarView delta stream), for
``tiepulse.pipelines.sync.sync_account`` to commit page by page with the cursor.
"""

from __future__ import annotations

from tiepulse.connectors.microsoft.auth import (
    AppTokenProvider,
    Connection,
    DelegatedTokenProvider,
    MicrosoftAuthError,
    TokenProvider,
)
from tiepulse.connectors.microsoft.calendar import OutlookCalendarSource
from tiepulse.connectors.microsoft.graph import BatchRequest, GraphClient, GraphError, ResyncRequired
from tiepulse.connectors.microsoft.mail import OutlookMailSource
from tiepulse.connectors.microsoft.settings import MicrosoftOptions, MicrosoftSettings, load_options, load_settings
from tiepulse.connectors.microsoft.sources import (
    SOURCES,
    MicrosoftConnection,
    connect,
    mailboxes,
    microsoft_sources,
    source_name,
)

__all__ = [
    "SOURCES",
    "AppTokenProvider",
    "BatchRequest",
    "Connection",
    "DelegatedTokenProvider",
    "GraphClient",
    "GraphError",
    "MicrosoftAuthError",
    "MicrosoftConnection",
    "MicrosoftOptions",
    "MicrosoftSettings",
    "OutlookCalendarSource",
    "OutlookMailSource",
    "ResyncRequired",
    "TokenProvider",
    "connect",
    "load_options",
    "load_settings",
    "mailboxes",
    "microsoft_sources",
    "source_name",
]
