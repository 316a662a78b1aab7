"""Errors the Google connectors raise; their messages say what a person can do about them."""

from __future__ import annotations

from ..http.retry import RetryableError


class GoogleError(RuntimeError):
    """A Google connector failure that retrying will not fix."""


class ConcurrencyLimited(RetryableError):
    """A rate-limit refusal that is about requests in flight ("Too many concurrent requests for user"), not quota:
    the one refusal that smaller batches cure."""


class GoogleAuthError(GoogleError):
    """Google refused the credentials even after one refresh; the message says how to reconnect."""


class MalformedResponse(GoogleError):
    """A 200 whose body is not the JSON object the method promises (after the retries it was given)."""


class NotFound(GoogleError):
    """HTTP 404 (Gmail: an expired history id or a message deleted meanwhile)."""


class Gone(GoogleError):
    """HTTP 410 (Calendar: the sync token is no longer valid; a full sync is required)."""


def reconnect_hint(account: str, *, personal: bool) -> str:
    if personal:
        return (
            f"Google no longer accepts the saved token for {account}. Run `tiepulse connect google "
            "--client-secrets FILE` again to reconnect (the old token was revoked or expired)."
        )
    return (
        f"Google refused the service account for {account}. Check that TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE is a "
        "current key, that domain-wide delegation is granted for its client id with the scopes in "
        "docs/connectors/google.md, and that the user exists and is not suspended."
    )
