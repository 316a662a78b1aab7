"""Calling Google APIs reliably: pacing to the quota, retries with backoff, error translation, paced batches.

Every call goes through ``GoogleCaller.call``: the quota pacer is asked for the method's units first, then the
request is sent over a transport with a timeout; 429, rate-limit 403s, 5xx, resets and timeouts are retried by
``RetryPolicy`` (exponential backoff with jitter, or the server's ``Retry-After``). A 200 whose body is not a JSON
object is retried a few times, then reported as ``MalformedResponse``. 401 has already been refreshed once by the
transport when it reaches us: it becomes ``GoogleAuthError``.

``GoogleCaller.get_many`` sends many calls of one method as multipart batches and retries the parts that failed
(the client library never retries batch parts), backing off between rounds. Batches shrink only when Gmail refuses
parts for concurrency ("Too many concurrent requests for user"), to the number of parts it did answer, and grow
back by one part after every ``GROW_AFTER`` clean batches up to the configured size; quota refusals (429/403 rate
limits) only back off, since a smaller batch spends the same units.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from ..http.pacing import QuotaPacer
from ..http.retry import RetryableError, RetryPolicy, parse_retry_after
from .errors import (
    ConcurrencyLimited,
    Gone,
    GoogleAuthError,
    GoogleError,
    MalformedResponse,
    NotFound,
)

log = logging.getLogger(__name__)

RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "concurrentLimitExceeded", "backendError"}
)
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
    auth_exceptions.TransportError,
)
MALFORMED_ATTEMPTS = 3
"""How many times a non-JSON 200 is asked again before it is reported as malformed."""
GROW_AFTER = 4
"""Clean batches in a row after which a batch shrunk for concurrency grows by one part again."""


def error_reason(content: bytes | str | None) -> tuple[str | None, str]:
    """(first ``errors[].reason``, message) of a Google JSON error body; (None, excerpt) otherwise."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else (content or "")
    try:
        body = json.loads(text)
        error = body["error"]
        reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
        return (reasons[0] if reasons else error.get("status")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        if text.lstrip().startswith("<"):
            return None, "an HTML error page"  # a proxy's or a front end's: its markup says nothing more
        return None, " ".join(text.split())[:120]


def _status(exc: HttpError) -> int:
    return int(exc.resp.status)


def classify(exc: HttpError, what: str) -> Exception:
    """The exception to raise for an HTTP error of ``what`` (a short description of the call)."""
    status = _status(exc)
    reason, message = error_reason(exc.content)
    retry_after = parse_retry_after(exc.resp.get("retry-after"))
    detail = f"{what}: HTTP {status}" + (f" {reason}" if reason else "") + (f" ({message})" if message else "")
    if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS):
        if reason == "concurrentLimitExceeded" or "concurrent" in message.lower():
            return ConcurrencyLimited(detail, retry_after=retry_after, status=status)
        return RetryableError(detail, retry_after=retry_after, status=status)
    if status == 404:
        return NotFound(detail)
    if status == 410:
        return Gone(detail)
    if status == 401:
        return GoogleAuthError(detail)
    return GoogleError(detail)


@dataclass
class CallStats:
    calls: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    waited_for_quota: float = 0.0
    waited_for_backoff: float = 0.0

    def count(self, method: str, n: int = 1) -> None:
        self.calls[method] = self.calls.get(method, 0) + n


@dataclass
class BatchOutcome:
    """Results of ``get_many``, by key."""

    ok: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    """404: the item no longer exists (deleted between listing and fetching)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Items that stayed malformed or were refused for good, with the reason (they go to quarantine)."""


class GoogleCaller:
    """Paced, retried calls for one account; a final 401 becomes ``GoogleAuthError`` with ``auth_hint``.

    ``connect`` makes the authorised transport; it is called on first use, so an account whose credentials cannot
    be loaded fails when it is synced, on its own, not when the sources are listed.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        pacer: QuotaPacer,
        retry: RetryPolicy,
        auth_hint: str,
        batch_uri: str | None = None,
        batch_size: int = 25,
    ) -> None:
        self._connect = connect
        self._http: Any = None
        self.pacer = pacer
        self.retry = retry
        self.auth_hint = auth_hint
        self.batch_uri = batch_uri
        self.batch_size = batch_size
        self.max_batch_size = batch_size
        self._clean_batches = 0
        self.stats = CallStats()

    @property
    def http(self) -> Any:
        if self._http is None:
            self._http = self._connect()
        return self._http

    # ------------------------------------------------------------------------------------------ single calls

    def _on_retry(self, exc: RetryableError, wait: float) -> None:
        self.stats.retries += 1
        self.stats.waited_for_backoff += wait
        log.info("retrying in %.2f s: %s", wait, exc)

    def _auth_failed(self, detail: str) -> GoogleAuthError:
        return GoogleAuthError(f"{self.auth_hint} ({detail})")

    def call(self, request: HttpRequest, method: str, what: str) -> dict[str, Any]:
        """Execute one request as ``method`` (its quota cost); return its JSON object."""
        malformed = 0

        def attempt() -> dict[str, Any]:
            nonlocal malformed
            self.stats.waited_for_quota += self.pacer.acquire(method)
            self.stats.count(method)
            try:
                result = request.execute(http=self.http, num_retries=0)
            except HttpError as exc:
                error = classify(exc, what)
                if isinstance(error, GoogleAuthError):
                    raise self._auth_failed(str(error)) from None
                raise error from None
            except auth_exceptions.RefreshError as exc:
                if getattr(exc, "retryable", False):
                    raise RetryableError(f"{what}: token refresh: {exc}") from None
                raise self._auth_failed(f"token refresh refused: {exc}") from None
            except TRANSPORT_ERRORS as exc:
                raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from None
            if not isinstance(result, dict):
                malformed += 1
                if malformed >= MALFORMED_ATTEMPTS:
                    raise MalformedResponse(f"{what}: the response is not a JSON object: {str(result)[:80]!r}")
                raise RetryableError(f"{what}: the response is not a JSON object")
            return result

        return self.retry.call(attempt, on_retry=self._on_retry)

    # ------------------------------------------------------------------------------------------ batches

    def get_many(
        self,
        keys: Iterable[str],
        build: Callable[[str], HttpRequest],
        method: str,
        *,
        valid: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> BatchOutcome:
        """Fetch every key with ``build(key)`` in batches of ``batch_size``, retrying failed parts.

        A part answered 404 lands in ``gone``; a part that stays malformed (not a JSON object, or not
        ``valid``) or is refused with another 4xx lands in ``failed``; rate limits, 5xx and transport errors
        are retried with backoff until ``retry.max_attempts`` rounds in a row fail, then raise.
        """
        if self.batch_uri is None:
            raise ValueError("this caller has no batch endpoint")
        outcome = BatchOutcome()
        pending = list(dict.fromkeys(keys))
        tries: dict[str, int] = {}
        bad_rounds = 0
        while pending:
            chunk, pending = pending[: self.batch_size], pending[self.batch_size :]
            round_ = _Round(self, method, outcome, tries, valid)
            self.stats.waited_for_quota += self.pacer.acquire(method, len(chunk))
            self.stats.count(method, len(chunk))
            batch = BatchHttpRequest(callback=round_.on_part, batch_uri=self.batch_uri)
            for key in chunk:
                batch.add(build(key), request_id=key)
            try:
                batch.execute(http=self.http)
            except (BatchError, KeyError) as exc:  # BatchError is an HttpError: catch it first
                # Not multipart, or a part missing: the library gives up before any callback; ask again.
                round_.fail_all(chunk, f"batch of {len(chunk)} {method}: malformed reply ({type(exc).__name__})")
            except HttpError as exc:
                error = classify(exc, f"batch of {len(chunk)} {method}")
                if isinstance(error, GoogleAuthError):
                    raise self._auth_failed(str(error)) from None
                if not isinstance(error, RetryableError):
                    raise error from None
                round_.fail_all(chunk, str(error), error.retry_after)
            except auth_exceptions.RefreshError as exc:
                if not getattr(exc, "retryable", False):
                    raise self._auth_failed(f"token refresh refused: {exc}") from None
                round_.fail_all(chunk, f"token refresh: {exc}")
            except TRANSPORT_ERRORS as exc:
                round_.fail_all(chunk, f"batch of {len(chunk)} {method}: {type(exc).__name__}: {exc}")
            if not round_.retry_later:
                bad_rounds = 0
                self._clean_batches += 1
                if self._clean_batches >= GROW_AFTER and self.batch_size < self.max_batch_size:
                    self.batch_size += 1
                    self._clean_batches = 0
                continue
            self._clean_batches = 0
            if round_.progressed:
                bad_rounds = 1
                if round_.concurrency_refused:
                    # Gmail answered this many parts at once and refused the rest as too many in flight.
                    self.batch_size = max(1, min(self.batch_size, round_.answered))
            else:
                bad_rounds += 1
            if bad_rounds >= self.retry.max_attempts:
                raise RetryableError(f"gave up after {bad_rounds} failed rounds: {round_.last_error}")
            known = [w for w in round_.waits if w is not None]
            retry_after = max(known) if known else None
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                raise RetryableError(f"server asks to wait {retry_after:.0f} s: {round_.last_error}")
            wait = self.retry.delay(bad_rounds, retry_after)
            self._on_retry(RetryableError(round_.last_error), wait)
            self.retry.sleep(wait)
            pending = round_.retry_later + pending
        return outcome


class _Round:
    """The parts of one batch request: which succeeded, which to ask again, and how long the server asked to wait."""

    def __init__(
        self,
        caller: GoogleCaller,
        method: str,
        outcome: BatchOutcome,
        tries: dict[str, int],
        valid: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.caller = caller
        self.method = method
        self.outcome = outcome
        self.tries = tries
        self.valid = valid
        self.retry_later: list[str] = []
        self.waits: list[float | None] = []
        self.last_error = ""
        self.concurrency_refused = 0
        self._answered = 0

    @property
    def answered(self) -> int:
        return self._answered

    @property
    def progressed(self) -> bool:
        return self._answered > 0

    def fail_all(self, keys: list[str], error: str, retry_after: float | None = None) -> None:
        done = set(self.outcome.ok) | self.outcome.gone | set(self.outcome.failed)
        self._answered = 0
        self.retry_later = [k for k in keys if k not in done]
        self.waits = [retry_after]
        self.last_error = error

    def on_part(self, key: str, response: Any, exception: HttpError | None) -> None:
        if exception is not None:
            error = classify(exception, f"{self.method} {key}")
            if isinstance(error, RetryableError):
                self.retry_later.append(key)
                self.waits.append(error.retry_after)
                self.last_error = str(error)
                self.concurrency_refused += isinstance(error, ConcurrencyLimited)
            elif isinstance(error, NotFound):
                self._answered += 1
                self.outcome.gone.add(key)
            elif isinstance(error, GoogleAuthError):
                raise self.caller._auth_failed(str(error))
            else:
                self._answered += 1
                self.outcome.failed[key] = f"http_{_status(exception)}"
        elif isinstance(response, dict) and self.valid(response):
            self._answered += 1
            self.outcome.ok[key] = response
        else:
            self.tries[key] = self.tries.get(key, 0) + 1
            if self.tries[key] >= MALFORMED_ATTEMPTS:
                self.outcome.failed[key] = "malformed_response"
            else:
                self.retry_later.append(key)
                self.waits.append(None)
                self.last_error = f"{self.method} {key}: malformed part"
