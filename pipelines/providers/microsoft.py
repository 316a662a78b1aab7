"""Microsoft: Outlook mail and calendar through Graph, one partition per mailbox (docs/connectors/microsoft.md).

Who connects: app-only access when ``TIEPULSE_MS_*`` hold client credentials (an organisation), else the personal
connection saved by `tiepulse connect microsoft`. Which mailboxes: the personal account, else per
``microsoft.mailboxes_from``: ``config`` (``microsoft.mailboxes``, or the egos), ``directory`` (internal rows of the
directory CSV) or ``graph`` (the tenant's ``/users``). The connector modules load only when they are needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from tiepulse.connectors.base import ImportContext
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import ConfigError, Settings
from tiepulse.pipelines.providers.accounts import account_id
from tiepulse.pipelines.providers.options import problem_lines
from tiepulse.pipelines.providers.spec import RESUME_HINT, ApiProvider, NotSetUp, RawTable, Schedule, Source

if TYPE_CHECKING:
    from tiepulse.connectors.microsoft import MicrosoftConnection, MicrosoftOptions, MicrosoftSettings

OUTLOOK = Source(
    "outlook",
    "Outlook",
    RawTable("raw.graph_messages", ("message_key", "mailbox_owner"), "keep", owner="mailbox_owner", copied=True),
    "raw.graph_messages: Outlook mail headers through Microsoft Graph (delta per folder)",
)
OUTLOOK_CALENDAR = Source(
    "outlook_calendar",
    "Outlook calendar",
    RawTable("raw.graph_events", ("event_key", "calendar_owner"), "replace", owner="calendar_owner", copied=True),
    "raw.graph_events: Outlook calendar events through Microsoft Graph (calendarView delta)",
)


def microsoft_options(settings: Settings) -> MicrosoftOptions:
    """Validate ``settings.config.microsoft``, failing with the field and what is expected."""
    from tiepulse.connectors.microsoft import MicrosoftOptions

    try:
        return MicrosoftOptions.model_validate(settings.config.microsoft)
    except ValidationError as exc:
        where = settings.config_file or "config"
        raise ConfigError(f"{where}: invalid microsoft section\n" + problem_lines(exc, "microsoft")) from None


def microsoft_settings() -> MicrosoftSettings:
    """Where to connect, from ``TIEPULSE_MS_*`` / ``TIEPULSE_GRAPH_ENDPOINT`` / ``TIEPULSE_CA_BUNDLE``."""
    from tiepulse.connectors.microsoft import MicrosoftSettings

    try:
        return MicrosoftSettings()
    except ValidationError as exc:
        problems = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(
            "bad Microsoft environment setting (TIEPULSE_MS_* / TIEPULSE_GRAPH_ENDPOINT / "
            "TIEPULSE_CA_BUNDLE)\n" + "\n".join(problems)
        ) from None


def microsoft_connection(settings: Settings, *, retry: RetryPolicy | None = None) -> MicrosoftConnection:
    """Token provider and Graph client from the environment, the config file and ``$TIEPULSE_HOME``."""
    from tiepulse.connectors.microsoft import connect

    return connect(settings.home, microsoft_settings(), microsoft_options(settings), policy=retry)


def mailboxes(settings: Settings, conn: MicrosoftConnection, ctx: ImportContext) -> list[str]:
    """The mailboxes to read: the personal account, else per ``microsoft.mailboxes_from``."""
    if conn.personal_account is not None:
        return [conn.personal_account]
    options = conn.options
    if options.mailboxes_from == "graph":
        from tiepulse.connectors.microsoft import graph_users

        return graph_users(conn)
    if options.mailboxes_from == "directory":
        from tiepulse.pipelines.providers.directory import internal_people

        path = settings.config.directory_file
        if path is None:
            raise ConfigError("microsoft.mailboxes_from is 'directory' but the config has no directory_file")
        # Read addresses in clear (the directory's primary email is the mailbox Graph knows).
        clear = ImportContext(plausibility=ctx.plausibility, calendar_window=ctx.calendar_window, fold_gmail=False)
        return internal_people(path, clear)
    listed = options.mailboxes or [e.email.strip().lower() for e in settings.config.egos]
    if not listed:
        raise ConfigError(
            "no mailboxes to read: list them under microsoft.mailboxes in the config file, add egos, or set "
            "microsoft.mailboxes_from to directory or graph"
        )
    return list(dict.fromkeys(listed))


def _accounts(settings: Settings) -> list[str]:
    return mailboxes(settings, microsoft_connection(settings), build_import_context(settings))


def _not_set_up(settings: Settings) -> str | None:
    from tiepulse.connectors.microsoft.auth import CONNECTION_FILE

    if microsoft_settings().app_only or (settings.home / CONNECTION_FILE).is_file():
        return None
    return (
        "Microsoft is not set up: run `tiepulse connect microsoft --client-id ID` for your own mailbox, or set "
        "TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and TIEPULSE_MS_CLIENT_SECRET for an organisation "
        "(docs/connectors/microsoft.md)"
    )


def _retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=microsoft_options(settings).max_attempts)


def microsoft_sources(
    settings: Settings,
    *,
    source: str | None = None,
    account: str | None = None,
    retry: RetryPolicy | None = None,
) -> list[SyncSource]:
    """One source per mailbox and kind (``outlook``, ``outlook_calendar``), filtered by ``source`` / ``account``."""
    from tiepulse.connectors.microsoft import OutlookCalendarSource, OutlookMailSource

    wanted = MICROSOFT.chosen(source)
    ctx = build_import_context(settings)
    conn = microsoft_connection(settings, retry=retry)
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
            shown = ", ".join(account_id(normaliser, m) for m in boxes[:5]) + (" ..." if len(boxes) > 5 else "")
            raise NotSetUp(f"{account} is not among the Microsoft mailboxes to sync ({shown})")
        boxes = chosen
    found: list[SyncSource] = []
    for mailbox in boxes:
        stored = normaliser.normalise(mailbox)
        if stored is None:
            raise ConfigError(f"mailbox {mailbox!r} is not a valid email address")
        if OUTLOOK in wanted:
            found.append(OutlookMailSource(conn.client, mailbox, stored, ctx, conn.options))
        if OUTLOOK_CALENDAR in wanted:
            found.append(OutlookCalendarSource(conn.client, mailbox, stored, ctx, conn.options, window))
    return found


def _retries(source: SyncSource) -> int:
    from tiepulse.connectors.microsoft import OutlookCalendarSource, OutlookMailSource

    # one client serves every mailbox of a sync: the runner counts the difference across each account
    return source.client.retries if isinstance(source, OutlookMailSource | OutlookCalendarSource) else 0


def _explain(exc: BaseException) -> str:
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


MICROSOFT = ApiProvider(
    key="microsoft",
    name="Microsoft",
    sources=(OUTLOOK, OUTLOOK_CALENDAR),
    partitions="microsoft_mailboxes",
    # hourly, switched on in the Dagster UI
    schedule=Schedule(cron="15 * * * *", running=False),
    accounts=_accounts,
    not_set_up=_not_set_up,
    build=microsoft_sources,
    retry_policy=_retry_policy,
    retries=_retries,
    explain=_explain,
    accounts_key="mailboxes",
)
