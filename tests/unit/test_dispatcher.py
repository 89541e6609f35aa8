"""The dispatcher's turn, driven by a FakeClock and a fake pool over a real SQLite store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from jobengine import Engine, JobState
from jobengine.dispatcher import DispatchConfig, Dispatcher
from jobengine.errors import ErrorInfo
from jobengine.events import JobFinished, JobMessage, JobProgress, JobSpec, JobStarted, PoolEvent
from jobengine.heartbeat import Heartbeat, Identity
from jobengine.limits import Limits
from jobengine.testing import FakeClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FakePool:
    """Takes jobs while it has slots; the test says what the 'workers' report."""

    slots: int = 2
    submitted: list[JobSpec] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    extras_ready: list[object] = field(default_factory=list)

    @property
    def idle(self) -> int:
        return self.slots - len(self.submitted)

    @property
    def starved(self) -> int:
        return self.idle  # each fake slot is a worker of its own

    def submit(self, spec: JobSpec) -> None:
        assert self.idle > 0
        self.submitted.append(spec)

    def cancel(self, uuid: str) -> None:
        self.canceled.append(uuid)

    def wait(self, timeout_s: float, extra: Sequence[object] = ()) -> list[PoolEvent]:
        return []

    def stop(self, grace_s: float | None = None) -> list[PoolEvent]:
        return []

    def done(self, uuid: str) -> None:
        self.submitted = [s for s in self.submitted if s.uuid != uuid]


@dataclass
class Rig:
    engine: Engine
    clock: FakeClock
    pool: FakePool
    dispatcher: Dispatcher

    def step(self, *events: PoolEvent) -> None:
        for ev in events:
            if isinstance(ev, JobFinished):
                self.pool.done(ev.uuid)
        self.dispatcher.step(self.clock.monotonic(), events)

    def run_to_end(self, uuid: str, *, result: str = "42", **finish: object) -> None:
        """Report a start and an outcome for `uuid` at the clock's time."""
        at = self.clock.time()
        self.step(JobStarted(uuid, 4242, at))
        self.step(JobFinished(uuid, JobState(finish.pop("state", "COMPLETED")), at, result))


@pytest.fixture
def rig(tmp_path: object) -> Iterator[Rig]:
    clock = FakeClock(START)
    engine = Engine(f"sqlite:///{tmp_path}/jobs.db", clock=clock)
    pool = FakePool()
    cfg = DispatchConfig(
        engine_id="e-1",
        host="testhost",
        max_finished=3,
        limits=Limits(result_bytes=1000, message_bytes=100, error_bytes=200),
    )
    engine.store.engines.register("e-1", "testhost", 1, 0)
    dispatcher = Dispatcher(engine.store, pool, engine.hub, clock, cfg)  # type: ignore[arg-type]
    try:
        yield Rig(engine, clock, pool, dispatcher)
    finally:
        engine.close()


def test_step_claims_a_job_and_hands_it_to_an_idle_worker(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    rig.step()
    assert [s.uuid for s in rig.pool.submitted] == [job.uuid]
    assert job.refresh().state is JobState.ACTIVE


def test_outcome_times_come_from_the_engine_clock(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    rig.step()
    rig.clock.advance(5)
    rig.step(JobStarted(job.uuid, 4242, rig.clock.time()))
    rig.clock.advance(7)
    rig.step(JobFinished(job.uuid, JobState.COMPLETED, rig.clock.time(), "42"))
    job.refresh()
    assert job.state is JobState.COMPLETED
    assert job.begin == START
    assert job.started is not None and (job.started - START).total_seconds() == 5
    assert job.end is not None and (job.end - START).total_seconds() == 12
    assert job.result() == 42


def test_short_jobs_start_is_written_with_its_end_in_one_write(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    rig.step()
    rig.step(JobStarted(job.uuid, 4242, rig.clock.time()))
    assert job.refresh().started is None  # not written on its own
    rig.clock.advance(0.005)
    rig.step(JobFinished(job.uuid, JobState.COMPLETED, rig.clock.time(), "42"))
    job.refresh()
    assert job.state is JobState.COMPLETED
    assert job.started == START and job.location == "testhost:4242"


def test_long_jobs_start_shows_within_start_write_s(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    rig.step()
    rig.step(JobStarted(job.uuid, 4242, rig.clock.time()))
    rig.clock.advance(rig.dispatcher.cfg.start_write_s)
    rig.step()
    job.refresh()
    assert job.state is JobState.ACTIVE and job.started == START
    assert rig.engine.store.jobs.running_by_engine() == {"e-1": 1}


def test_failed_attempt_ended_before_its_start_was_written_keeps_its_start(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    rig.step()
    rig.step(JobStarted(job.uuid, 4242, rig.clock.time()))
    rig.clock.advance(0.005)
    error = ErrorInfo("ValueError", "no", "tb")
    rig.step(JobFinished(job.uuid, JobState.FAILED, rig.clock.time(), error=error))
    job.refresh()
    assert job.state is JobState.FAILED and job.started == START
    assert [a.start for a in job.attempts] == [START]


def test_lone_surrogate_and_nul_in_reports_are_stored_escaped_and_block_nothing(rig: Rig) -> None:
    odd = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1])
    other = rig.engine.background.execute("tests.integration.jobs:add", args=[2, 2])
    rig.step()
    at = rig.clock.time()
    rig.step(
        JobStarted(odd.uuid, 1, at),
        JobMessage(odd.uuid, "file caf\udce9.txt", at),
        JobMessage(odd.uuid, "nul\x00here", at),
        JobProgress(odd.uuid, 50.0, "half \udcff", at),
        JobFinished(
            odd.uuid, JobState.FAILED, at, error=ErrorInfo("OSError", "bad \udce9 name", "tb\x00")
        ),
    )
    rig.run_to_end(other.uuid, result="4")
    assert odd.messages() == ["file caf\\udce9.txt", "nul\\x00here"]
    odd.refresh()
    assert odd.state is JobState.FAILED and odd.error is not None
    assert odd.error.message == "bad \\udce9 name"
    assert odd.error.traceback == "tb\\x00"
    assert other.result(timeout=0) == 4


def test_result_over_the_limit_fails_the_job_with_its_size(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1])
    rig.step()
    rig.run_to_end(job.uuid, result='"' + "x" * 5000 + '"')
    job.refresh()
    assert job.state is JobState.FAILED and job.error is not None
    assert job.error.type == "ResultError"
    assert "over the 1000 bytes limit" in job.error.message


def test_long_message_is_cut_with_a_note(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1])
    rig.step()
    at = rig.clock.time()
    rig.step(JobStarted(job.uuid, 1, at), JobMessage(job.uuid, "y" * 500, at))
    rig.run_to_end(job.uuid)
    (message,) = job.messages()
    assert message.startswith("yyy") and "it was 500 bytes" in message
    assert len(message.encode()) <= 100


def test_retention_cap_holds_within_a_second_after_jobs_end(rig: Rig) -> None:
    rig.pool.slots = 10
    add = "tests.integration.jobs:add"
    jobs = [rig.engine.background.execute(add, args=[i, 0]) for i in range(6)]
    rig.step()
    for job in jobs:
        rig.clock.advance(0.01)
        rig.run_to_end(job.uuid)
    rig.clock.advance(1.0)
    rig.step()
    left = rig.engine.background.get()
    assert [j.uuid for j in left] == [j.uuid for j in jobs[-3:]]


def test_delayed_job_is_claimed_when_the_clock_reaches_its_time(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1], delay=30)
    rig.step()
    assert rig.pool.submitted == []
    rig.clock.advance(29)
    rig.step()
    assert rig.pool.submitted == []
    rig.clock.advance(1)
    rig.step()
    assert [s.uuid for s in rig.pool.submitted] == [job.uuid]


def test_heartbeat_writes_the_clock_time_and_extends_the_lease(rig: Rig) -> None:
    hb = _heartbeat(rig)
    rig.clock.advance(60)
    assert not hb.has_lease(rig.clock.monotonic())
    assert hb.beat() is True
    assert hb.has_lease(rig.clock.monotonic())
    assert not hb.has_lease(rig.clock.monotonic() + 7.5)
    now_ms = int(rig.clock.time() * 1000)
    assert "e-1" not in rig.engine.store.engines.dead("otherhost", now_ms, 1)


def test_engine_settled_while_paused_hands_out_nothing_it_had_claimed(rig: Rig) -> None:
    hb = _heartbeat(rig)
    rig.dispatcher.heartbeat = hb
    hb.on_fenced = rig.dispatcher.fenced
    # Nothing marked ahead: the second job stays claimed only, so the settler requeues it.
    rig.dispatcher.cfg = dataclasses.replace(rig.dispatcher.cfg, hand_ahead=0)
    rig.pool.slots = 1
    add = "tests.integration.jobs:add"
    first, second = (rig.engine.background.execute(add, args=[i, 0]) for i in range(2))
    rig.step()
    assert [s.uuid for s in rig.pool.submitted] == [first.uuid]
    rig.step(JobStarted(first.uuid, 1, rig.clock.time()))
    rig.clock.advance(rig.dispatcher.cfg.start_write_s)
    rig.step()  # the start is written
    # Paused for 20 s: another engine finds us silent and settles us.
    rig.clock.advance(20)
    now_ms = int(rig.clock.time() * 1000)
    rig.engine.store.engines.settle(["e-1"], now_ms)
    assert [r.uuid for r in rig.engine.store.jobs.claim("e-2", 10, now_ms)] == [second.uuid]
    rig.pool.done(first.uuid)  # a free slot: the second job, now another's, must not take it
    rig.step()
    assert [s.uuid for s in rig.pool.submitted] == []
    assert rig.pool.canceled == [first.uuid]
    assert first.refresh().state is JobState.FAILED
    assert second.refresh().state is JobState.ACTIVE
    assert "e-1" not in rig.engine.store.engines.dead("otherhost", now_ms, 1)  # registered again


def _heartbeat(rig: Rig) -> Heartbeat:
    hb = Heartbeat(rig.engine.store, Identity("e-1", "testhost", 1), rig.clock)
    hb.lease_until = rig.clock.monotonic() + 7.5
    return hb


def test_cancel_of_a_claimed_job_not_yet_running_ends_it_canceled(rig: Rig) -> None:
    rig.pool.slots = 0
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1])
    rig.dispatcher.wake()
    rig.step()  # claimed into the ready queue: no idle worker
    job.cancel()  # the store records the request; the notification reaches the dispatcher
    rig.dispatcher.request_cancel([job.uuid])
    rig.step()
    job.refresh()
    assert job.state is JobState.CANCELED


def test_forged_cancel_wake_up_does_not_stop_a_running_job(rig: Rig) -> None:
    job = rig.engine.background.execute("tests.integration.jobs:add", args=[1, 1])
    rig.step()
    rig.step(JobStarted(job.uuid, 1, rig.clock.time()))
    rig.engine.hub.on_cancel = rig.dispatcher.request_cancel
    rig.engine.hub.dispatch([f"c {job.uuid}", "", "c", "c not-a-uuid", "n 1e9", "\x00"])
    rig.step()
    assert rig.pool.canceled == []
    job.cancel()
    rig.engine.hub.dispatch([f"c {job.uuid}"])
    rig.step()
    assert rig.pool.canceled == [job.uuid]
