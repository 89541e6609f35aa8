"""Where time comes from: the one Clock an engine reads every instant and timer from."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of time; tests pass `jobengine.testing.FakeClock`.

    `now()`/`time()` give wall-clock instants (what the store records); `monotonic()` gives
    seconds for timers and deadlines, never going back; `wait()` is the only way the engine's
    loops sleep, so a fake clock can release them.
    """

    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...

    def time(self) -> float:
        """Return the current instant as epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin; never decreases."""
        ...

    def wait(self, seconds: float, event: threading.Event | None = None) -> bool:
        """Sleep up to `seconds` of this clock's time, or until `event` is set.

        Returns:
            True if `event` was set.
        """
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    # The C functions themselves, no Python call around them: a batch reads the time per job.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)  # last: from here on `time` in this body is this one

    def wait(self, seconds: float, event: threading.Event | None = None) -> bool:
        seconds = max(0.0, seconds)
        if event is None:
            time.sleep(seconds)
            return False
        return event.wait(seconds)


def to_ms(at: datetime) -> int:
    """Convert an aware datetime to epoch milliseconds (the store's instant column)."""
    return int(at.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    """Convert epoch milliseconds back to an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)
