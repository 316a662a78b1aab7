"""Which Google accounts to sync and how: ``google_sources`` builds one ``SyncSource`` per account and API.

Accounts come from the personal tokens saved by `tiepulse connect google` (``$TIEPULSE_HOME/google/``) and, when
``TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE`` is set, from ``google.users`` in the config (a list, or ``directory``: the
internal people of the directory CSV), each read as itself through domain-wide delegation. Listing accounts
never calls Google, and building the sources reads no credentials: an account whose token file or key is unusable
fails when it is synced, on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from google.auth.credentials import Credentials

from tiepulse.connectors.base import ImportContext
from tiepulse.connectors.google.auth import (
    SCOPES,
    Account,
    authorized_http,
    delegated_credentials,
    load_personal_credentials,
    personal_accounts,
)
from tiepulse.connectors.google.calendar import CalendarSource
from tiepulse.connectors.google.client import GoogleCaller
from tiepulse.connectors.google.errors import reconnect_hint
from tiepulse.connectors.google.gmail import GmailSource
from tiepulse.connectors.google.settings import GoogleOptions, GoogleSettings, load_options
from tiepulse.connectors.http.pacing import QuotaPacer
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import ConfigError, Settings

SOURCES = ("gmail", "gcal")


def directory_users(settings: Settings, ctx: ImportContext) -> list[str]:
    """Internal people of the configured directory CSV (``is_internal`` not false; ``internal_domains`` when set)."""
    from tiepulse.connectors.csv_files import CsvFileSource

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
    from tiepulse.connectors.raw_schemas import DIRECTORY

    return DIRECTORY.empty_table()


def list_accounts(settings: Settings, options: GoogleOptions | None = None) -> list[Account]:
    """Every account tiepulse can sync: personal tokens first, then the service account's users."""
    from tiepulse.core.import_context import build_import_context

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
    from tiepulse.core.import_context import build_import_context

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
    policy = retry or retry_policy(options)
    built: list[SyncSource] = []
    for acct in accounts:
        for name in SOURCES if source is None else (source,):
            built.append(_build(name, acct, settings, options, endpoints, ctx, policy))
    return built


def retry_policy(options: GoogleOptions) -> RetryPolicy:
    """The retry policy of ``google.http``."""
    http = options.http
    return RetryPolicy(
        max_attempts=http.max_attempts,
        base_delay=http.base_delay,
        max_delay=http.max_delay,
        max_retry_after=http.max_retry_after,
    )


def quota_pacer(options: GoogleOptions, name: str, batch_units: float) -> QuotaPacer:
    """The pacer of one account and API: on average ``headroom`` of the budget a minute, and never more than the
    budget in any 60 seconds, the first included.

    A token bucket spends at most its burst (at least one batch, which leaves at once) plus its rate times the
    window; so the rate is the headroom's share of the budget, or what the burst leaves of it if that is less.
    """
    quota = options.quota
    per_minute = quota.gmail_units_per_minute if name == "gmail" else quota.calendar_requests_per_minute
    paced = per_minute * quota.headroom
    burst = max(paced / 60 * quota.burst_seconds, batch_units)
    if burst >= paced:
        raise ConfigError(
            f"one batch of google.gmail.batch_size calls costs {batch_units:.0f} units, as much as the pacer may "
            f"spend in a minute ({paced:.0f}): lower google.gmail.batch_size or raise "
            "google.quota.gmail_units_per_minute"
        )
    return QuotaPacer(budget=min(paced, per_minute - burst), period=60.0, costs=quota.cost_table(), burst=burst)


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

    def connect() -> Any:
        credentials: Credentials
        if account.kind == "personal":
            assert account.token_file is not None
            credentials = load_personal_credentials(account.token_file, endpoints, scopes)
        else:
            credentials = delegated_credentials(endpoints, account.address, scopes)
        return authorized_http(credentials, options.http.timeout_seconds)

    hint = reconnect_hint(account.address, personal=account.kind == "personal")
    if name == "gmail":
        batch_units = options.quota.cost_table()["gmail.messages.get"] * options.gmail.batch_size
        caller = GoogleCaller(
            connect,
            pacer=quota_pacer(options, name, batch_units),
            retry=retry,
            auth_hint=hint,
            batch_uri=endpoints.gmail_batch_uri,
            batch_size=options.gmail.batch_size,
        )
        return GmailSource(
            account.address, caller=caller, endpoint=endpoints.gmail_endpoint, options=options.gmail, ctx=ctx
        )
    caller = GoogleCaller(connect, pacer=quota_pacer(options, name, 1), retry=retry, auth_hint=hint)
    return CalendarSource(
        account.address,
        caller=caller,
        endpoint=endpoints.calendar_endpoint,
        options=options.calendar,
        ctx=ctx,
        window_days_back=settings.config.imports.calendar_window_days_back,
    )
