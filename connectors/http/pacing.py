"""A quota pacer: spend API units at (just under) the allowed rate instead of running into the limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class QuotaPacer:
    """Token bucket of quota units: ``budget`` units per ``period`` seconds, refilled continuously.

    ``costs`` maps a method name to its unit cost (unknown methods cost ``default_cost``). ``burst`` caps how many
    units may be spent at once, so a fresh bucket does not fire a whole minute's budget in one second.
    """

    budget: float
    period: float = 60.0
    costs: Mapping[str, float] = field(default_factory=dict)
    default_cost: float = 1.0
    burst: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    spent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.budget <= 0 or self.period <= 0:
            raise ValueError("quota budget and period must be positive")
        self._capacity = self.burst if self.burst is not None else self.budget
        self._tokens = self._capacity
        self._stamp = self.clock()

    @property
    def rate(self) -> float:
        """Units per second."""
        return self.budget / self.period

    def cost(self, method: str, calls: int = 1) -> float:
        return self.costs.get(method, self.default_cost) * calls

    def acquire(self, method: str, calls: int = 1) -> float:
        """Block until ``calls`` calls of ``method`` fit in the budget; return the seconds waited."""
        need = self.cost(method, calls)
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= need or (need > self._capacity and self._tokens >= self._capacity):
                    self._tokens -= need
                    self.spent += need
                    return waited
                pause = (min(need, self._capacity) - self._tokens) / self.rate
                self.sleep(pause)
                waited += pause
