"""A small Microsoft Graph client: GET with paging links followed verbatim, and JSON ``$batch``.

Every call has a timeout; 429 (``Retry-After`` as integer, fraction or HTTP date, else exponential backoff),
5xx, connection resets, timeouts and non-JSON 200 replies are retried through ``connectors.http.retry``; when the
attempts run out, :class:`GraphUnavailable` says what kept failing and where. A 401
``InvalidAuthenticationToken`` refreshes the token once, then fails with how to reconnect. 410 Gone and
``syncStateNotFound`` / ``resyncRequired`` raise :class:`ResyncRequired` for the delta reader to restart.
Per mailbox, at most ``max_concurrency`` (4) requests are in flight and the request budget is paced.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from ..http.pacing import QuotaPacer
from ..http.retry import RetryableError, RetryPolicy, parse_retry_after
from .auth import MicrosoftAuthError, TokenProvider

MAX_BATCH = 20
RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
THROTTLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class GraphError(RuntimeError):
    """Graph refused in a way retrying cannot fix; the message says what to check."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphUnavailable(GraphError):
    """Graph kept failing in a way worth retrying (429, 5xx, resets, timeouts) until the attempts ran out.

    The message names no mailbox, so one outage that fails many mailboxes reads as one cause; ``request`` says
    which call gave up (for logs and tests)."""

    def __init__(self, message: str, *, status: int | None = None, request: str = "") -> None:
        super().__init__(message, status=status)
        self.request = request


class ResyncRequired(Exception):
    """The delta state is gone (410, syncStateNotFound, resyncRequired): start the delta again."""


class _Malformed(RetryableError):
    """A 200 reply that is not the JSON object Graph promises (a proxy page, a truncated body)."""


class _Unauthorized(Exception):
    def __init__(self, code: str, message: str, token: str) -> None:
        super().__init__(message)
        self.code = code
        self.token = token
        """The access token Graph refused."""


def error_of(body: Any) -> tuple[str, str]:
    """(code, message) of a Graph error body, tolerating any shape."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return str(err.get("code") or ""), str(err.get("message") or "")[:300]
    return "", ""


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class BatchRequest:
    id: str
    url: str
    """Relative to the versioned endpoint, e.g. ``/users/a@b/messages/ID?$select=internetMessageHeaders``."""


class GraphClient:
    """One client for all mailboxes of a sync; thread-safe."""

    def __init__(
        self,
        base: str,
        tokens: TokenProvider,
        session: requests.Session,
        *,
        policy: RetryPolicy | None = None,
        max_concurrency: int = 4,
        page_size: int = 100,
        requests_per_window: float = 10_000,
        window_seconds: float = 600.0,
        pace_burst: int = 20,
        reconnect_hint: str = "",
    ) -> None:
        self.base = base.rstrip("/")
        self.tokens = tokens
        self.session = session
        self.policy = policy or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.page_size = page_size
        self._budget = requests_per_window
        self._window = window_seconds
        self._burst = pace_burst
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._pacers: dict[str, QuotaPacer] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self.reconnect_hint = reconnect_hint
        self.requests_made = 0
        self.retries = 0

    # -- per-mailbox limits ------------------------------------------------------------------------------------
    def pacer(self, mailbox: str) -> QuotaPacer:
        with self._lock:
            if mailbox not in self._pacers:
                self._pacers[mailbox] = QuotaPacer(
                    budget=self._budget, period=self._window, burst=float(self._burst), sleep=self.policy.sleep
                )
            return self._pacers[mailbox]

    @contextmanager
    def _slot(self, mailbox: str) -> Iterator[None]:
        with self._lock:
            slot = self._slots.setdefault(mailbox, threading.BoundedSemaphore(self.max_concurrency))
        with slot:
            yield

    # -- requests ----------------------------------------------------------------------------------------------
    def _headers(self, token: str, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Prefer": f'odata.maxpagesize={self.page_size}, outlook.timezone="UTC"',
        }
        if extra:
            headers.update(extra)
        return headers

    def _send(
        self,
        method: str,
        url: str,
        mailbox: str,
        *,
        units: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        self.pacer(mailbox).acquire("request", units)
        token = self.tokens.token()
        extra = dict(headers or {})
        if body is not None:
            extra["Content-Type"] = "application/json"
        with self._slot(mailbox):
            try:
                response = self.session.request(
                    method, url, headers=self._headers(token, extra), data=None if body is None else json.dumps(body)
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetryableError(f"{type(exc).__name__} from Graph") from exc
        with self._lock:
            self.requests_made += 1
        return response

    def _check(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 200:
            body = _json(response)
            if not isinstance(body, dict):
                raise _Malformed(f"Graph answered 200 with a body that is not a JSON object ({response.url})")
            return body
        body = _json(response)
        code, message = error_of(body)
        if status == 401:
            refused = str(response.request.headers.get("Authorization", "")).removeprefix("Bearer ")
            raise _Unauthorized(code, message, refused)
        if status == 410 or code.lower() in RESYNC_CODES:
            raise ResyncRequired(f"{status} {code}".strip())
        if status in THROTTLE_STATUSES:
            raise RetryableError(
                f"Graph {status} {code}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                status=status,
            )
        if status == 403:
            raise GraphError(
                f"Graph refused access (403 {code}: {message}). Check the app's permissions (Mail.ReadBasic.All, "
                "Calendars.ReadBasic.All), admin consent, and that the mailbox is inside its application access "
                "policy.",
                status=status,
                code=code,
            )
        raise GraphError(f"Graph answered {status} {code}: {message}".strip(), status=status, code=code)

    def _with_auth(self, call: Any, what: str) -> Any:
        refreshed = False
        while True:
            try:
                return self.policy.call(call, on_retry=self._count_retry)
            except _Malformed as exc:
                raise GraphError(f"{exc}; giving up after {self.policy.max_attempts} attempts") from None
            except RetryableError as exc:
                wait = f", asking to wait {exc.retry_after:g} s" if exc.retry_after else ""
                raise GraphUnavailable(
                    f"Graph: gave up retrying (at most {self.policy.max_attempts} attempts; last: {exc}{wait}). "
                    "Graph is unavailable or throttling this app; sync again later (it resumes from the last "
                    "committed page).",
                    status=exc.status,
                    request=what,
                ) from None
            except _Unauthorized as exc:
                if refreshed or exc.code not in ("InvalidAuthenticationToken", ""):
                    raise MicrosoftAuthError(
                        f"Graph rejected the access token twice (401 {exc.code}: {exc}). {self.reconnect_hint}"
                    ) from None
                refreshed = True
                self._refresh(exc.token)

    def _refresh(self, refused: str | None) -> None:
        """Get a new token, unless another request already replaced the ``refused`` one (requests in flight
        together are refused together, and one refresh serves them all)."""
        with self._refreshing:
            if refused is None or self.tokens.token() == refused:
                self.tokens.refresh()

    def _count_retry(self, exc: RetryableError, wait: float) -> None:
        with self._lock:
            self.retries += 1

    def get(self, url: str, *, mailbox: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """GET a full URL (a nextLink / deltaLink, verbatim) or a path under the versioned endpoint."""
        target = url if url.startswith("https://") else self.base + url

        def once() -> dict[str, Any]:
            return self._check(self._send("GET", target, mailbox, headers=headers))

        result: dict[str, Any] = self._with_auth(once, f"GET {urlsplit(target).path}")
        return result

    def paged(self, url: str, *, mailbox: str, headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` (no delta state kept)."""
        next_url: str | None = url
        while next_url:
            body = self.get(next_url, mailbox=mailbox, headers=headers)
            yield from (v for v in body.get("value") or [] if isinstance(v, dict))
            next_url = body.get("@odata.nextLink")

    def batch(self, items: list[BatchRequest], *, mailbox: str) -> dict[str, tuple[int, Any]]:
        """Run up to 20 GETs in one ``$batch``; items answered 429/5xx (or missing) are retried on their own.

        Returns id -> (status, body) for every item; a status other than 200 is final (e.g. 404).
        """
        if len(items) > MAX_BATCH:
            raise ValueError(f"a Graph batch holds at most {MAX_BATCH} requests, got {len(items)}")
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids):
            raise ValueError("batch request ids must be unique")
        pending = {i.id: i for i in items}
        done: dict[str, tuple[int, Any]] = {}
        refreshed = False
        for attempt in range(1, self.policy.max_attempts + 1):
            payload = {"requests": [{"id": i.id, "method": "GET", "url": i.url} for i in pending.values()]}

            def once(payload: dict[str, Any] = payload) -> dict[str, Any]:
                return self._check(self._send("POST", f"{self.base}/$batch", mailbox, units=len(pending), body=payload))

            body = self._with_auth(once, f"$batch for {mailbox}")
            responses = body.get("responses")
            waits: list[float] = []
            unauthorized = False
            for reply in responses if isinstance(responses, list) else []:
                if not isinstance(reply, dict) or str(reply.get("id")) not in pending:
                    continue
                rid = str(reply["id"])
                try:
                    status = int(reply.get("status", 0))
                except (TypeError, ValueError):
                    continue
                if status in THROTTLE_STATUSES:
                    headers = {str(k).lower(): str(v) for k, v in (reply.get("headers") or {}).items()}
                    after = parse_retry_after(headers.get("retry-after"))
                    waits.append(self.policy.delay(attempt, after))
                    continue
                if status == 401:
                    unauthorized = True
                    continue
                done[rid] = (status, reply.get("body"))
                del pending[rid]
            if not pending:
                return done
            if unauthorized:
                if refreshed:
                    raise MicrosoftAuthError(f"Graph rejected the access token twice in a batch. {self.reconnect_hint}")
                refreshed = True
                self._refresh(None)
            if attempt < self.policy.max_attempts:
                self._count_retry(RetryableError("batch items to retry"), 0.0)
                self.policy.sleep(max(waits) if waits else self.policy.delay(attempt, None))
        raise GraphUnavailable(
            f"$batch for {mailbox}: {len(pending)} request(s) still throttled or failing after "
            f"{self.policy.max_attempts} attempts; sync again later (it resumes from the last committed page)."
        )
