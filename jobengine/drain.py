"""An engine's job budget (`max_jobs`) and its idle signal, which the dispatcher keeps: what a
cron-run engine (`jobengine run --max-jobs N --exit-when-idle`) waits on before it exits."""

from __future__ import annotations

import threading


class Drain:
    """How many more jobs the engine may claim, and whether it has anything left to do.

    `idle` is set while nothing is claimed, running or unwritten and either the last claim
    found nothing due or the budget is spent; `spent` once the budget is spent and its last job
    recorded. The dispatcher sets them; any thread may wait on them.
    """

    def __init__(self, max_jobs: int | None) -> None:
        self.left = max_jobs  # None: no limit
        self.idle = threading.Event()
        self.spent = threading.Event()
        # Only once somebody waits does the dispatcher claim eagerly when it drains (to tell
        # "nothing due" apart from "not looked yet"); a plain engine pays nothing for this.
        self.watched = False

    def cap(self, want: int) -> int:
        """At most what the budget still allows of `want` jobs."""
        return want if self.left is None else min(want, self.left)

    def took(self, n: int) -> None:
        if self.left is not None:
            self.left -= n
        if n:
            self.idle.clear()

    @property
    def is_spent(self) -> bool:
        return self.left is not None and self.left <= 0
