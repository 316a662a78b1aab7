"""`tiepulse connect microsoft` (typer-free; the CLI module wires it in).

``connect_microsoft`` runs the device-code sign-in for a personal mailbox. Syncing is provider-neutral
(``tiepulse.cli.sync_runner.sync_provider`` with the registry's ``MICROSOFT``).
"""

from __future__ import annotations

from rich.console import Console

from tiepulse.core.private_files import private_home
from tiepulse.core.settings import Settings


def connect_microsoft(client_id: str, tenant: str | None, settings: Settings, console: Console) -> str:
    """Sign in with the device code flow, keep the token cache (0600) under ``$TIEPULSE_HOME``; return the account."""
    from tiepulse.connectors.microsoft.auth import (
        PERMISSIONS_WHY,
        Connection,
        DelegatedTokenProvider,
        MicrosoftAuthError,
    )
    from tiepulse.connectors.microsoft.transport import GraphSession, trust_bundle
    from tiepulse.pipelines.providers.microsoft import microsoft_options, microsoft_settings

    ms = microsoft_settings()
    options = microsoft_options(settings)
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
    private_home(settings.home)
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
