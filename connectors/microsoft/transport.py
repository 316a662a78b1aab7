"""HTTP sessions for msal and Graph: explicit trust, a timeout on every call, retries for the token endpoint.

``trust_env`` is off so that ``REQUESTS_CA_BUNDLE`` and proxy variables of the machine never override the
certificate authorities chosen here: the system bundle (certifi) plus ``TIEPULSE_CA_BUNDLE`` when set.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import certifi
import requests

from connectors.http.retry import RetryableError, RetryPolicy, parse_retry_after

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def trust_bundle(extra: Path | None) -> str | bool:
    """``verify`` for requests: the default bundle, or the default bundle plus ``extra`` in one file."""
    if extra is None:
        return True
    pem = extra.read_bytes()
    combined = Path(certifi.where()).read_bytes() + b"\n" + pem
    digest = hashlib.sha256(combined).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"tiepulse-ca-{digest}.pem"
    if not path.exists():
        tmp = path.with_suffix(f".{id(pem)}.tmp")
        tmp.write_bytes(combined)
        tmp.replace(path)
    return str(path)


class GraphSession(requests.Session):
    """A ``requests.Session`` with a default timeout; ``retry`` (when set) retries 429, 5xx, resets, timeouts.

    msal gets one with ``retry`` set (its own client does not retry and answers later calls from its throttle
    cache); the Graph client gets one without and retries itself, because it must also handle 401 and resyncs.
    """

    def __init__(self, *, verify: str | bool, timeout: float, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.trust_env = False
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
