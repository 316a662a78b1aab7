"""The Microsoft parts of the command line, free of typer so the CLI module only wires them in.

``connect_microsoft`` runs the device-code sign-in for a personal mailbox; ``sync_microsoft`` syncs every
configured mailbox (full sync first, delta after) with a progress bar per mailbox and returns a summary.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import TaskID

from tiepulse.progress import work_progress
from tiepulse.settings import Settings


def connect_microsoft(client_id: str, tenant: str | None, settings: Settings, console: Console) -> str:
    """Sign in with the device code flow, keep the token cache (0600) under ``$TIEPULSE_HOME``; return the account."""
    from connectors.microsoft.auth import PERMISSIONS_WHY, Connection, DelegatedTokenProvider, MicrosoftAuthError
    from connectors.microsoft.settings import load_options, load_settings
    from connectors.microsoft.transport import GraphSession, trust_bundle

    ms = load_settings()
    options = load_options(settings)
    tenant = tenant or "common"
    console.print("tiepulse asks Microsoft for these delegated permissions, read-only:")
    for name, why in PERMISSIONS_WHY.items():
        console.print(f"  [bold]{name}[/bold]: {why}")
    console.print("It never reads message bodies, attachments or meeting descriptions.\n")
    from connectors.http.retry import RetryPolicy

    session = GraphSession(
        verify=trust_bundle(ms.ca_bundle),
        timeout=options.timeout_seconds,
        retry=RetryPolicy(max_attempts=options.max_attempts),
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    provider = DelegatedTokenProvider(ms, session, settings.home, client_id, tenant)
    claims = provider.device_flow(lambda text: console.print(text))
    accounts = provider.app.get_accounts()
    account = str(claims.get("preferred_username") or (accounts[0].get("username") if accounts else "") or "")
    if "@" not in account:
        raise MicrosoftAuthError("signed in, but Microsoft did not say which mailbox this is (no username)")
    Connection(client_id, tenant, account.lower()).save(settings.home)
    console.print(f"Connected [bold]{account}[/bold]. Token cache: {provider.cache_path} (readable by you only).")
    console.print("Run `tiepulse sync --source outlook` to read your mail, `--source outlook-calendar` your calendar.")
    return account.lower()


def sync_microsoft(settings: Settings, source: str | None, account: str | None, console: Console) -> dict[str, Any]:
    """Sync Outlook mail / calendar for every configured mailbox (or ``account``); one progress bar per mailbox.

    Returns ``{"mailboxes": n, "inserted": {table: rows}, "removed": {...}, "quarantined": n, "pages": n,
    "resyncs": n}``. Downstream refresh is the caller's (``tiepulse sync`` runs it once for all sources).
    """
    from connectors.microsoft.sources import microsoft_sources
    from pipelines.loader import LoadResult
    from pipelines.sync import sync_account
    from tiepulse.runlog import record_run
    from tiepulse.warehouse import open_warehouse

    sources = microsoft_sources(settings, source=source, account=account)
    total = LoadResult()
    with (
        open_warehouse(settings.warehouse_path) as con,
        work_progress(console) as progress,
        record_run(con, "sync") as summary,
    ):
        tasks: dict[str, TaskID] = {}
        counts: dict[str, int] = {}
        for src in sources:
            label = f"{src.account} ({src.source})"
            tasks[label] = progress.add_task(label[:60], total=None, rows="starting")
            counts[label] = 0

            def on_page(stream: str, result: LoadResult, label: str = label) -> None:
                counts[label] += sum(result.inserted.values())
                progress.update(tasks[label], advance=1, rows=f"{stream}: {counts[label]:,} new rows")

            result = sync_account(con, src, on_page=on_page)
            total.add(result)
            progress.update(tasks[label], total=1, completed=1, rows=f"{counts[label]:,} new rows, up to date")
        summary.update(
            source="microsoft",
            mailboxes=len({s.account for s in sources}),
            inserted=total.inserted,
            removed=total.removed,
            quarantined=total.quarantined,
            pages=total.pages,
            resyncs=sum(int(getattr(s, "resyncs", 0)) for s in sources),
        )
        report = dict(summary)
    added = ", ".join(f"{t}: {n:,}" for t, n in sorted(total.inserted.items())) or "nothing new"
    console.print(
        f"Microsoft: {report['mailboxes']} mailbox(es); rows added: {added}; removed: "
        f"{sum(total.removed.values()):,}; quarantined: {total.quarantined:,}"
    )
    return report
