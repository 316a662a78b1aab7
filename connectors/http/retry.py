"""Retries with exponential backoff and full jitter, honouring ``Retry-After`` when the server sends it."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class RetryableError(Exception):
    """A failure worth trying again (429, rate-limit 403, 5xx, reset, timeout), with the server's wait if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: an integer, a fraction ("2.128") or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``sleep`` is injectable so tests can run without waiting."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    """A server asking for a longer wait than this gets an error instead (the run is better rescheduled)."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before retry number ``attempt`` (1-based): the server's ``Retry-After``, else full-jitter backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def call(self, fn: Callable[[], T], *, on_retry: Callable[[RetryableError, float], None] | None = None) -> T:
        """Run ``fn``; on ``RetryableError`` wait and try again, up to ``max_attempts`` calls in all."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn()
            except RetryableError as exc:
                if attempt == self.max_attempts or (exc.retry_after or 0) > self.max_retry_after:
                    raise
                wait = self.delay(attempt, exc.retry_after)
                if on_retry is not None:
                    on_retry(exc, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
