"""Outlook mail and calendar metadata through Microsoft Graph and msal (see docs/connectors/microsoft.md).

``connect(home, settings, options)`` makes the Graph client; ``OutlookMailSource`` (one delta stream per folder)
and ``OutlookCalendarSource`` (one calendarView delta stream) read one mailbox on it, for
``tiepulse.pipelines.sync.sync_account`` to commit page by page with the cursor. Which mailboxes to read, and the
options from the config file, are decided above (``tiepulse.pipelines.providers.microsoft``).
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
from tiepulse.connectors.microsoft.settings import MicrosoftOptions, MicrosoftSettings
from tiepulse.connectors.microsoft.sources import MicrosoftConnection, connect, graph_users, users_query

__all__ = [
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
    "graph_users",
    "users_query",
]
