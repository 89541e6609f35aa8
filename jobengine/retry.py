"""Retry policy: `Retry` on execute, `RetryLater` raised inside a job, and `retry_delay_s`, the
one pure rule the store applies when a job fails."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jobengine.errors import JobEngineError

# The longest a job may be put off (delay, a retry's wait): a century keeps every instant
# well inside the store's integer columns and Python's datetimes.
MAX_DELAY_S = 100 * 365.25 * 86400
MAX_RETRY_COUNT = 1_000_000
# Attempts after the first that RetryLater gets when the job has no Retry policy.
RETRY_LATER_COUNT = 3


def check_seconds(
    name: str, value: Any, *, positive: bool = False, most: float = math.inf
) -> float:
    """Refuse a number of seconds that is not a finite number >= 0 (> 0 if `positive`).

    Raises:
        JobEngineError: naming the argument and its value.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise JobEngineError(f"{name}={value!r}: give a number of seconds")
    if not math.isfinite(value):
        raise JobEngineError(f"{name}={value!r}: give a finite number of seconds")
    if value < 0 or (positive and value == 0):
        raise JobEngineError(
            f"{name}={value!r}: give a number of seconds {'>' if positive else '>='} 0"
        )
    if value > most:
        raise JobEngineError(f"{name}={value!r}: at most {most:.0f} seconds (100 years)")
    return float(value)


@dataclass(frozen=True)
class Retry:
    """Attempts after the first (`count`), `interval` seconds apart, times `backoff` each time."""

    count: int = 3
    interval: float = 10.0
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool):
            raise JobEngineError(f"Retry.count={self.count!r}: give a whole number")
        if not 0 <= self.count <= MAX_RETRY_COUNT:
            raise JobEngineError(f"Retry.count={self.count!r}: must be 0 to {MAX_RETRY_COUNT}")
        check_seconds("Retry.interval", self.interval, most=MAX_DELAY_S)
        if not isinstance(self.backoff, int | float) or isinstance(self.backoff, bool):
            raise JobEngineError(f"Retry.backoff={self.backoff!r}: give a number >= 1")
        if not (math.isfinite(self.backoff) and self.backoff >= 1):
            raise JobEngineError(f"Retry.backoff={self.backoff!r}: give a finite number >= 1")
        longest = backoff_s(self.interval, self.backoff, self.count)
        if longest > MAX_DELAY_S:
            raise JobEngineError(
                f"Retry(count={self.count!r}, interval={self.interval!r}, "
                f"backoff={self.backoff!r}): the last retry would wait {longest:.3g} s, more "
                "than 100 years; lower count, interval or backoff"
            )


def backoff_s(interval: float, backoff: float, attempt: int) -> float:
    """Seconds a policy waits after attempt number `attempt` (1 = the first run) fails.

    Returns:
        `interval * backoff ** (attempt - 1)`; inf when that overflows a float.
    """
    if interval == 0:
        return 0.0
    try:
        return float(interval) * float(backoff) ** max(attempt - 1, 0)
    except OverflowError:
        return math.inf


def retry_delay_s(attempt: int, policy: Retry | None, asked_s: float | None) -> float | None:
    """Seconds until the next attempt of a job whose attempt number `attempt` failed.

    Args:
        attempt: the attempt that failed (1 = the first run).
        policy: the job's `Retry`, or None.
        asked_s: the delay the job asked for by raising `RetryLater`, or None.

    Returns:
        The wait, or None when the failure is final: `RetryLater` is honoured up to the
        policy's count (`RETRY_LATER_COUNT` more attempts without a policy); other failures
        are retried up to the policy's count with its back-off.
    """
    count = policy.count if policy is not None else RETRY_LATER_COUNT
    if asked_s is not None:
        return float(asked_s) if attempt <= count else None
    if policy is None or attempt > count:
        return None
    return backoff_s(policy.interval, policy.backoff, attempt)


class RetryLater(Exception):  # contract name, not ...Error
    """Raised by a job to ask for another attempt after `delay` seconds.

    Raises:
        JobEngineError: `delay` is not a finite number of seconds from 0 to 100 years (the
            job then fails with that error instead).
    """

    def __init__(self, delay: float = 0.0, message: str = "") -> None:
        self.delay = check_seconds("RetryLater.delay", delay, most=MAX_DELAY_S)
        super().__init__(message or f"retry requested in {self.delay:g} s")
