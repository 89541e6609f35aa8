"""The pool's timers, deaths and crash-loop guard, driven by a FakeClock and fake processes."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from jobengine.events import (
    JobFinished,
    JobMessage,
    JobProgress,
    JobReturned,
    JobSpec,
    JobStarted,
    PoolEvent,
)
from jobengine.pool import Pool, PoolError
from jobengine.pool.fake import FakeProcess, FakeProcessFactory
from jobengine.pool.workerproc import QUEUED_WORK_S
from jobengine.state import JobState
from jobengine.testing import FakeClock

MakePool = Callable[..., tuple[Pool, FakeProcessFactory]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))


@pytest.fixture
def make_pool(clock: FakeClock) -> Iterator[MakePool]:
    made: list[tuple[Pool, FakeProcessFactory]] = []

    def make(
        workers: int = 1, factory: FakeProcessFactory | None = None, **options: object
    ) -> tuple[Pool, FakeProcessFactory]:
        factory = factory or FakeProcessFactory()
        options.setdefault("grace_s", 5.0)
        pool = Pool(workers, clock=clock, factory=factory, **options)  # type: ignore[arg-type]
        pool.start()
        made.append((pool, factory))
        return pool, factory

    yield make
    for pool, factory in made:
        pool.stop(grace_s=0)
        factory.close()


def turn(pool: Pool) -> list[PoolEvent]:
    """One pool turn that never blocks: what is readable now and the timers due now."""
    events: list[PoolEvent] = []
    for _ in range(3):  # a report may need a second look once its sentinel or pipe is read
        events += pool.wait(0)
    return events


def finished(events: list[PoolEvent], uuid: str) -> JobFinished:
    return next(e for e in events if isinstance(e, JobFinished) and e.uuid == uuid)


def only_worker(factory: FakeProcessFactory) -> FakeProcess:
    (process,) = factory.alive
    return process


def test_workers_start_through_the_factory(make_pool: MakePool) -> None:
    pool, factory = make_pool(3)
    assert factory.prepared == 1
    assert len(factory.processes) == 3
    assert sorted(pool.pids) == sorted(p.pid for p in factory.processes if p.pid)


def test_reports_are_stamped_with_the_pool_clock_when_read(
    make_pool: MakePool, clock: FakeClock
) -> None:
    pool, factory = make_pool()
    pool.submit(JobSpec("a", "m:f"))
    worker = only_worker(factory)
    assert [m[:2] for m in worker.received()] == [("J", "a")]
    worker.start("a")
    worker.progress("a", 50, "half")
    worker.message("a", "hello")
    clock.advance(3)
    events = turn(pool)
    at = clock.time()
    assert [(type(e), e.at) for e in events] == [  # type: ignore[union-attr]
        (JobStarted, at),
        (JobProgress, at),
        (JobMessage, at),
    ]
    worker.finish("a", result="42")
    clock.advance(1)
    outcome = finished(turn(pool), "a")
    assert (outcome.state, outcome.result, outcome.at) == (JobState.COMPLETED, "42", clock.time())


def test_deadline_asks_the_job_to_stop_then_kills_it_after_the_grace(
    make_pool: MakePool, clock: FakeClock
) -> None:
    pool, factory = make_pool(grace_s=5.0)
    pool.submit(JobSpec("slow", "m:f", timeout_s=10))
    worker = only_worker(factory)
    worker.start("slow")
    turn(pool)
    clock.advance(9.9)
    assert turn(pool) == [] and worker.shared[1] == 0
    clock.advance(0.1)
    assert turn(pool) == []
    assert worker.shared[1 % 2] == 1  # job 1 is asked to stop
    assert worker.is_alive
    clock.advance(4.9)
    assert turn(pool) == [] and worker.is_alive
    clock.advance(0.1)
    outcome = finished(turn(pool), "slow")
    assert outcome.state is JobState.CANCELED
    assert outcome.error is not None
    assert outcome.error.message == (
        "deadline exceeded: timeout 10 s; worker killed after grace period of 5 s"
    )
    assert outcome.at == clock.time()
    assert worker.killed
    assert len(factory.alive) == 1 and factory.alive[0] is not worker  # replaced


def test_cancel_of_a_job_that_stops_on_request_keeps_the_worker(
    make_pool: MakePool, clock: FakeClock
) -> None:
    pool, factory = make_pool(grace_s=5.0)
    pool.submit(JobSpec("coop", "m:f"))
    worker = only_worker(factory)
    worker.start("coop")
    turn(pool)
    pool.cancel("coop")
    assert worker.shared[1] == 1
    worker.finish("coop", "CANCELED", error=("JobCanceled", "saw it", ""))
    outcome = finished(turn(pool), "coop")
    assert outcome.error is not None
    assert outcome.error.message == "cancel requested; the job stopped on request"
    clock.advance(60)
    assert turn(pool) == [] and worker.is_alive and not worker.killed


def test_a_job_queued_behind_a_running_one_comes_back_after_queue_behind_s(
    make_pool: MakePool, clock: FakeClock
) -> None:
    pool, factory = make_pool(pipeline=2)
    pool.submit(JobSpec("head", "m:f"))
    pool.submit(JobSpec("behind", "m:f"))
    worker = only_worker(factory)
    worker.start("head")
    turn(pool)
    clock.advance(0.05)
    assert turn(pool) == [] and worker.wakeup.sent == []
    clock.advance(0.05)
    turn(pool)
    assert worker.shared[2] == 2  # give back up to job 2
    assert worker.wakeup.sent == [b""]
    worker.give_back("behind")
    assert [e for e in turn(pool) if isinstance(e, JobReturned)] == [JobReturned("behind")]
    assert pool.running() == {"head": worker.pid}


def test_a_worker_queues_the_whole_pipeline_behind_short_jobs_and_less_behind_slow_ones(
    make_pool: MakePool, clock: FakeClock
) -> None:
    pool, factory = make_pool(pipeline=8, queued_work_s=QUEUED_WORK_S)
    worker = only_worker(factory)
    assert pool.idle == 2  # nothing known of its jobs yet: one to run and one queued
    pool.submit(JobSpec("quick", "m:f"))
    worker.start("quick")
    turn(pool)
    clock.advance(0.001)
    worker.finish("quick")
    turn(pool)
    assert pool.idle == 8  # a 1 ms job: the whole pipeline is less than QUEUED_WORK_S of work
    pool.submit(JobSpec("slow", "m:f"))
    worker.start("slow")
    turn(pool)
    clock.advance(0.02)
    # The head has run 20 ms: two more fit in QUEUED_WORK_S (50 ms), so 3 in all.
    assert pool.idle == 2
    clock.advance(0.01)
    worker.finish("slow")
    turn(pool)
    assert pool.idle == 2  # its last job ran 30 ms: one to run and one queued behind it


def test_a_dead_worker_fails_its_job_and_is_replaced(make_pool: MakePool) -> None:
    pool, factory = make_pool(pipeline=2, queue_behind_s=30)
    pool.submit(JobSpec("a", "m:f"))
    pool.submit(JobSpec("queued", "m:f"))
    worker = only_worker(factory)
    worker.start("a")
    turn(pool)
    worker.exit(3)
    events = turn(pool)
    outcome = finished(events, "a")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == (
        "WorkerDied",
        "worker process exited with code 3",
    )
    assert JobReturned("queued") in events
    assert len(factory.processes) == 2 and factory.processes[1].is_alive
    assert pool.idle == 2


def test_crash_loop_backs_off_exponentially_and_fails_the_jobs_it_was_handed(
    make_pool: MakePool, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    factory = FakeProcessFactory()
    factory.die_at_start = (1, "Traceback (most recent call last):\nImportError: boom\n")
    with caplog.at_level(logging.ERROR, logger="jobengine.pool"):
        pool, _ = make_pool(2, factory=factory, pipeline=2)
        pool.submit(JobSpec("doomed", "m:f"))
        outcome = finished(turn(pool), "doomed")
        spawns = []
        for _ in range(1200):  # one fake minute, 50 ms at a time
            clock.advance(0.05)
            turn(pool)
            spawns.append(len(factory.processes))
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert outcome.error.message == (
        "worker process exited with code 1 before it took a job: ImportError: boom"
    )
    # 0.1 s doubling up to 30 s: 2 at start, then one after 0.2, 0.4, ... 25.6, 30 s.
    assert 10 <= spawns[-1] <= 13, spawns[-1]
    assert spawns[:3] == [2, 2, 2]  # nothing while backing off
    errors = [r for r in caplog.records if "before it took a job" in r.getMessage()]
    job_errors = [r for r in errors if "doomed" in r.getMessage()]
    assert len(errors) - len(job_errors) == 1  # one error for the streak, one per failed job

    factory.die_at_start = None  # healthy again: one starts, and the rest once it takes a job
    clock.advance(30)
    turn(pool)
    probe = only_worker(factory)
    pool.submit(JobSpec("fine", "m:f"))
    assert [m[1] for m in probe.received()] == ["fine"]
    probe.start("fine")
    turn(pool)
    assert len(factory.alive) == 2


def test_while_workers_fail_to_start_only_one_starts_at_a_time(
    make_pool: MakePool, clock: FakeClock
) -> None:
    factory = FakeProcessFactory()
    pool, _ = make_pool(3, factory=factory)
    assert len(factory.processes) == 3
    for process in factory.processes:
        process.exit(1, "MemoryError\n")
    turn(pool)
    clock.advance(1)
    turn(pool)
    assert len(factory.alive) == 1  # a probe, not three
    clock.advance(60)
    turn(pool)
    assert len(factory.alive) == 1
    assert pool.idle == 2  # the probe's pipeline; no new workers while it has taken no job
    pool.submit(JobSpec("a", "m:f"))
    factory.alive[0].start("a")
    turn(pool)
    assert len(factory.alive) == 3


def test_a_factory_that_raises_is_retried_after_a_back_off(
    make_pool: MakePool, clock: FakeClock
) -> None:
    factory = FakeProcessFactory()
    factory.fail_start = OSError("out of processes")
    pool, _ = make_pool(1, factory=factory)
    assert factory.processes == [] and pool.idle == 0
    factory.fail_start = None
    turn(pool)
    assert factory.processes == []  # backing off
    clock.advance(0.1)
    turn(pool)
    assert len(factory.processes) == 1 and pool.idle == 2


def test_stop_with_no_grace_kills_running_jobs_and_returns_queued_ones(
    make_pool: MakePool,
) -> None:
    pool, factory = make_pool(pipeline=2, queue_behind_s=30)
    pool.submit(JobSpec("run", "m:f"))
    pool.submit(JobSpec("queued", "m:f"))
    worker = only_worker(factory)
    worker.start("run")
    turn(pool)
    settled = pool.stop(grace_s=0)
    assert [(type(e).__name__, e.uuid) for e in settled] == [
        ("JobFinished", "run"),
        ("JobReturned", "queued"),
    ]
    assert worker.killed and pool.pids == []


def test_a_lent_slot_waits_out_a_failed_worker_start(make_pool: MakePool, clock: FakeClock) -> None:
    pool, factory = make_pool(pipeline=1)
    pool.submit(JobSpec("parent", "m:f"))
    parent = only_worker(factory)
    parent.start("parent")
    parent.lend("parent")
    turn(pool)
    assert pool.idle == 1  # a temporary worker may run a child job
    factory.fail_start = OSError("out of processes")
    with pytest.raises(PoolError, match="could not start a worker process"):
        pool.submit(JobSpec("child", "m:f"))
    assert pool.idle == 0 and pool.running() == {"parent": parent.pid}
    factory.fail_start = None
    clock.advance(0.1)
    assert pool.idle == 1
    pool.submit(JobSpec("child", "m:f"))
    assert len(factory.alive) == 2


def _epoll_fds() -> int:
    fds = os.listdir("/proc/self/fd")
    links = []
    for fd in fds:
        with contextlib.suppress(OSError):  # the listing's own fd is gone by now
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sum(1 for link in links if "eventpoll" in link)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds through /proc")
def test_stop_closes_the_selector_so_cycles_leave_no_epoll_fd(clock: FakeClock) -> None:
    gc.disable()  # a leak must not hide behind the cycle collector
    try:
        before = _epoll_fds()
        for _ in range(10):
            factory = FakeProcessFactory()
            pool = Pool(2, clock=clock, factory=factory, grace_s=0)
            pool.start()
            pool.stop()
            factory.close()
        assert _epoll_fds() == before
    finally:
        gc.enable()
