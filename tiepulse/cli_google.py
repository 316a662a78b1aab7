"""`tiepulse connect google` and `tiepulse sync` for Google accounts (typer-free; the CLI module wires them).

``connect_google`` runs the OAuth installed-app flow and saves the token (0600) under ``$TIEPULSE_HOME/google/``.
``sync_google`` syncs every account (or one), one progress bar per account and source, and returns a summary; an
account that fails is reported and the others go on. The caller refreshes staging and marts afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.google import SCOPES, GoogleError, google_sources
from connectors.google.auth import (
    SCOPE_REASONS,
    authorized_http,
    run_installed_app_flow,
    save_personal_token,
)
from connectors.google.settings import GoogleSettings, load_options
from connectors.http.retry import RetryableError, RetryPolicy
from tiepulse.settings import ConfigError, Settings


@dataclass(slots=True)
class AccountSync:
    account: str
    source: str
    status: str
    """``ok`` or ``failed``"""
    inserted: int = 0
    removed: int = 0
    quarantined: int = 0
    pages: int = 0
    resyncs: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass(slots=True)
class GoogleSyncSummary:
    accounts: list[AccountSync] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.status == "ok" for a in self.accounts)

    @property
    def failed(self) -> list[AccountSync]:
        return [a for a in self.accounts if a.status != "ok"]

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping-style access to ``as_dict()`` (the CLI reads ``accounts``)."""
        return self.as_dict().get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": len({a.account for a in self.accounts}),
            "failed": [f"{a.source}:{a.account}" for a in self.failed],
            "inserted": sum(a.inserted for a in self.accounts),
            "removed": sum(a.removed for a in self.accounts),
            "quarantined": sum(a.quarantined for a in self.accounts),
        }


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


def sync_google(
    settings: Settings,
    source: str | None,
    account: str | None,
    console: Console,
    *,
    retry: RetryPolicy | None = None,
) -> GoogleSyncSummary:
    """Sync Gmail and/or Calendar for every account (or ``account``); one failing account does not stop the rest."""
    from pipelines.google_sync import sync_google_source
    from pipelines.loader import LoadResult
    from tiepulse.runlog import record_run
    from tiepulse.warehouse import open_warehouse

    summary = GoogleSyncSummary()
    sources = google_sources(settings, source=source, account=account, retry=retry)
    if not sources:
        raise ConfigError(
            "no Google account to sync: run `tiepulse connect google --client-secrets FILE`, or set "
            "TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE and google.users (docs/connectors/google.md)"
        )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with open_warehouse(settings.warehouse_path) as con, progress, record_run(con, "sync") as run:
        for built in sources:
            label = f"{'Gmail' if built.source == 'gmail' else 'Calendar'} {built.account}"
            task = progress.add_task(label, total=None, note="starting")
            state = getattr(built, "progress", None)
            outcome = AccountSync(built.account, built.source, "ok")
            total = LoadResult()

            def on_page(
                stream: str, result: LoadResult, task: Any = task, state: Any = state, total: LoadResult = total
            ) -> None:
                total.add(result)
                note = f"{sum(total.inserted.values()):,} rows"
                if state is not None and state.phase:
                    note += f", {state.phase}"
                done = state.done if state is not None else total.pages
                progress.update(task, completed=done, total=state.total if state is not None else None, note=note)

            started = time.monotonic()
            try:
                sync_google_source(con, built, on_page=on_page)
            except (GoogleError, RetryableError, ConfigError, OSError) as exc:
                outcome.status, outcome.error = "failed", str(exc)
                progress.update(task, note="[red]failed[/red]")
            else:
                progress.update(task, note=f"{sum(total.inserted.values()):,} rows, done")
            outcome.seconds = time.monotonic() - started
            outcome.inserted = sum(total.inserted.values())
            outcome.removed = sum(total.removed.values())
            outcome.quarantined = total.quarantined
            outcome.pages = total.pages
            outcome.resyncs = getattr(built, "resyncs", 0)
            summary.accounts.append(outcome)
        run.update(kind="google", **summary.as_dict())
    _print(summary, console)
    return summary


def _print(summary: GoogleSyncSummary, console: Console) -> None:
    table = Table(title="Google sync")
    for column in ("account", "source", "status", "rows added", "removed", "quarantined", "seconds"):
        table.add_column(
            column, justify="right" if column in ("rows added", "removed", "quarantined", "seconds") else "left"
        )
    for a in summary.accounts:
        status = "ok" if a.status == "ok" else "[red]failed[/red]"
        if a.resyncs:
            status += f" ({a.resyncs} full resync)"
        table.add_row(
            a.account, a.source, status, f"{a.inserted:,}", f"{a.removed:,}", f"{a.quarantined:,}", f"{a.seconds:.1f}"
        )
    console.print(table)
    for a in summary.failed:
        console.print(f"[red]{a.source} {a.account}:[/red] {a.error}")
