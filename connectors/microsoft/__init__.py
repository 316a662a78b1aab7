"""Outlook mail and calendar metadata through Microsoft Graph and msal (see docs/connectors/microsoft.md).

``connect(home, settings, options)`` makes the Graph client; ``OutlookMailSource`` (one delta stream per folder)
and ``OutlookCalendarSource`` (one calendarView delta stream) read one mailbox on it, for
``tiepulse.pipelines.sync.sync_account`` to commit page by page with the cursor. Which mailboxes to read, and the
options from the config file, are decided above (``tiepulse.pipelines.providers.microsoft``).
"""

from __future__ import annotations

from .auth import (
    AppTokenProvider,
    Connection,
    DelegatedTokenProvider,
    MicrosoftAuthError,
    TokenProvider,
)
from .calendar import OutlookCalendarSource
from .graph import BatchRequest, GraphClient, GraphError, ResyncRequired
from .mail import OutlookMailSource
from .settings import MicrosoftOptions, MicrosoftSettings
from .sources import MicrosoftConnection, connect, graph_users, users_query

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
