"""`tiepulse connect google` and `tiepulse sync` for Google accounts (typer-free; the CLI module wires them).

``connect_google`` runs the OAuth installed-app flow and saves the token (0600) under ``$TIEPULSE_HOME/google/``.
``sync_google`` syncs every account (or one) through the source-neutral runner (``tiepulse/sync_runner.py``): one
progress bar per account and source, and an account that fails is reported while the others go on. The caller
prints the summary and refreshes staging and marts afterwards.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tiepulse.cli.sync_runner import NotSetUp, Provider, RetryWatch, SyncReport, run_sync
from tiepulse.connectors.google import (
    SCOPES,
    CalendarSource,
    GmailSource,
    GoogleAuthError,
    GoogleError,
    google_sources,
    list_accounts,
)
from tiepulse.connectors.google.auth import (
    SCOPE_REASONS,
    authorized_http,
    run_installed_app_flow,
    save_personal_token,
)
from tiepulse.connectors.google.settings import GoogleSettings, load_options
from tiepulse.connectors.google.sources import retry_policy
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import Settings
from tiepulse.pipelines.google_sync import sync_google_source


def connect_google(
    client_secrets: Path,
    settings: Settings,
    console: Console,
    *,
    open_browser: bool = True,
    browser: str | None = None,
) -> str:
    """Authorise tiepulse for one Google account; save its token; return the account's address."""
    from googleapiclient.discovery import build

    endpoints = GoogleSettings()
    scopes = list(SCOPES.values())
    console.print("tiepulse asks Google for two read-only permissions:")
    for scope in scopes:
        console.print(f"  [bold]{scope.rsplit('/', 1)[-1]}[/bold] - {SCOPE_REASONS[scope]}")
    console.print("Nothing is sent anywhere: the token stays in this machine's TIEPULSE_HOME, readable only by you.")
    credentials = run_installed_app_flow(client_secrets, scopes, endpoints, open_browser=open_browser, browser=browser)
    http = authorized_http(credentials, load_options(settings).http.timeout_seconds)
    gmail = build(
        "gmail",
        "v1",
        http=http,
        client_options={"api_endpoint": endpoints.gmail_endpoint},
        static_discovery=True,
        cache_discovery=False,
    )
    profile = gmail.users().getProfile(userId="me").execute(num_retries=3)
    account = str(profile["emailAddress"]).strip().lower()
    path = save_personal_token(settings.home, account, credentials)
    console.print(f"Connected [bold]{account}[/bold]; token saved to {path} (mode 0600).")
    console.print(
        "Run `tiepulse sync` to read it. To disconnect, delete that file and remove tiepulse at "
        "https://myaccount.google.com/permissions."
    )
    return account


def _retries(source: SyncSource) -> int:
    return source.caller.stats.retries if isinstance(source, GmailSource | CalendarSource) else 0


def _explain(exc: BaseException) -> str:
    if isinstance(exc, GoogleError) and not isinstance(exc, GoogleAuthError) and "HTTP 403" in str(exc):
        return (
            "Google refused access: reconnect with `tiepulse connect google` and allow both permissions, or (an "
            "organisation) check the domain-wide delegation scopes in docs/connectors/google.md"
        )
    return ""


GOOGLE = Provider("Google", run=sync_google_source, retries=_retries, explain=_explain)


def sync_google(
    settings: Settings,
    source: str | None,
    account: str | None,
    console: Console,
    *,
    retry: RetryPolicy | None = None,
) -> SyncReport:
    """Sync Gmail and/or Calendar for every account (or ``account``); one failing account does not stop the rest.

    Raises ``NotSetUp`` when no Google account is connected or configured (or ``account`` is not one of them).
    """
    options = load_options(settings)
    known = [a.address for a in list_accounts(settings, options)]
    if not known:
        raise NotSetUp(
            "no Google account: run `tiepulse connect google --client-secrets FILE`, or set "
            "TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE and google.users (docs/connectors/google.md)"
        )
    if account is not None and account.strip().lower() not in known:
        raise NotSetUp(f"{account} is not a Google account tiepulse knows ({', '.join(known[:5])})")
    watch = RetryWatch()
    policy = watch.wrap(retry or retry_policy(options))
    sources = google_sources(settings, source=source, account=account, retry=policy)
    return run_sync(settings, GOOGLE, sources, console, watch)
