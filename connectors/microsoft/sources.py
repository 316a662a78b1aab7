"""Build the Outlook sync sources for the settings: who connects (app-only or personal) and which mailboxes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tiepulse.connectors.base import ImportContext
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.microsoft.auth import (
    AppTokenProvider,
    Connection,
    DelegatedTokenProvider,
    MicrosoftAuthError,
    TokenProvider,
)
from tiepulse.connectors.microsoft.calendar import OutlookCalendarSource
from tiepulse.connectors.microsoft.graph import GraphClient
from tiepulse.connectors.microsoft.mail import OutlookMailSource
from tiepulse.connectors.microsoft.settings import MicrosoftOptions, MicrosoftSettings, load_options, load_settings
from tiepulse.connectors.microsoft.transport import GraphSession, trust_bundle
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import ConfigError, Settings

SOURCES = ("outlook", "outlook_calendar")


def source_name(value: str | None) -> str | None:
    """``outlook`` / ``outlook_calendar`` from a CLI spelling (``outlook-calendar`` too); None means both."""
    if value is None:
        return None
    name = value.strip().lower().replace("-", "_")
    if name not in SOURCES:
        raise ConfigError(f"unknown Microsoft source {value!r}; use outlook or outlook-calendar")
    return name


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
    settings: Settings, *, policy: RetryPolicy | None = None, ms: MicrosoftSettings | None = None
) -> MicrosoftConnection:
    """Token provider and Graph client from the environment, the config file and ``$TIEPULSE_HOME``."""
    ms = ms or load_settings()
    options = load_options(settings)
    policy = policy or RetryPolicy(max_attempts=options.max_attempts)
    verify = trust_bundle(ms.ca_bundle)
    token_session = GraphSession(verify=verify, timeout=options.timeout_seconds, retry=policy)
    tokens: TokenProvider
    personal: str | None = None
    if ms.app_only:
        tokens = AppTokenProvider(ms, token_session)
        hint = "Check the app registration's credentials and admin consent (docs/connectors/microsoft.md)."
    else:
        saved = Connection.load(settings.home)
        if saved is None:
            raise MicrosoftAuthError(
                "Microsoft is not configured: set TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and "
                "TIEPULSE_MS_CLIENT_SECRET (or TIEPULSE_MS_CERTIFICATE_PATH) for an organisation, or run "
                "`tiepulse connect microsoft --client-id ID` for your own mailbox."
            )
        delegated = DelegatedTokenProvider(ms, token_session, settings.home, saved.client_id, saved.tenant)
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


def mailboxes(settings: Settings, conn: MicrosoftConnection, ctx: ImportContext) -> list[str]:
    """The mailboxes to read: the personal account, else per ``microsoft.mailboxes_from``."""
    if conn.personal_account is not None:
        return [conn.personal_account]
    options = conn.options
    if options.mailboxes_from == "graph":
        query, headers = users_query(options.users_filter)
        found = []
        for user in conn.client.paged(query, mailbox="/users", headers=headers):
            address = user.get("mail") or user.get("userPrincipalName")
            if isinstance(address, str) and "@" in address:
                found.append(address.strip().lower())
        return sorted(set(found))
    if options.mailboxes_from == "directory":
        return _directory_mailboxes(settings.config.directory_file, ctx)
    listed = options.mailboxes or [e.email.strip().lower() for e in settings.config.egos]
    if not listed:
        raise ConfigError(
            "no mailboxes to read: list them under microsoft.mailboxes in the config file, add egos, or set "
            "microsoft.mailboxes_from to directory or graph"
        )
    return list(dict.fromkeys(listed))


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


def _directory_mailboxes(path: Path | None, ctx: ImportContext) -> list[str]:
    from tiepulse.connectors.csv_files import CsvFileSource

    if path is None:
        raise ConfigError("microsoft.mailboxes_from is 'directory' but the config has no directory_file")
    # Read addresses in clear (the directory's primary email is the mailbox Graph knows).
    clear = ImportContext(plausibility=ctx.plausibility, calendar_window=ctx.calendar_window, fold_gmail=False)
    found: list[str] = []
    for page in CsvFileSource(path, "directory").pages("", clear, None):
        table = page.rows.get("raw.directory")
        if table is None:
            continue
        for row in table.select(["email", "is_internal"]).to_pylist():
            if row["email"] and row["is_internal"] is not False:
                found.append(row["email"])
    return list(dict.fromkeys(found))


def microsoft_sources(
    settings: Settings,
    *,
    source: str | None = None,
    account: str | None = None,
    policy: RetryPolicy | None = None,
    ctx: ImportContext | None = None,
) -> list[SyncSource]:
    """One source per mailbox and kind (``outlook``, ``outlook_calendar``), filtered by ``source`` / ``account``."""
    if ctx is None:
        from tiepulse.core.import_context import build_import_context  # the settings -> context rules live there

        ctx = build_import_context(settings)
    wanted = source_name(source)
    conn = connect(settings, policy=policy)
    normaliser = ctx.normaliser()
    window = conn.options.calendar_window(
        settings.as_of,
        settings.config.imports.calendar_window_days_back,
        settings.config.imports.calendar_window_days_ahead,
    )
    boxes = mailboxes(settings, conn, ctx)
    if account is not None:
        target = account.strip().lower()
        chosen = [m for m in boxes if m == target or normaliser.normalise(m) == target]
        if not chosen:
            shown = ", ".join(boxes[:5]) + (" ..." if len(boxes) > 5 else "")
            raise ConfigError(f"{account} is not among the Microsoft mailboxes to sync ({shown})")
        boxes = chosen
    found: list[SyncSource] = []
    for mailbox in boxes:
        stored = normaliser.normalise(mailbox)
        if stored is None:
            raise ConfigError(f"mailbox {mailbox!r} is not a valid email address")
        if wanted in (None, "outlook"):
            found.append(OutlookMailSource(conn.client, mailbox, stored, ctx, conn.options))
        if wanted in (None, "outlook_calendar"):
            found.append(OutlookCalendarSource(conn.client, mailbox, stored, ctx, conn.options, window))
    return found
