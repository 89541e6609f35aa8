"""Jobs used by the demo registry and the README: plain functions in an importable module."""

from __future__ import annotations

import time

from jobengine import current_job


def add(a: float, b: float) -> float:
    """Return a + b (the README's first job)."""
    return a + b


def heartbeat() -> str:
    """A scheduled job of the demo registry: leaves a message and returns the time."""
    now = time.strftime("%H:%M:%S")
    current_job().message(f"heartbeat at {now}")
    return now


def count_to(n: int, delay: float = 0.1) -> int:
    """Count to n, reporting progress and stopping early if canceled."""
    job = current_job()
    for i in range(1, n + 1):
        if job.cancel_requested:
            break
        job.progress(100 * i / n, f"{i} of {n}")
        time.sleep(delay)
    return n
