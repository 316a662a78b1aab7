"""HTTP sessions for msal and Graph: explicit trust, a timeout on every call, retries for the token endpoint.

``trust_env`` is off so that ``REQUESTS_CA_BUNDLE`` and proxy variables of the machine never override the
certificate authorities chosen here: the system bundle (certifi) plus ``TIEPULSE_CA_BUNDLE`` when set. The extra
authority is loaded into an in-memory ``ssl.SSLContext``; no merged bundle is ever written to disk (a predictable
file in a shared temporary folder could be planted by another local user).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import certifi
import requests
from requests.adapters import HTTPAdapter

from ..http.retry import RetryableError, RetryPolicy, parse_retry_after

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def trust_bundle(extra: Path | None) -> ssl.SSLContext | bool:
    """What the sessions verify servers with: the default bundle (``True``), or a context trusting it plus
    ``extra`` (a PEM file of certificate authorities)."""
    if extra is None:
        return True
    context = ssl.create_default_context(cafile=certifi.where())
    try:
        context.load_verify_locations(cafile=str(extra))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"TIEPULSE_CA_BUNDLE={extra}: not a readable PEM file of certificate authorities ({exc})"
        ) from None
    return context


class _TrustAdapter(HTTPAdapter):
    """Verifies HTTPS servers against one ``ssl.SSLContext``."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = conn.ca_cert_dir = None  # the context holds them: not loaded again for every connection


class GraphSession(requests.Session):
    """A ``requests.Session`` with a default timeout; ``retry`` (when set) retries 429, 5xx, resets, timeouts.

    msal gets one with ``retry`` set (its own client does not retry and answers later calls from its throttle
    cache); the Graph client gets one without and retries itself, because it must also handle 401 and resyncs.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool, timeout: float, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.trust_env = False
        if isinstance(verify, ssl.SSLContext):
            self.mount("https://", _TrustAdapter(verify))
            verify = True
        self.verify = verify
        self.timeout = timeout
        self.retry = retry

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if self.retry is None:
            return super().request(method, url, *args, **kwargs)

        def attempt() -> requests.Response:
            try:
                response = super(GraphSession, self).request(method, url, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetryableError(f"{type(exc).__name__} talking to the token endpoint") from exc
            if response.status_code in RETRY_STATUSES:
                raise _RetryWithResponse(response)
            return response

        try:
            return self.retry.call(attempt)
        except _RetryWithResponse as exc:
            return exc.response  # out of attempts: let msal read the error


class _RetryWithResponse(RetryableError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(
            f"HTTP {response.status_code} from the token endpoint",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=response.status_code,
        )
        self.response = response
