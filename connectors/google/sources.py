"""Which Google accounts to sync and how: ``google_sources`` builds one ``SyncSource`` per account and API.

Accounts come from the personal tokens saved by `tiepulse connect google` (``$TIEPULSE_HOME/google/``) and, when
``TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE`` is set, from ``google.users`` in the config (a list, or ``directory``: the
internal people of the directory CSV), each read as itself through domain-wide delegation. Listing accounts
never calls Google.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from google.auth.credentials import Credentials

from connectors.base import ImportContext
from connectors.google.auth import (
    SCOPES,
    Account,
    authorized_http,
    delegated_credentials,
    load_personal_credentials,
    personal_accounts,
)
from connectors.google.calendar import CalendarSource
from connectors.google.client import GoogleCaller
from connectors.google.errors import reconnect_hint
from connectors.google.gmail import GmailSource
from connectors.google.settings import GoogleOptions, GoogleSettings, load_options
from connectors.http.pacing import QuotaPacer
from connectors.http.retry import RetryPolicy
from connectors.sync_source import SyncSource
from tiepulse.settings import ConfigError, Settings

SOURCES = ("gmail", "gcal")


def directory_users(settings: Settings, ctx: ImportContext) -> list[str]:
    """Internal people of the configured directory CSV (``is_internal`` not false; ``internal_domains`` when set)."""
    from connectors.csv_files import CsvFileSource

    path = settings.config.directory_file
    if path is None:
        raise ConfigError("google.users is 'directory' but no directory_file is configured")
    if not Path(path).is_file():
        raise ConfigError(f"google.users is 'directory' but the directory file {path} does not exist")
    domains = {d.lower() for d in settings.config.identity.internal_domains}
    users: list[str] = []
    for page in CsvFileSource(Path(path), "directory").pages("", ctx, None):
        for row in page.rows.get("raw.directory", _empty()).to_pylist():
            email = row.get("email")
            if not email or row.get("is_internal") is False:
                continue
            if domains and email.rsplit("@", 1)[-1] not in domains:
                continue
            users.append(email)
    return list(dict.fromkeys(users))


def _empty() -> pa.Table:
    from connectors.raw_schemas import DIRECTORY

    return DIRECTORY.empty_table()


def list_accounts(settings: Settings, options: GoogleOptions | None = None) -> list[Account]:
    """Every account tiepulse can sync: personal tokens first, then the service account's users."""
    from pipelines.file_import import build_import_context

    options = options or load_options(settings)
    endpoints = GoogleSettings()
    accounts = {a.address: a for a in personal_accounts(settings.home)}
    if endpoints.service_account_file is not None:
        if options.users == "directory":
            users = directory_users(settings, build_import_context(settings))
        else:
            users = list(options.users)
        for user in users:
            accounts.setdefault(user, Account(user, "delegated"))
    elif options.users:
        raise ConfigError(
            "google.users is set but TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE is not: organisation mode reads each user "
            "through a service account with domain-wide delegation (docs/connectors/google.md)"
        )
    return list(accounts.values())


def google_sources(
    settings: Settings,
    *,
    source: str | None = None,
    account: str | None = None,
    ctx: ImportContext | None = None,
    retry: RetryPolicy | None = None,
) -> list[SyncSource]:
    """Sync sources for every account (or only ``account``) and API (or only ``source``: gmail | gcal)."""
    from pipelines.file_import import build_import_context

    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown Google source {source!r}; expected one of {SOURCES}")
    options = load_options(settings)
    endpoints = GoogleSettings()
    ctx = ctx or build_import_context(settings)
    accounts = list_accounts(settings, options)
    if account is not None:
        wanted = account.strip().lower()
        accounts = [a for a in accounts if a.address == wanted]
        if not accounts:
            raise ConfigError(
                f"no Google account {account!r}: connect it with `tiepulse connect google`, or list it under "
                "google.users with a service account"
            )
    policy = retry or RetryPolicy(
        max_attempts=options.http.max_attempts,
        base_delay=options.http.base_delay,
        max_delay=options.http.max_delay,
        max_retry_after=options.http.max_retry_after,
    )
    built: list[SyncSource] = []
    for acct in accounts:
        for name in SOURCES if source is None else (source,):
            built.append(_build(name, acct, settings, options, endpoints, ctx, policy))
    return built


def _pacer(options: GoogleOptions, name: str, batch_units: float) -> QuotaPacer:
    quota = options.quota
    per_minute = quota.gmail_units_per_minute if name == "gmail" else quota.calendar_requests_per_minute
    budget = per_minute * quota.headroom
    burst = max(budget / 60 * quota.burst_seconds, batch_units)
    return QuotaPacer(budget=budget, period=60.0, costs=quota.cost_table(), burst=burst)


def _build(
    name: str,
    account: Account,
    settings: Settings,
    options: GoogleOptions,
    endpoints: GoogleSettings,
    ctx: ImportContext,
    retry: RetryPolicy,
) -> SyncSource:
    scopes = [SCOPES[name]]
    credentials: Credentials
    if account.kind == "personal":
        assert account.token_file is not None
        credentials = load_personal_credentials(account.token_file, endpoints, scopes)
    else:
        credentials = delegated_credentials(endpoints, account.address, scopes)
    http = authorized_http(credentials, options.http.timeout_seconds)
    hint = reconnect_hint(account.address, personal=account.kind == "personal")
    if name == "gmail":
        batch_units = options.quota.cost_table()["gmail.messages.get"] * options.gmail.batch_size
        caller = GoogleCaller(
            http,
            pacer=_pacer(options, name, batch_units),
            retry=retry,
            auth_hint=hint,
            batch_uri=endpoints.gmail_batch_uri,
            batch_size=options.gmail.batch_size,
        )
        return GmailSource(
            account.address, caller=caller, endpoint=endpoints.gmail_endpoint, options=options.gmail, ctx=ctx
        )
    caller = GoogleCaller(http, pacer=_pacer(options, name, 1), retry=retry, auth_hint=hint)
    return CalendarSource(
        account.address,
        caller=caller,
        endpoint=endpoints.calendar_endpoint,
        options=options.calendar,
        ctx=ctx,
        window_days_back=settings.config.imports.calendar_window_days_back,
    )
