"""The fake clock the unit tests use instead of sleeping."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobengine import Engine, testing
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


def test_testing_offers_the_pool_fakes_without_loading_the_pool_up_front() -> None:
    code = (
        "import sys, jobengine.testing as t\n"
        "assert 'jobengine.pool' not in sys.modules\n"
        "from jobengine.pool.fake import FakeProcess, FakeProcessFactory\n"
        "assert t.FakeProcessFactory is FakeProcessFactory and t.FakeProcess is FakeProcess\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        testing.Nope  # noqa: B018


def test_job_gone_error_is_part_of_the_public_api() -> None:
    import jobengine
    from jobengine.errors import JobEngineError, JobGoneError

    assert jobengine.JobGoneError is JobGoneError
    assert issubclass(jobengine.JobGoneError, JobEngineError)
    assert "JobGoneError" in jobengine.__all__


def test_counting_statements_sees_each_query_and_then_lets_go(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path}/count.db")  # a client: no threads of its own query
    try:
        with testing.counting_statements(engine) as seen:
            engine.background.get(limit=5)
            engine.background.get(limit=5)
        assert len(seen) == 2 and all('FROM "background_job"' in s for s in seen)
        engine.background.get(limit=5)
        assert len(seen) == 2  # outside the block nothing is counted
        assert "execute_sql" not in vars(engine.store.db)
    finally:
        engine.close()
