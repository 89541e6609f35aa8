"""Reports at the limits, with real worker processes: huge results, bursts of messages, a job
module that does not import, and workers that die as they start."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from jobengine.events import JobFinished, JobMessage, JobSpec, PoolEvent
from jobengine.pool import MultiprocessFactory, Pool, WorkerLink, WorkerOptions
from jobengine.state import JobState
from tests.integration.conftest import MakeEngine

JOBS = "tests.integration.jobs"


@pytest.mark.timeout(90)
def test_a_50_mb_result_fails_with_its_size_and_the_next_job_runs(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    big = engine.background.execute(f"{JOBS}:big_result", args=[50])
    assert big.wait(timeout=60)
    assert big.state is JobState.FAILED
    assert big.error is not None
    assert big.error.message == "result is 50.0 MB, over the 16 MB limit"
    after = engine.background.execute(f"{JOBS}:add", args=[2, 40])
    assert after.result(timeout=30) == 42


@pytest.mark.timeout(90)
def test_a_10_mb_result_is_stored_whole(make_engine: MakeEngine, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, workers=1)
    job = engine.background.execute(f"{JOBS}:big_result", args=[10])
    assert job.result(timeout=60) == "x" * (10 * 1024 * 1024)


@pytest.mark.timeout(60)
def test_error_text_and_messages_are_cut_to_their_limits_by_the_worker() -> None:
    pool = Pool(1, grace_s=1.0)
    pool.start()
    try:
        pool.submit(JobSpec("huge", f"{JOBS}:fail_huge", args="[3]"))
        pool.submit(JobSpec("odd", f"{JOBS}:odd_message", args="[100]"))
        events = _events(pool, "odd")
    finally:
        pool.stop(grace_s=0)
    huge = next(e for e in events if isinstance(e, JobFinished) and e.uuid == "huge")
    assert huge.error is not None and huge.error.type == "ValueError"
    assert len(huge.error.message.encode()) <= 1024 * 1024
    assert huge.error.message.endswith("[error message cut: it was 3 MB, over the 1 MB limit]")
    assert len(huge.error.traceback.encode()) <= 1024 * 1024
    (message,) = [e.text for e in events if isinstance(e, JobMessage)]
    assert message.startswith("\\udcff\\x00mmm")  # storable: escaped, not dropped
    assert message.endswith("[message cut: it was 100.0 KB, over the 64 KB limit]")


@pytest.mark.timeout(120)
def test_a_burst_of_5000_messages_is_stored_and_the_next_job_runs_on_one_worker(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    burst = engine.background.execute(f"{JOBS}:message_burst", args=[5000])
    assert burst.result(timeout=90) == 5000
    assert burst.messages() == [f"message {i}" for i in range(5000)]
    after = engine.background.execute(f"{JOBS}:add", args=[1, 1])
    assert after.result(timeout=30) == 2


@pytest.mark.timeout(60)
def test_a_job_whose_module_does_not_exist_fails_with_module_not_found(
    make_engine: MakeEngine, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    # The module is on this process's path only, added after the worker started: the client
    # imports it and takes the job (as on another host, or before a deploy removed it), the
    # worker cannot import it.
    folder = tmp_path / "client_only"
    folder.mkdir()
    (folder / "client_only_jobs.py").write_text("def run():\n    return 1\n")
    monkeypatch.syspath_prepend(str(folder))
    try:
        job = engine.background.execute("client_only_jobs:run")
        assert job.wait(timeout=30)
    finally:
        sys.modules.pop("client_only_jobs", None)
    assert job.state is JobState.FAILED
    assert job.error is not None
    assert job.error.type == "ModuleNotFoundError"
    assert job.error.message == "No module named 'client_only_jobs'"
    assert engine.background.execute(f"{JOBS}:add", args=[1, 2]).result(timeout=30) == 3


class CountingFactory(MultiprocessFactory):
    def __init__(self) -> None:
        super().__init__("forkserver")
        self.started = 0

    def start(self, options: WorkerOptions) -> WorkerLink:
        self.started += 1
        return super().start(options)


@pytest.mark.timeout(60)
def test_workers_that_die_as_they_start_back_off_and_fail_their_jobs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = CountingFactory()
    pool = Pool(2, grace_s=1.0, factory=factory, preload=["tests.integration.broken_at_import"])
    pool.start()
    try:
        pool.submit(JobSpec("doomed", f"{JOBS}:add", args="[1, 2]"))
        outcome = _finished(pool, "doomed")
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            pool.wait(0.5)
    finally:
        pool.stop(grace_s=0)
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert outcome.error.message.startswith(
        "worker process exited with code 1 before it took a job"
    )
    assert outcome.error.message.endswith("ImportError: broken_at_import refuses to load")
    # In about 3.5 s: 2 at start, then one after 0.2, 0.4, 0.8, 1.6 s at most: never a spin.
    assert 2 <= factory.started <= 8, factory.started
    streak = [r for r in caplog.records if "slower while they fail" in r.getMessage()]
    assert len(streak) == 1


def _events(pool: Pool, uuid: str, timeout_s: float = 30) -> list[PoolEvent]:
    """What the pool reported until job `uuid` finished."""
    events: list[PoolEvent] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events += pool.wait(0.5)
        if any(isinstance(e, JobFinished) and e.uuid == uuid for e in events):
            return events
    raise AssertionError(f"{uuid} did not finish; events: {events}")


def _finished(pool: Pool, uuid: str, timeout_s: float = 30) -> JobFinished:
    events = _events(pool, uuid, timeout_s)
    return next(e for e in events if isinstance(e, JobFinished) and e.uuid == uuid)
