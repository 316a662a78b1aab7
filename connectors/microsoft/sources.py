"""Connect to Graph from explicit settings (app-only or the personal connection), and list the tenant's users.

Which mailboxes to read and the options from the config file are the caller's
(``tiepulse.pipelines.providers.microsoft``); it builds ``OutlookMailSource`` / ``OutlookCalendarSource`` per
mailbox on the connection made here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..http.retry import RetryPolicy
from .auth import (
    AppTokenProvider,
    Connection,
    DelegatedTokenProvider,
    MicrosoftAuthError,
    TokenProvider,
)
from .graph import GraphClient
from .settings import MicrosoftOptions, MicrosoftSettings
from .transport import GraphSession, trust_bundle


@dataclass(slots=True)
class MicrosoftConnection:
    """Everything the sources of one sync share: settings, options, one token provider and one Graph client."""

    settings: MicrosoftSettings
    options: MicrosoftOptions
    tokens: TokenProvider
    client: GraphClient
    personal_account: str | None
    """The connected account in personal mode; None with app-only access."""


def connect(
    home: Path, ms: MicrosoftSettings, options: MicrosoftOptions, *, policy: RetryPolicy | None = None
) -> MicrosoftConnection:
    """Token provider and Graph client: app-only when ``ms`` has client credentials, else the personal connection
    saved under ``home`` by `tiepulse connect microsoft`."""
    policy = policy or RetryPolicy(max_attempts=options.max_attempts)
    verify = trust_bundle(ms.ca_bundle)
    token_session = GraphSession(verify=verify, timeout=options.timeout_seconds, retry=policy)
    tokens: TokenProvider
    personal: str | None = None
    if ms.app_only:
        tokens = AppTokenProvider(ms, token_session)
        hint = "Check the app registration's credentials and admin consent (docs/connectors/microsoft.md)."
    else:
        saved = Connection.load(home)
        if saved is None:
            raise MicrosoftAuthError(
                "Microsoft is not configured: set TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and "
                "TIEPULSE_MS_CLIENT_SECRET (or TIEPULSE_MS_CERTIFICATE_PATH) for an organisation, or run "
                "`tiepulse connect microsoft --client-id ID` for your own mailbox."
            )
        delegated = DelegatedTokenProvider(ms, token_session, home, saved.client_id, saved.tenant)
        tokens, hint, personal = delegated, delegated.hint, saved.account
    client = GraphClient(
        ms.graph_base,
        tokens,
        GraphSession(verify=verify, timeout=options.timeout_seconds),
        policy=policy,
        max_concurrency=options.max_concurrency,
        page_size=options.page_size,
        requests_per_window=options.requests_per_window,
        window_seconds=options.window_seconds,
        pace_burst=options.pace_burst,
        reconnect_hint=hint,
    )
    return MicrosoftConnection(ms, options, tokens, client, personal)


def graph_users(conn: MicrosoftConnection) -> list[str]:
    """The addresses of the tenant's users (``/users``, filtered by ``microsoft.users_filter``), sorted."""
    query, headers = users_query(conn.options.users_filter)
    found = []
    for user in conn.client.paged(query, mailbox="/users", headers=headers):
        address = user.get("mail") or user.get("userPrincipalName")
        if isinstance(address, str) and "@" in address:
            found.append(address.strip().lower())
    return sorted(set(found))


# Directory filters Graph answers only as "advanced queries" (ConsistencyLevel: eventual and $count=true).
_ADVANCED = re.compile(r"\b(endswith\s*\(|not\b|ne\b)|\$search", re.IGNORECASE)


def users_query(users_filter: str | None) -> tuple[str, dict[str, str] | None]:
    """The ``/users`` request for ``users_filter``: the URL, and the headers an advanced query needs."""
    query = "/users?$select=mail,userPrincipalName"
    if not users_filter:
        return query, None
    query += "&$filter=" + quote(users_filter, safe="(),'@")
    if _ADVANCED.search(users_filter):
        return query + "&$count=true", {"ConsistencyLevel": "eventual"}
    return query, None
