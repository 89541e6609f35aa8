"""Where time comes from: the Clock seam the scheduler and the managers take."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time; tests pass `jobengine.testing.FakeClock`."""

    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...

    def time(self) -> float:
        """Return the current instant as epoch seconds."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()


def to_ms(at: datetime) -> int:
    """Convert an aware datetime to epoch milliseconds (the store's instant column)."""
    return int(at.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    """Convert epoch milliseconds back to an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)
