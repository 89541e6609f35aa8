"""Retries as the seed systems see them (Bpium, InstantCMS): a job waiting for its next attempt
is visible and can be filtered on, and every attempt's error stays readable on the job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobengine import Engine, JobState, Retry
from jobengine.background import BackgroundJob
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, wait_until

pytestmark = pytest.mark.timeout(90)


def failing(engine: Engine, until: int, retry: Retry) -> BackgroundJob:
    """A job that fails (ValueError "attempt N fails") until its `until`-th attempt."""
    return engine.background.execute("tests.integration.jobs:fail_until", [until], retry=retry)


def test_after_the_last_attempt_the_job_is_failed_with_every_attempts_error(
    store_url: str, make_engine: MakeEngine
) -> None:
    job = failing(make_engine(store_url), 9, Retry(count=2, interval=0.05))
    assert job.wait(timeout=30)
    assert job.state is JobState.FAILED and job.attempt == 3 and not job.waiting_retry
    assert [(a.number, a.state) for a in job.attempts] == [(n, "FAILED") for n in (1, 2, 3)]
    for n, attempt in enumerate(job.attempts, 1):
        assert attempt.error is not None and attempt.error.type == "ValueError"
        assert attempt.error.message == f"attempt {n} fails"
        assert "fail_until" in attempt.error.traceback
        assert attempt.start is not None and attempt.end is not None
        assert attempt.start <= attempt.end
    assert job.attempts[0].end <= job.attempts[1].start  # type: ignore[operator]


def test_a_retried_job_that_completes_keeps_its_failed_attempts_and_a_first_try_keeps_none(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url)
    retried = failing(engine, 2, Retry(count=3, interval=0.05))
    first_try = engine.background.execute("tests.integration.jobs:add", [1, 2])
    assert retried.result(timeout=30) == 2 and first_try.result(timeout=30) == 3
    assert [str(a) for a in retried.attempts] == [
        "attempt 1: FAILED (ValueError: attempt 1 fails)",
        "attempt 2: COMPLETED",
    ]
    assert first_try.attempts == []
    assert first_try._record.attempts is None  # nothing more written on the hot path


def test_a_job_waiting_for_its_retry_is_active_visible_and_filtered_on(
    store_url: str, make_engine: MakeEngine, procs: Procs
) -> None:
    engine = make_engine(store_url)
    waiting = failing(engine, 3, Retry(count=2, interval=120))
    done = engine.background.execute("tests.integration.jobs:add", [2, 2])
    assert done.result(timeout=30) == 4
    wait_until(lambda: waiting.refresh().waiting_retry, what="the first attempt to fail")
    assert waiting.state is JobState.ACTIVE and waiting.attempt == 2
    assert waiting.error is not None and waiting.error.message == "attempt 1 fails"
    assert waiting.retry_at is not None and waiting.attempts[0].end is not None
    assert waiting.retry_at - waiting.attempts[0].end == timedelta(seconds=120)
    assert engine.background.get(waiting_retry=True) == [waiting]
    assert engine.background.get(waiting_retry=False) == [done]
    assert engine.background.get(state="ACTIVE") == [waiting]  # the stored 1C state stays

    listing = procs.cli("jobs", "--waiting-retry", "--db", store_url, env={"COLUMNS": "400"})
    assert listing.returncode == 0, listing.stderr
    assert waiting.uuid in listing.stdout and done.uuid not in listing.stdout
    assert f"ACTIVE (retry 2 at {waiting.retry_at.astimezone():%H:%M:%S})" in listing.stdout
    shown = procs.cli("show", waiting.uuid, "--db", store_url)
    assert "attempt 1: FAILED (ValueError: attempt 1 fails)" in shown.stdout

    waiting.cancel()
    assert waiting.wait(timeout=30) and waiting.state is JobState.CANCELED
    assert [a.number for a in waiting.attempts] == [1]  # canceled before attempt 2 started
    assert engine.background.get(waiting_retry=True) == []
