"""A clock that moves only when something sleeps on it, so tests that involve time never depend on machine speed."""

from __future__ import annotations


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)  # like a real sleep, never shorter than a microsecond
