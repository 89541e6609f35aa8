"""Test doubles shipped with the package: a clock that moves only when told, fake workers.

`FakeProcessFactory` and `FakeProcess` (from `jobengine.pool.fake`) are imported on first use,
so a test that needs only the clock does not load the process pool.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobengine.engine import Engine
    from jobengine.pool.fake import FakeProcess, FakeProcessFactory

__all__ = ["FakeClock", "FakeProcess", "FakeProcessFactory", "counting_statements"]

_HOMES = {"FakeProcess": "jobengine.pool.fake", "FakeProcessFactory": "jobengine.pool.fake"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'jobengine.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


class FakeClock:
    """A Clock whose time moves only through `advance` and `set`.

    `wait()` blocks until another thread moves the clock past the wait's end (or sets the
    event), so a loop sleeping on this clock runs exactly when a test advances time.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._moved = threading.Condition()

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self._now.timestamp()

    def monotonic(self) -> float:
        return self._mono

    def wait(self, seconds: float, event: threading.Event | None = None) -> bool:
        until = self._mono + max(0.0, seconds)
        with self._moved:
            while self._mono < until:
                if event is not None and event.is_set():
                    return True
                # Polls the event a few times a second: Event has no hook to notify us.
                self._moved.wait(0.05 if event is not None else None)
        return event is not None and event.is_set()

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move time forward by `seconds` plus any timedelta keywords; return the new now."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("FakeClock cannot move backwards with advance(); use set()")
        with self._moved:
            self._now += step
            self._mono += step.total_seconds()
            self._moved.notify_all()
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to `at` (may go backwards, to model a clock correction; monotonic time does not)."""
        if at.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        with self._moved:
            forward = (at.astimezone(UTC) - self._now).total_seconds()
            self._now = at.astimezone(UTC)
            self._mono += max(0.0, forward)
            self._moved.notify_all()


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine's store runs inside the block, in order: what tests and
    benchmarks use to hold a screen or a call to a bounded number of queries."""
    db: Any = engine.store.db
    seen: list[str] = []
    original = db.execute_sql

    def execute_sql(sql: str, *args: Any, **kw: Any) -> Any:
        seen.append(sql)
        return original(sql, *args, **kw)

    db.execute_sql = execute_sql  # an instance attribute: deleting it restores the method
    try:
        yield seen
    finally:
        del db.execute_sql
