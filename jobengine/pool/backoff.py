"""The crash-loop guard: when new workers die before they take jobs, start the next ones slowly."""

from __future__ import annotations

import math

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 30.0


class StartGuard:
    """When the pool may start a worker, given how the last ones started.

    While new workers die at start (a bad interpreter, a module that fails to import, no memory)
    only one is started at a time, after a delay that doubles with each failure up to
    `max_delay_s`; the first worker that takes a job ends the streak.
    """

    def __init__(self, first_delay_s: float = FIRST_DELAY_S, max_delay_s: float = MAX_DELAY_S):
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.failures = 0  # workers in a row that died before they were ready
        self.not_before = -math.inf  # monotonic: no worker starts before this

    def may_start(self, now: float, starting: int) -> bool:
        """Whether a worker may start at `now`, with `starting` workers yet to take a job."""
        return now >= self.not_before and (self.failures == 0 or starting == 0)

    def failed(self, now: float) -> float:
        """Count a worker that died before it took a job; return the delay before the next."""
        self.failures += 1
        delay = min(self.max_delay_s, self.first_delay_s * 2.0 ** min(self.failures - 1, 60))
        self.not_before = now + delay
        return delay

    def succeeded(self) -> int:
        """A worker took a job: end the streak; return how many had failed in it."""
        failures, self.failures = self.failures, 0
        self.not_before = -math.inf
        return failures
