"""The fake clock the unit tests use instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobengine.testing import FakeClock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.advance(90) == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.advance(hours=1).hour == 1
    assert clock.time() == clock.now().timestamp()


def test_fake_clock_refuses_naive_times_and_backward_advance() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))
    clock = FakeClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    earlier = clock.now() - timedelta(minutes=5)
    clock.set(earlier)
    assert clock.now() == earlier
