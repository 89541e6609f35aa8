"""Job functions of the scheduled-job integration tests (predefined jobs take no params)."""

from __future__ import annotations

import time
from pathlib import Path


def slow_tick() -> str:
    """Longer than its every-second schedule: the scheduler must not overlap runs."""
    time.sleep(1.5)
    return "tick"


def until_released(path: str) -> str:
    """Runs until the file `path` exists (a run to kill mid-way)."""
    release = Path(path)
    while not release.exists():
        time.sleep(0.05)
    return "released"
