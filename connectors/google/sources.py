"""One Google ``SyncSource`` for one account and API, from explicit options: ``build_source``.

Building reads no credentials: the token file or the service-account key is read on first use, so an account
whose credentials are unusable fails when it is synced, on its own. Which accounts to sync, and the options from
the config file, are the caller's (``tiepulse.pipelines.providers.google``).
"""

from __future__ import annotations

from typing import Any

from google.auth.credentials import Credentials

from ..base import ImportContext
from ..http.pacing import QuotaPacer
from ..http.retry import RetryPolicy
from ..sync_source import OptionsError, SyncSource
from .auth import (
    SCOPES,
    Account,
    authorized_http,
    delegated_credentials,
    load_personal_credentials,
)
from .calendar import CalendarSource
from .client import GoogleCaller
from .errors import reconnect_hint
from .gmail import GmailSource
from .settings import GoogleOptions, GoogleSettings


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
    per_minute = quota.gmail_units_per_minute if name == GmailSource.source else quota.calendar_requests_per_minute
    paced = per_minute * quota.headroom
    burst = max(paced / 60 * quota.burst_seconds, batch_units)
    if burst >= paced:
        raise OptionsError(
            f"one batch of google.gmail.batch_size calls costs {batch_units:.0f} units, as much as the pacer may "
            f"spend in a minute ({paced:.0f}): lower google.gmail.batch_size or raise "
            "google.quota.gmail_units_per_minute"
        )
    return QuotaPacer(budget=min(paced, per_minute - burst), period=60.0, costs=quota.cost_table(), burst=burst)


def build_source(
    name: str,
    account: Account,
    *,
    owner: str,
    options: GoogleOptions,
    endpoints: GoogleSettings,
    ctx: ImportContext,
    retry: RetryPolicy,
    window_days_back: int,
) -> SyncSource:
    """The ``gmail`` or ``gcal`` source of ``account``, storing its rows and cursors under ``owner`` (the address, or
    its pseudonym); ``window_days_back`` is the calendar's default window."""
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
    if name == GmailSource.source:
        batch_units = options.quota.cost_table()["gmail.messages.get"] * options.gmail.batch_size
        caller = GoogleCaller(
            connect,
            pacer=quota_pacer(options, name, batch_units),
            retry=retry,
            auth_hint=hint,
            batch_uri=endpoints.gmail_batch_uri,
            batch_size=options.gmail.batch_size,
        )
        return GmailSource(owner, caller=caller, endpoint=endpoints.gmail_endpoint, options=options.gmail, ctx=ctx)
    caller = GoogleCaller(connect, pacer=quota_pacer(options, name, 1), retry=retry, auth_hint=hint)
    return CalendarSource(
        owner,
        caller=caller,
        endpoint=endpoints.calendar_endpoint,
        options=options.calendar,
        ctx=ctx,
        window_days_back=window_days_back,
    )
