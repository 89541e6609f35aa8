"""Test doubles shipped with the package: a clock that moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A Clock whose time moves only through `advance` and `set`."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self._now.timestamp()

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move time forward by `seconds` plus any timedelta keywords; return the new now."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("FakeClock cannot move backwards with advance(); use set()")
        self._now += step
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to `at` (may go backwards, to model a clock correction)."""
        if at.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = at.astimezone(UTC)
