"""The Microsoft parts of the command line, free of typer so the CLI module only wires them in.

``connect_microsoft`` runs the device-code sign-in for a personal mailbox; ``sync_microsoft`` syncs every
configured mailbox (full sync first, delta after), each on its own, with a progress bar per mailbox, and returns
the report.
"""

from __future__ import annotations

from rich.console import Console

from tiepulse.cli.sync_runner import NotSetUp, Provider, RetryWatch, SyncReport, run_sync
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import Settings
from tiepulse.pipelines.sync import sync_account


def connect_microsoft(client_id: str, tenant: str | None, settings: Settings, console: Console) -> str:
    """Sign in with the device code flow, keep the token cache (0600) under ``$TIEPULSE_HOME``; return the account."""
    from tiepulse.connectors.microsoft.auth import (
        PERMISSIONS_WHY,
        Connection,
        DelegatedTokenProvider,
        MicrosoftAuthError,
    )
    from tiepulse.connectors.microsoft.settings import load_options, load_settings
    from tiepulse.connectors.microsoft.transport import GraphSession, trust_bundle

    ms = load_settings()
    options = load_options(settings)
    tenant = tenant or "common"
    console.print("tiepulse asks Microsoft for these delegated permissions, read-only:")
    for name, why in PERMISSIONS_WHY.items():
        console.print(f"  [bold]{name}[/bold]: {why}")
    console.print("It never reads message bodies, attachments or meeting descriptions.\n")
    from tiepulse.connectors.http.retry import RetryPolicy

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


def _retries(source: SyncSource) -> int:
    from tiepulse.connectors.microsoft import OutlookCalendarSource, OutlookMailSource

    # one client serves every mailbox of a sync: the runner counts the difference across each account
    return source.client.retries if isinstance(source, OutlookMailSource | OutlookCalendarSource) else 0


def _explain(exc: BaseException) -> str:
    from tiepulse.cli.sync_runner import RESUME_HINT
    from tiepulse.connectors.microsoft.graph import GraphUnavailable

    if isinstance(exc, GraphUnavailable):  # the retries ran out (its message names the call that gave up)
        return RESUME_HINT
    if "MailboxNotEnabledForRESTAPI" in str(exc):
        return (
            "Graph has no Exchange Online mailbox under this address (a typo, an unlicensed or on-premises "
            "user, or a shared mailbox without a licence): correct it, or remove it from microsoft.mailboxes "
            "(or the directory file)"
        )
    return ""


MICROSOFT = Provider("Microsoft", run=sync_account, retries=_retries, explain=_explain, accounts_key="mailboxes")


def sync_microsoft(settings: Settings, source: str | None, account: str | None, console: Console) -> SyncReport:
    """Sync Outlook mail / calendar for every configured mailbox (or ``account``), each on its own, through the
    source-neutral runner (``tiepulse/sync_runner.py``); one progress bar per mailbox.

    Returns the report (as a mapping: ``{"mailboxes": n, "inserted": {table: rows}, "updated": ..., "removed":
    ..., "quarantined": n, "pages": n, "resyncs": n, "retries": n, "failed": [...]}``, what ``ops.runs`` holds).
    Raises ``NotSetUp`` when Microsoft is neither connected nor configured, or ``account`` is not a mailbox to sync.
    Downstream refresh is the caller's (``tiepulse sync`` runs it once for all sources).
    """
    from tiepulse.connectors.http.retry import RetryPolicy
    from tiepulse.connectors.microsoft.auth import CONNECTION_FILE
    from tiepulse.connectors.microsoft.settings import load_options, load_settings
    from tiepulse.connectors.microsoft.sources import microsoft_sources
    from tiepulse.core.import_context import build_import_context

    if not load_settings().app_only and not (settings.home / CONNECTION_FILE).is_file():
        raise NotSetUp(
            "Microsoft is not set up: run `tiepulse connect microsoft --client-id ID` for your own mailbox, or set "
            "TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and TIEPULSE_MS_CLIENT_SECRET for an organisation "
            "(docs/connectors/microsoft.md)"
        )
    watch = RetryWatch()
    policy = watch.wrap(RetryPolicy(max_attempts=load_options(settings).max_attempts))
    ctx = build_import_context(settings)
    sources = microsoft_sources(settings, source=source, policy=policy, ctx=ctx)
    if account is not None:
        target = account.strip().lower()
        normalised = ctx.normaliser().normalise(target)
        chosen = [s for s in sources if s.account in (target, normalised)]
        if not chosen:
            shown = ", ".join(sorted({s.account for s in sources})[:5])
            raise NotSetUp(f"{account} is not among the Microsoft mailboxes to sync ({shown})")
        sources = chosen
    return run_sync(settings, MICROSOFT, sources, console, watch)
