"""`tiepulse connect google` (typer-free; the CLI module wires it in).

``connect_google`` runs the OAuth installed-app flow and saves the token (0600) under ``$TIEPULSE_HOME/google/``.
Syncing is provider-neutral (``tiepulse.cli.sync_runner.sync_provider`` with the registry's ``GOOGLE``).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tiepulse.connectors.google import SCOPES, GoogleSettings
from tiepulse.connectors.google.auth import (
    SCOPE_REASONS,
    authorized_http,
    run_installed_app_flow,
    save_personal_token,
)
from tiepulse.core.private_files import private_home
from tiepulse.core.settings import Settings
from tiepulse.pipelines.providers.google import google_options


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

    private_home(settings.home)
    endpoints = GoogleSettings()
    scopes = list(SCOPES.values())
    console.print("tiepulse asks Google for two read-only permissions:")
    for scope in scopes:
        console.print(f"  [bold]{scope.rsplit('/', 1)[-1]}[/bold] - {SCOPE_REASONS[scope]}")
    console.print("Nothing is sent anywhere: the token stays in this machine's TIEPULSE_HOME, readable only by you.")
    credentials = run_installed_app_flow(client_secrets, scopes, endpoints, open_browser=open_browser, browser=browser)
    http = authorized_http(credentials, google_options(settings).http.timeout_seconds)
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
