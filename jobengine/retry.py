"""Retry policy values: `Retry` on execute, `RetryLater` raised inside a job."""

from __future__ import annotations

from dataclasses import dataclass

from jobengine.errors import JobEngineError


@dataclass(frozen=True)
class Retry:
    """Attempts after the first (`count`), `interval` seconds apart, times `backoff` each time."""

    count: int = 3
    interval: float = 10.0
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise JobEngineError(f"Retry.count must be >= 0, got {self.count!r}")
        if self.interval < 0:
            raise JobEngineError(f"Retry.interval must be >= 0, got {self.interval!r}")
        if self.backoff < 1:
            raise JobEngineError(f"Retry.backoff must be >= 1, got {self.backoff!r}")

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait before the attempt after `attempt` (1 = the first run)."""
        return float(self.interval * self.backoff ** max(attempt - 1, 0))


class RetryLater(Exception):  # contract name, not ...Error
    """Raised by a job to ask for another attempt after `delay` seconds."""

    def __init__(self, delay: float = 0.0, message: str = "") -> None:
        self.delay = float(delay)
        super().__init__(message or f"retry requested in {self.delay:g} s")
