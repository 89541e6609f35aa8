"""The process pool with real worker processes: outcomes, deaths, cancels, deadlines, lending."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jobengine.errors import JobEngineError
from jobengine.events import (
    JobFinished,
    JobMessage,
    JobProgress,
    JobSpec,
    JobStarted,
    PoolEvent,
)
from jobengine.pool import Pool, PoolError
from jobengine.runtime import current_job, lending_slot
from jobengine.state import JobState

E = TypeVar("E", JobStarted, JobFinished)
MakePool = Callable[..., tuple[Pool, "Recorder"]]
GRACE_S = 0.5
WAIT_S = 20.0


class Recorder:
    """Drives `pool.wait()` and keeps every event, so tests can wait for conditions."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.events: list[PoolEvent] = []

    def until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met in {timeout_s} s; events: {self.events}")
            self.events.extend(self.pool.wait(min(remaining, 0.5)))

    def finished(self, uuid: str, timeout_s: float = WAIT_S) -> JobFinished:
        self.until(lambda: self._finished(uuid) is not None, timeout_s)
        outcome = self._finished(uuid)
        assert outcome is not None
        return outcome

    def started(self, uuid: str) -> JobStarted:
        self.until(lambda: any(self._of(JobStarted, uuid)))
        return next(self._of(JobStarted, uuid))

    def _finished(self, uuid: str) -> JobFinished | None:
        return next(self._of(JobFinished, uuid), None)

    def _of(self, kind: type[E], uuid: str) -> Iterator[E]:
        return (e for e in self.events if isinstance(e, kind) and e.uuid == uuid)


@pytest.fixture
def make_pool() -> Iterator[MakePool]:
    pools: list[Pool] = []

    def make(workers: int = 2, **options: object) -> tuple[Pool, Recorder]:
        options.setdefault("grace_s", GRACE_S)
        pool = Pool(workers, **options)  # type: ignore[arg-type]
        pool.start()
        pools.append(pool)
        return pool, Recorder(pool)

    yield make
    for pool in pools:
        pool.stop(grace_s=0)


def spec(uuid: str, method: str, *args: object, **fields: object) -> JobSpec:
    return JobSpec(uuid, f"tests.jobs:{method}", args=json.dumps(list(args)), **fields)  # type: ignore[arg-type]


def is_gone(pid: int) -> bool:
    """True when `pid` no longer runs (reaped, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- outcomes ------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_pool_runs_job_and_reports_start_and_result(make_pool: MakePool) -> None:
    pool, rec = make_pool()
    pool.submit(spec("a", "add", 2, 40))
    outcome = rec.finished("a")
    assert outcome.state is JobState.COMPLETED
    assert outcome.result == "42"
    assert outcome.error is None
    assert rec.started("a").pid in pool.pids
    assert pool.running() == {}
    assert pool.idle == 2


@pytest.mark.timeout(60)
def test_worker_leads_its_own_process_group_and_sees_the_job(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("who", "whoami", attempt=3))
    seen = json.loads(rec.finished("who").result or "null")
    assert seen == {"uuid": "who", "attempt": 3, "pid": seen["pid"], "pgid": seen["pid"]}


@pytest.mark.timeout(60)
def test_failure_carries_qualified_type_message_and_traceback(make_pool: MakePool) -> None:
    pool, rec = make_pool()
    pool.submit(spec("mine", "fail", "boom"))
    pool.submit(spec("builtin", "fail_value", "bad value"))
    mine = rec.finished("mine")
    assert mine.state is JobState.FAILED
    assert mine.error is not None
    assert (mine.error.type, mine.error.message) == ("tests.jobs.JobError", "boom")
    assert "raise JobError(text)" in mine.error.traceback
    builtin = rec.finished("builtin").error
    assert builtin is not None and builtin.type == "ValueError"


@pytest.mark.timeout(60)
def test_unknown_method_fails_with_method_error(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("nope", "no_such_function"))
    error = rec.finished("nope").error
    assert error is not None and error.type == "jobengine.errors.MethodError"
    assert "'no_such_function' not found" in error.message


@pytest.mark.timeout(60)
def test_unstorable_result_fails_with_serialization_error(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("u", "return_unstorable"))
    outcome = rec.finished("u")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None and outcome.error.type == "SerializationError"
    assert "object cannot be stored as JSON" in outcome.error.message


@pytest.mark.timeout(60)
def test_retry_later_fails_with_retry_delay(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("r", "retry_later", 2.5))
    outcome = rec.finished("r")
    assert outcome.state is JobState.FAILED
    assert outcome.retry_delay_s == 2.5


@pytest.mark.timeout(60)
def test_progress_and_messages_reach_the_pool_in_order(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("p", "report_progress"))
    assert rec.finished("p").result == '"done"'
    reports = [
        (type(e).__name__, getattr(e, "percent", None), e.text)
        for e in rec.events
        if isinstance(e, JobProgress | JobMessage)
    ]
    assert reports == [
        ("JobProgress", 50.0, "half way"),
        ("JobMessage", None, "hello from the job"),
        ("JobProgress", 100.0, ""),
    ]


@pytest.mark.timeout(60)
def test_progress_outside_zero_to_hundred_fails_the_job(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("bad", "bad_progress"))
    error = rec.finished("bad").error
    assert error is not None and error.type == "ValueError"
    assert "from 0 to 100" in error.message


def test_current_job_outside_a_worker_raises_and_lending_is_a_no_op() -> None:
    with pytest.raises(JobEngineError, match="outside a running background job"):
        current_job()
    with lending_slot():
        pass


@pytest.mark.timeout(60)
def test_spawn_context_runs_jobs(make_pool: MakePool) -> None:
    pool, rec = make_pool(1, context="spawn")
    pool.submit(spec("s", "add", 1, 2))
    assert rec.finished("s").result == "3"


def test_submit_without_idle_slot_is_refused(make_pool: MakePool) -> None:
    pool, _ = make_pool(1)
    pool.submit(spec("busy", "sleep_forever"))
    assert pool.idle == 0
    with pytest.raises(PoolError, match="no idle worker"):
        pool.submit(spec("more", "add", 1, 1))


@pytest.mark.timeout(60)
def test_wait_returns_when_an_extra_handle_is_readable(make_pool: MakePool) -> None:
    pool, _ = make_pool(1)
    left, right = socket.socketpair()
    with left, right:
        right.send(b"x")
        started = time.monotonic()
        assert pool.wait(30, [left]) == []
        assert time.monotonic() - started < 10


# -- worker deaths ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_os_exit_fails_the_job_and_a_replacement_runs_the_next(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("exit", "os_exit", 3))
    outcome = rec.finished("exit")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == (
        "WorkerDied",
        "worker process exited with code 3",
    )
    assert pool.idle == 1
    pool.submit(spec("next", "add", 1, 1))
    assert rec.finished("next").result == "2"
    assert rec.started("next").pid != rec.started("exit").pid


@pytest.mark.timeout(60)
def test_kill_9_of_a_worker_mid_job_fails_the_job(make_pool: MakePool) -> None:
    pool, rec = make_pool(2)
    pool.submit(spec("victim", "sleep_forever"))
    pid = rec.started("victim").pid
    os.kill(pid, signal.SIGKILL)
    outcome = rec.finished("victim")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert outcome.error.message == "worker process exited with code -9 (SIGKILL)"
    rec.until(lambda: pool.idle == 2 and len(pool.pids) == 2 and pid not in pool.pids)


# -- cancel, deadline, stop ----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_cancel_of_a_job_stuck_in_sleep_ends_canceled_within_grace(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("stuck", "sleep_forever"))
    pid = rec.started("stuck").pid
    asked = time.monotonic()
    pool.cancel("stuck")
    outcome = rec.finished("stuck")
    assert time.monotonic() - asked < GRACE_S + 3
    assert outcome.state is JobState.CANCELED
    assert outcome.error is not None and outcome.error.type == "JobCanceled"
    assert "killed after grace period of 0.5 s" in outcome.error.message
    assert is_gone(pid)
    pool.submit(spec("after", "add", 2, 2))
    assert rec.finished("after").result == "4"


@pytest.mark.timeout(60)
def test_cancel_kills_the_jobs_own_subprocesses(make_pool: MakePool, tmp_path: Path) -> None:
    pool, rec = make_pool(1)
    pid_file = tmp_path / "grandchild.pid"
    pool.submit(spec("tree", "spawn_grandchild_and_sleep", str(pid_file)))
    wait_until(lambda: pid_file.exists() and pid_file.read_text() != "")
    grandchild = int(pid_file.read_text())
    pool.cancel("tree")
    assert rec.finished("tree").state is JobState.CANCELED
    wait_until(lambda: is_gone(grandchild))


@pytest.mark.timeout(60)
def test_job_that_sees_cancel_requested_ends_canceled_and_keeps_its_worker(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1, grace_s=30)
    pool.submit(spec("coop", "check_cancel_loop"))
    pid = rec.started("coop").pid
    pool.cancel("coop")
    outcome = rec.finished("coop", timeout_s=10)
    assert outcome.state is JobState.CANCELED
    assert outcome.error is not None
    assert outcome.error.message == "cancel requested; the job stopped on request"
    pool.submit(spec("late", "return_after_cancel"))
    pool.cancel("late")
    assert rec.finished("late", timeout_s=10).state is JobState.CANCELED
    assert rec.started("late").pid == pid


@pytest.mark.timeout(60)
def test_deadline_kills_a_job_past_its_timeout(make_pool: MakePool) -> None:
    pool, rec = make_pool(2)
    pool.submit(spec("slow", "sleep_forever", timeout_s=0.3))
    pool.submit(spec("polite", "check_cancel_loop", timeout_s=0.3))
    slow = rec.finished("slow")
    assert slow.state is JobState.CANCELED
    assert slow.error is not None
    assert slow.error.message.startswith("deadline exceeded: timeout 0.3 s; worker killed")
    polite = rec.finished("polite")
    assert polite.state is JobState.CANCELED
    assert polite.error is not None
    assert polite.error.message == "deadline exceeded: timeout 0.3 s; the job stopped on request"


@pytest.mark.timeout(60)
def test_stop_cancels_running_jobs_and_ends_every_worker(make_pool: MakePool) -> None:
    pool, rec = make_pool(2)
    pool.submit(spec("sleeper", "sleep_forever"))
    pool.submit(spec("coop", "check_cancel_loop"))
    rec.started("sleeper")
    rec.started("coop")
    pids = pool.pids
    outcomes = {o.uuid: o for o in pool.stop(grace_s=0.5)}
    assert {uuid: o.state for uuid, o in outcomes.items()} == {
        "sleeper": JobState.CANCELED,
        "coop": JobState.CANCELED,
    }
    assert outcomes["sleeper"].error is not None
    assert "engine stopping; worker killed" in outcomes["sleeper"].error.message
    assert pool.pids == [] and pool.idle == 0
    wait_until(lambda: all(is_gone(pid) for pid in pids))


# -- recycling and lending -----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_worker_is_recycled_after_max_jobs(make_pool: MakePool) -> None:
    pool, rec = make_pool(1, max_jobs_per_worker=2)
    for uuid in ("one", "two", "three"):
        rec.until(lambda: pool.idle == 1)
        pool.submit(spec(uuid, "add", 1, 1))
        assert rec.finished(uuid).state is JobState.COMPLETED
    pids = [rec.started(uuid).pid for uuid in ("one", "two", "three")]
    assert pids[0] == pids[1] != pids[2]
    rec.until(lambda: pool.pids == [pids[2]])


@pytest.mark.timeout(60)
def test_lending_slot_frees_a_slot_for_child_jobs_and_the_extra_worker_retires(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("parent", "lend_until_canceled"))
    rec.until(lambda: pool.idle == 1)
    pool.submit(spec("child", "add", 20, 22))
    assert rec.finished("child").result == "42"
    assert len(pool.pids) == 2  # the temporary worker stays while the slot is lent
    assert pool.idle == 1
    pool.cancel("parent")  # the parent resumes, then returns
    assert rec.finished("parent").state is JobState.CANCELED
    rec.until(lambda: len(pool.pids) == 1 and pool.idle == 1)


@pytest.mark.timeout(60)
def test_killed_lending_job_gives_its_slot_back(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("lender", "lend_and_sleep"))
    rec.until(lambda: pool.idle == 1)
    pool.cancel("lender")
    assert rec.finished("lender").state is JobState.CANCELED
    assert pool.idle == 1
    pool.submit(spec("next", "add", 0, 1))
    assert rec.finished("next").result == "1"
