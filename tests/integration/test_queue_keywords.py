"""The queue keywords of execute: retry, priority, delay / run_at, named queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobengine import JobFailed, JobState, Retry
from tests.integration.conftest import MakeEngine

pytestmark = pytest.mark.timeout(60)


def test_retry_policy_runs_failed_job_again_with_next_attempt(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url)
    job = engine.background.execute(
        "tests.integration.jobs:fail_until", [3], retry=Retry(count=2, interval=0.05)
    )
    assert job.result(timeout=30) == 3
    assert job.attempt == 3
    exhausted = engine.background.execute(
        "tests.integration.jobs:fail_until", [5], retry=Retry(count=1, interval=0.05)
    )
    with pytest.raises(JobFailed) as info:
        exhausted.result(timeout=30)
    assert info.value.error is not None and "attempt 2 fails" in info.value.error.message
    assert exhausted.attempt == 2


def test_retry_later_asks_for_another_attempt(store_url: str, make_engine: MakeEngine) -> None:
    engine = make_engine(store_url)
    assert (
        engine.background.execute("tests.integration.jobs:retry_until", [3]).result(timeout=30) == 3
    )


def test_delay_and_run_at_hold_a_job_back(store_url: str, make_engine: MakeEngine) -> None:
    engine = make_engine(store_url)
    delayed = engine.background.execute("tests.integration.jobs:add", [1, 2], delay=0.5)
    at = datetime.now(UTC) + timedelta(seconds=0.5)
    scheduled = engine.background.execute("tests.integration.jobs:add", [3, 4], run_at=at)
    assert delayed.result(timeout=30) == 3
    assert scheduled.result(timeout=30) == 7
    assert delayed.started is not None and delayed.started - delayed.begin >= timedelta(seconds=0.5)
    assert scheduled.started is not None and scheduled.started >= at - timedelta(milliseconds=1)


def test_higher_priority_runs_first(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    client = make_engine(store_url, start=False)
    log = str(tmp_path / "order.log")
    jobs = [
        client.background.execute(
            "tests.integration.jobs:record_span", [log, f"p{p}", 0.0], priority=p
        )
        for p in (0, 5, 1, 9)
    ]
    engine = make_engine(store_url, workers=1)
    assert engine.background.wait(jobs, timeout=30)
    starts = [line.split()[1] for line in Path(log).read_text().splitlines() if "start" in line]
    assert starts == ["p9", "p5", "p1", "p0"]


def test_engine_serves_only_its_queues(store_url: str, make_engine: MakeEngine) -> None:
    engine = make_engine(store_url, queues=["email"])
    email = engine.background.execute("tests.integration.jobs:add", [1, 1], queue="email")
    report = engine.background.execute("tests.integration.jobs:add", [2, 2], queue="reports")
    assert email.result(timeout=30) == 2
    assert not report.wait(timeout=1.5)
    assert report.state is JobState.ACTIVE
