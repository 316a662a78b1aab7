"""Google: Gmail and Google Calendar, one partition per account (see docs/connectors/google.md).

Accounts come from the personal tokens saved by `tiepulse connect google` (``$TIEPULSE_HOME/google/``) and, when
``TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE`` is set, from ``google.users`` in the config (a list, or ``directory``: the
internal people of the directory CSV), each read as itself through domain-wide delegation. Listing accounts
never calls Google, and building the sources reads no credentials: an account whose token file or key is unusable
fails when it is synced, on its own. The connector modules load only when a source is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.import_context import address_normaliser, build_import_context
from tiepulse.core.settings import ConfigError, Settings
from tiepulse.pipelines.providers.accounts import account_id
from tiepulse.pipelines.providers.options import as_config_errors, problem_lines
from tiepulse.pipelines.providers.spec import ApiProvider, NotSetUp, RawTable, Schedule, Source

if TYPE_CHECKING:
    from tiepulse.connectors.base import ImportContext
    from tiepulse.connectors.google import Account, GoogleOptions

_MESSAGE_KEY = ("message_key", "mailbox_owner")
_EVENT_KEY = ("event_key", "calendar_owner")

GMAIL = Source(
    "gmail",
    "Gmail",
    RawTable("raw.gmail_messages", _MESSAGE_KEY, "keep", owner="mailbox_owner"),
    "raw.gmail_messages: Gmail metadata (headers and labels, never bodies), one partition per account",
)
GCAL = Source(
    "gcal",
    "Calendar",
    RawTable("raw.gcal_events", _EVENT_KEY, "replace", owner="calendar_owner"),
    "raw.gcal_events: Google Calendar events (no descriptions, titles only hashed), one partition per account",
)


def google_options(settings: Settings | None = None, data: dict[str, Any] | None = None) -> GoogleOptions:
    """``GoogleOptions`` from ``settings.config.google`` (or ``data``), with errors naming each field."""
    from tiepulse.connectors.google import GoogleOptions

    raw = data if data is not None else (settings.config.google if settings is not None else {})
    try:
        return GoogleOptions.model_validate(raw or {})
    except ValidationError as exc:
        where = f" in {settings.config_file}" if settings is not None and settings.config_file else ""
        raise ConfigError(f"invalid google: section{where}\n" + problem_lines(exc, "google")) from None


def directory_users(settings: Settings, ctx: ImportContext) -> list[str]:
    """Internal people of the configured directory CSV (``is_internal`` not false; ``internal_domains`` when set)."""
    from tiepulse.pipelines.providers.directory import internal_people

    path = settings.config.directory_file
    if path is None:
        raise ConfigError("google.users is 'directory' but no directory_file is configured")
    if not Path(path).is_file():
        raise ConfigError(f"google.users is 'directory' but the directory file {path} does not exist")
    domains = {d.lower() for d in settings.config.identity.internal_domains}
    return internal_people(Path(path), ctx, domains)


def list_accounts(settings: Settings, options: GoogleOptions | None = None) -> list[Account]:
    """Every account tiepulse can sync: personal tokens first, then the service account's users."""
    from tiepulse.connectors.google import Account, GoogleSettings
    from tiepulse.connectors.google.auth import personal_accounts

    options = options or google_options(settings)
    accounts = {a.address: a for a in personal_accounts(settings.home)}
    if GoogleSettings().service_account_file is not None:
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


def _not_set_up(settings: Settings) -> str | None:
    if list_accounts(settings):
        return None
    return (
        "no Google account: run `tiepulse connect google --client-secrets FILE`, or set "
        "TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE and google.users (docs/connectors/google.md)"
    )


def _retry_policy(settings: Settings) -> RetryPolicy:
    from tiepulse.connectors.google import retry_policy

    return retry_policy(google_options(settings))


def google_sources(
    settings: Settings,
    *,
    source: str | None = None,
    account: str | None = None,
    retry: RetryPolicy | None = None,
) -> list[SyncSource]:
    """Sync sources for every account (or only ``account``) and API (or only ``source``: gmail | gcal)."""
    from tiepulse.connectors.google import GoogleSettings, build_source, retry_policy

    options = google_options(settings)
    normaliser = address_normaliser(settings)
    accounts = list_accounts(settings, options)
    if account is not None:
        wanted = account.strip().lower()
        known = [account_id(normaliser, a.address) for a in accounts]
        accounts = [a for a, key in zip(accounts, known, strict=True) if wanted in (a.address, key)]
        if not accounts:
            raise NotSetUp(f"{account} is not a Google account tiepulse knows ({', '.join(known[:5])})")
    endpoints = GoogleSettings()
    ctx = build_import_context(settings)
    policy = retry or retry_policy(options)
    names = [s.name for s in GOOGLE.chosen(source)]
    with as_config_errors():
        return [
            build_source(
                name,
                acct,
                owner=account_id(normaliser, acct.address),
                options=options,
                endpoints=endpoints,
                ctx=ctx,
                retry=policy,
                window_days_back=settings.config.imports.calendar_window_days_back,
            )
            for acct in accounts
            for name in names
        ]


def _retries(source: SyncSource) -> int:
    from tiepulse.connectors.google import CalendarSource, GmailSource

    return source.caller.stats.retries if isinstance(source, GmailSource | CalendarSource) else 0


def _explain(exc: BaseException) -> str:
    from tiepulse.connectors.google import GoogleAuthError, GoogleError

    if isinstance(exc, GoogleError) and not isinstance(exc, GoogleAuthError) and "HTTP 403" in str(exc):
        return (
            "Google refused access: reconnect with `tiepulse connect google` and allow both permissions, or (an "
            "organisation) check the domain-wide delegation scopes in docs/connectors/google.md"
        )
    return ""


GOOGLE = ApiProvider(
    key="google",
    name="Google",
    sources=(GMAIL, GCAL),
    partitions="google_accounts",
    # every morning, an hour before the daily refresh rebuilds staging and marts
    schedule=Schedule(cron="0 5 * * *", running=True),
    accounts=lambda settings: [a.address for a in list_accounts(settings)],
    not_set_up=_not_set_up,
    build=google_sources,
    retry_policy=_retry_policy,
    retries=_retries,
    explain=_explain,
)
