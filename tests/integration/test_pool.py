"""The process pool with real worker processes: outcomes, deaths, cancels, deadlines, lending,
and pipelining (jobs queued in a worker behind the running one)."""

from __future__ import annotations

import json
import marshal
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import multiprocess
import pytest

from jobengine.engine import Engine
from jobengine.errors import ErrorInfo, JobEngineError
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
from jobengine.pool.child import worker_main
from jobengine.pool.process import WorkerOptions
from jobengine.pool.protocol import STOP, encode_job
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
    return JobSpec(uuid, f"tests.integration.jobs:{method}", args=json.dumps(list(args)), **fields)  # type: ignore[arg-type]


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
@pytest.mark.parametrize("pipeline", [1, 2])
def test_pool_runs_job_and_reports_start_and_result(make_pool: MakePool, pipeline: int) -> None:
    pool, rec = make_pool(pipeline=pipeline)
    pool.submit(spec("a", "add", 2, 40))
    outcome = rec.finished("a")
    assert outcome.state is JobState.COMPLETED
    assert outcome.result == "42"
    assert outcome.error is None
    assert rec.started("a").pid in pool.pids
    assert pool.running() == {}
    assert pool.idle == 2 * pipeline


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
    assert (mine.error.type, mine.error.message) == ("tests.integration.jobs.JobError", "boom")
    assert "raise JobError(text)" in mine.error.traceback
    builtin = rec.finished("builtin").error
    assert builtin is not None and builtin.type == "ValueError"


@pytest.mark.timeout(60)
def test_unknown_method_fails_with_method_error(make_pool: MakePool) -> None:
    pool, rec = make_pool(1)
    pool.submit(spec("nope", "no_such_function"))
    error = rec.finished("nope").error
    assert error is not None and error.type == "jobengine.errors.MethodError"
    assert "'no_such_function'" in error.message


@pytest.mark.timeout(60)
def test_job_whose_module_does_not_import_fails_with_that_import_error(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1)
    pool.submit(JobSpec("gone", "tests.integration.no_such_module:run"))
    outcome = rec.finished("gone")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert outcome.error.type == "ModuleNotFoundError"
    assert "tests.integration.no_such_module" in outcome.error.message
    pool.submit(spec("after", "add", 1, 2))  # the worker lives on
    assert rec.finished("after").result == "3"
    assert rec.started("after").pid == rec.started("gone").pid


@pytest.mark.timeout(60)
def test_worker_checks_allowed_modules_again(make_pool: MakePool) -> None:
    pool, rec = make_pool(1, allowed_modules=["examples"])
    pool.submit(spec("refused", "add", 1, 2))
    error = rec.finished("refused").error
    assert error is not None and error.type == "jobengine.errors.MethodError"
    assert "allowed_modules" in error.message


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


@pytest.mark.parametrize("pipeline", [1, 2])
def test_submit_without_idle_slot_is_refused(make_pool: MakePool, pipeline: int) -> None:
    pool, _ = make_pool(1, pipeline=pipeline)
    for i in range(pipeline):
        assert pool.idle == pipeline - i
        pool.submit(spec(f"busy{i}", "sleep_forever"))
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
@pytest.mark.parametrize("pipeline", [1, 2])
def test_os_exit_fails_the_job_and_a_replacement_runs_the_next(
    make_pool: MakePool, pipeline: int
) -> None:
    pool, rec = make_pool(1, pipeline=pipeline)
    pool.submit(spec("exit", "os_exit", 3))
    outcome = rec.finished("exit")
    assert outcome.state is JobState.FAILED
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == (
        "WorkerDied",
        "worker process exited with code 3",
    )
    assert pool.idle == pipeline
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
    rec.until(lambda: pool.idle == 4 and len(pool.pids) == 2 and pid not in pool.pids)


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
    rec.started("late")  # canceled before it starts, it would not run at all
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
    settled = pool.stop(grace_s=0.5)
    outcomes = {o.uuid: o for o in settled if isinstance(o, JobFinished)}
    assert len(outcomes) == len(settled)  # nothing was queued
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
@pytest.mark.parametrize("pipeline", [1, 2])
def test_worker_is_recycled_after_max_jobs(make_pool: MakePool, pipeline: int) -> None:
    pool, rec = make_pool(1, max_jobs_per_worker=2, pipeline=pipeline)
    for uuid in ("one", "two", "three"):
        rec.until(lambda: pool.idle > 0)
        pool.submit(spec(uuid, "add", 1, 1))
        assert rec.finished(uuid).state is JobState.COMPLETED
    pids = [rec.started(uuid).pid for uuid in ("one", "two", "three")]
    assert pids[0] == pids[1] != pids[2]
    rec.until(lambda: pool.pids == [pids[2]])


@pytest.mark.timeout(60)
def test_lending_slot_frees_a_slot_for_child_jobs_and_the_extra_worker_retires(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1, pipeline=1)  # with 2, "child" would queue behind "parent"
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
    pool, rec = make_pool(1, pipeline=1)  # with 2, idle is 1 before the job lends as well
    pool.submit(spec("lender", "lend_and_sleep"))
    rec.until(lambda: pool.idle == 1)
    pool.cancel("lender")
    assert rec.finished("lender").state is JobState.CANCELED
    assert pool.idle == 1
    pool.submit(spec("next", "add", 0, 1))
    assert rec.finished("next").result == "1"


# -- pipelining: jobs queued in a worker behind the running one ----------------------------------


def returned(rec: Recorder, uuid: str) -> None:
    rec.until(lambda: any(isinstance(e, JobReturned) and e.uuid == uuid for e in rec.events))


@pytest.mark.timeout(60)
def test_pipeline_must_be_at_least_one() -> None:
    with pytest.raises(PoolError, match="pipeline must be at least 1"):
        Pool(1, pipeline=0)


@pytest.mark.timeout(60)
def test_queued_jobs_prefer_an_empty_worker_and_start_without_a_submit(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool, rec = make_pool(2, pipeline=2)
    gate = str(tmp_path / "gate")
    assert pool.idle == 4
    pool.submit(spec("a", "wait_for_file", gate))
    pool.submit(spec("b", "wait_for_file", gate))
    assert pool.idle == 2
    assert rec.started("a").pid != rec.started("b").pid  # not queued behind "a"
    pool.submit(spec("c", "add", 1, 2))
    pool.submit(spec("d", "add", 3, 4))
    assert pool.idle == 0
    assert set(pool.running()) == {"a", "b", "c", "d"}
    Path(gate).touch()
    assert rec.finished("c").result == "3"
    assert rec.finished("d").result == "7"
    assert {rec.started("c").pid, rec.started("d").pid} == set(pool.pids)
    assert pool.idle == 4


@pytest.mark.timeout(60)
def test_lending_gives_queued_jobs_back_to_run_elsewhere(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool, rec = make_pool(1, pipeline=2)
    gate = str(tmp_path / "gate")
    pool.submit(spec("parent", "lend_until_file", gate))
    pool.submit(spec("child", "add", 20, 22))  # queued behind the parent
    returned(rec, "child")
    assert not any(isinstance(e, JobStarted) and e.uuid == "child" for e in rec.events)
    assert "child" not in pool.running()
    assert pool.idle == 1  # the lent slot
    pool.submit(spec("child", "add", 20, 22))  # what the dispatcher does with it
    assert rec.finished("child").result == "42"
    assert rec.started("child").pid != rec.started("parent").pid
    Path(gate).touch()
    assert rec.finished("parent").state is JobState.COMPLETED
    rec.until(lambda: len(pool.pids) == 1 and pool.idle == 2)


@pytest.mark.timeout(60)
def test_lending_worker_takes_no_queued_job_and_takes_them_again_after(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool, rec = make_pool(1, pipeline=2)
    gate = str(tmp_path / "gate")
    pool.submit(spec("parent", "lend_until_file", gate))
    wait_until(lambda: Path(gate + ".lent").exists())
    rec.events.extend(pool.wait(0.5))  # reads the "lent" report, sent before the file
    assert len(pool.pids) == 1 and pool.idle == 1
    pool.submit(spec("child", "add", 1, 1))  # the lent slot: a temporary worker, not a queue
    assert len(pool.pids) == 2
    assert rec.finished("child").result == "2"
    Path(gate).touch()
    assert rec.finished("parent").state is JobState.COMPLETED
    rec.until(lambda: len(pool.pids) == 1 and pool.idle == 2)
    parent_pid = rec.started("parent").pid
    pool.submit(spec("after1", "add", 1, 1))
    pool.submit(spec("after2", "add", 2, 2))  # queued again: the pipe is the worker's again
    assert rec.finished("after2").result == "4"
    assert rec.started("after1").pid == rec.started("after2").pid == parent_pid


def _recv(conn: object, timeout_s: float = WAIT_S) -> tuple[object, ...]:
    assert conn.poll(timeout_s), "the worker sent nothing"  # type: ignore[attr-defined]
    return marshal.loads(conn.recv_bytes())  # type: ignore[attr-defined, no-any-return]


@pytest.mark.timeout(60)
def test_worker_protocol_give_back_and_cancel_by_job_number(tmp_path: Path) -> None:
    """The pipe protocol seen from the pool's side, with a worker alone."""
    ctx = multiprocess.get_context("forkserver")
    conn, child_conn = ctx.Pipe()
    wakeup_r, wakeup_w = ctx.Pipe(duplex=False)
    stderr_r, stderr_w = ctx.Pipe(duplex=False)
    shared = ctx.RawArray("q", 4)  # pipeline 2, then the lease (none)
    options = WorkerOptions(pipeline=2, max_jobs=None)
    process = ctx.Process(
        target=worker_main, args=(child_conn, shared, wakeup_r, stderr_w, options)
    )
    process.start()
    child_conn.close()
    wakeup_r.close()
    stderr_w.close()
    gate = str(tmp_path / "gate")
    try:
        conn.send_bytes(encode_job(spec("lender", "lend_until_file", gate)))  # job 1
        conn.send_bytes(encode_job(spec("x", "add", 1, 1)))  # job 2, queued
        assert _recv(conn)[:2] == ("S", "lender")
        assert _recv(conn) == ("L", "lender")
        shared[2] = 2  # give back up to job 2, now: the helper reads it off the pipe
        wakeup_w.send_bytes(b"")
        assert _recv(conn) == ("B", "x")
        Path(gate).touch()
        assert _recv(conn) == ("R", "lender")
        assert _recv(conn)[:3] == ("F", "lender", "COMPLETED")
        shared[4 % 2] = 4  # asks job 4 to stop
        conn.send_bytes(encode_job(spec("y", "add", 2, 2)))  # job 3: runs
        conn.send_bytes(encode_job(spec("z", "add", 3, 3)))  # job 4: dropped unstarted
        assert _recv(conn)[:2] == ("S", "y")
        finished = _recv(conn)
        assert finished[:4] == ("F", "y", "COMPLETED", "4")
        dropped = _recv(conn)
        assert dropped[:3] == ("F", "z", "CANCELED")
        assert dropped[4:6] == ("JobCanceled", "canceled before it started")
        shared[2] = 5  # job 5 is given back by the main thread, which reads it
        wakeup_w.send_bytes(b"")
        conn.send_bytes(encode_job(spec("w", "add", 4, 4)))
        assert _recv(conn) == ("B", "w")
        conn.send_bytes(STOP)
        process.join(10)
        assert process.exitcode == 0
    finally:
        conn.close()
        wakeup_w.close()
        stderr_r.close()
        process.join(10)
        if process.exitcode is None:
            process.kill()
            process.join(10)


@pytest.mark.timeout(60)
def test_jobs_queued_behind_a_long_running_job_come_back(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool, rec = make_pool(2, pipeline=2)
    gate = str(tmp_path / "gate")
    pool.submit(spec("slow", "wait_for_file", gate))  # the first worker
    pool.submit(spec("short", "sleep_for", 0.05))  # the second one
    pool.submit(spec("behind", "add", 1, 1))  # queued behind "slow", the first of equals
    assert pool.running()["behind"] == pool.running()["slow"]
    returned(rec, "behind")  # QUEUE_BEHIND_S after "slow" started
    assert not any(isinstance(e, JobStarted) and e.uuid == "behind" for e in rec.events)
    rec.until(lambda: pool.idle == 2)  # the second worker only: "slow" takes no queue now
    pool.submit(spec("behind", "add", 1, 1))
    assert rec.finished("behind").result == "2"
    assert rec.started("behind").pid == rec.started("short").pid
    Path(gate).touch()
    assert rec.finished("slow").state is JobState.COMPLETED


@pytest.mark.timeout(60)
def test_child_queued_behind_its_waiting_parent_completes_with_one_worker(
    tmp_path: Path,
) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'jobs.db'}", workers=1, grace=1.0)
    try:
        engine.start()
        # The parent sleeps before waiting, so the dispatcher queues the child behind it.
        parent = engine.background.execute("tests.integration.jobs:launch_child_and_wait", [0.5])
        assert parent.result(timeout=40) == 42
    finally:
        engine.close()


@pytest.mark.timeout(60)
def test_cancel_of_a_queued_job_drops_it_unstarted(make_pool: MakePool, tmp_path: Path) -> None:
    pool, rec = make_pool(1, pipeline=2)
    gate = str(tmp_path / "gate")
    pool.submit(spec("first", "wait_for_file", gate))
    pool.submit(spec("queued", "add", 1, 1))
    rec.started("first")
    pool.cancel("queued")
    assert pool.idle == 0  # its slot is free once the worker dropped it
    Path(gate).touch()
    outcome = rec.finished("queued")
    assert outcome.state is JobState.CANCELED
    assert outcome.error == ErrorInfo("JobCanceled", "canceled before it started")
    assert not any(isinstance(e, JobStarted) and e.uuid == "queued" for e in rec.events)
    assert rec.finished("first").state is JobState.COMPLETED
    rec.until(lambda: pool.idle == 2)


@pytest.mark.timeout(60)
def test_cancel_of_the_running_job_gives_back_the_queued_one_and_spares_the_next(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1, pipeline=2, grace_s=30, queue_behind_s=30.0)
    pool.submit(spec("coop", "check_cancel_loop"))
    pool.submit(spec("queued", "add", 1, 1))
    pid = rec.started("coop").pid
    pool.cancel("coop")
    assert pool.idle == 0  # a job being stopped takes nothing queued behind it
    returned(rec, "queued")
    assert rec.finished("coop", timeout_s=10).state is JobState.CANCELED
    pool.submit(spec("next", "check_cancel_loop", timeout_s=0.5))  # it must not see the cancel
    outcome = rec.finished("next", timeout_s=10)
    assert outcome.error is not None
    assert outcome.error.message.startswith("deadline exceeded")  # not "cancel requested"
    assert rec.started("next").pid == pid


def _sigkill(pool: Pool, rec: Recorder) -> None:
    os.kill(rec.started("victim").pid, signal.SIGKILL)


def _cancel(pool: Pool, rec: Recorder) -> None:
    rec.started("victim")
    pool.cancel("victim")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("victim", "action", "state", "message"),
    [
        (spec("victim", "os_exit", 3), None, JobState.FAILED, "worker process exited with code 3"),
        (
            spec("victim", "sleep_forever"),
            _sigkill,
            JobState.FAILED,
            "worker process exited with code -9 (SIGKILL)",
        ),
        (
            spec("victim", "sleep_forever"),
            _cancel,
            JobState.CANCELED,
            "cancel requested; worker killed after grace",
        ),
        (
            spec("victim", "sleep_forever", timeout_s=0.2),
            None,
            JobState.CANCELED,
            "deadline exceeded: timeout 0.2 s; worker killed",
        ),
    ],
    ids=["os_exit", "sigkill", "cancel", "deadline"],
)
def test_worker_death_returns_the_jobs_queued_in_it(
    make_pool: MakePool,
    victim: JobSpec,
    action: Callable[[Pool, Recorder], None] | None,
    state: JobState,
    message: str,
) -> None:
    pool, rec = make_pool(1, pipeline=3)
    pool.submit(victim)
    pool.submit(spec("q1", "add", 1, 1))
    pool.submit(spec("q2", "add", 1, 1))
    if action is not None:
        action(pool, rec)
    outcome = rec.finished("victim")
    assert outcome.state is state
    assert outcome.error is not None and outcome.error.message.startswith(message)
    returned(rec, "q1")
    returned(rec, "q2")
    assert not any(isinstance(e, JobStarted) and e.uuid in ("q1", "q2") for e in rec.events)
    rec.until(lambda: pool.idle == 3 and len(pool.pids) == 1)
    pool.submit(spec("q1", "add", 1, 1))
    assert rec.finished("q1").result == "2"
    assert rec.started("q1").pid != rec.started("victim").pid


@pytest.mark.timeout(60)
def test_deadline_of_a_queued_job_counts_from_its_start(
    make_pool: MakePool,
) -> None:
    # queue_behind_s keeps "queued" queued
    pool, rec = make_pool(1, pipeline=2, grace_s=0.2, queue_behind_s=30.0)
    pool.submit(spec("ahead", "sleep_for", 1.0))
    pool.submit(spec("queued", "sleep_for", 0.3, timeout_s=0.8))
    assert rec.finished("ahead").state is JobState.COMPLETED
    assert rec.finished("queued").state is JobState.COMPLETED


@pytest.mark.timeout(60)
def test_a_worker_never_holds_more_jobs_than_it_runs_before_recycling(
    make_pool: MakePool,
) -> None:
    pool, rec = make_pool(1, pipeline=4, max_jobs_per_worker=3)
    assert pool.idle == 3
    for uuid in ("one", "two", "three"):
        pool.submit(spec(uuid, "add", 1, 1))
    assert pool.idle == 0
    for uuid in ("one", "two", "three"):
        assert rec.finished(uuid).state is JobState.COMPLETED
    first = rec.started("one").pid
    assert rec.started("two").pid == rec.started("three").pid == first
    rec.until(lambda: pool.idle == 3 and pool.pids != [first])
    pool.submit(spec("four", "add", 1, 1))
    assert rec.started("four").pid != first


@pytest.mark.timeout(60)
def test_stop_returns_queued_jobs_and_cancels_running_ones(make_pool: MakePool) -> None:
    pool, rec = make_pool(1, pipeline=3)
    pool.submit(spec("sleeper", "sleep_forever"))
    pool.submit(spec("q1", "add", 1, 1))
    pool.submit(spec("q2", "add", 1, 1))
    rec.started("sleeper")
    pid = pool.pids[0]
    settled = pool.stop(grace_s=0.3)
    finished = [e for e in settled if isinstance(e, JobFinished)]
    assert [(e.uuid, e.state) for e in finished] == [("sleeper", JobState.CANCELED)]
    assert sorted(e.uuid for e in settled if isinstance(e, JobReturned)) == ["q1", "q2"]
    assert pool.pids == [] and pool.idle == 0
    wait_until(lambda: is_gone(pid))


@pytest.mark.timeout(60)
def test_stop_returns_queued_jobs_of_a_job_that_stops_on_request(make_pool: MakePool) -> None:
    pool, rec = make_pool(1, pipeline=2)
    pool.submit(spec("coop", "check_cancel_loop"))
    pool.submit(spec("queued", "add", 1, 1))
    rec.started("coop")
    settled = pool.stop(grace_s=10)
    assert sorted((type(e).__name__, e.uuid) for e in settled) == [
        ("JobFinished", "coop"),
        ("JobReturned", "queued"),
    ]


@pytest.mark.timeout(60)
def test_a_canceled_queued_job_given_back_ends_canceled(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool, rec = make_pool(1, pipeline=2)
    gate = str(tmp_path / "gate")
    pool.submit(spec("parent", "lend_until_file", gate))
    pool.submit(spec("queued", "add", 1, 1))
    pool.cancel("queued")  # then the parent lends: "queued" comes back, but it was canceled
    outcome = rec.finished("queued")
    assert outcome.state is JobState.CANCELED
    assert outcome.error == ErrorInfo("JobCanceled", "canceled before it started")
    assert not any(
        isinstance(e, JobReturned | JobStarted) and e.uuid == "queued" for e in rec.events
    )
    Path(gate).touch()
    assert rec.finished("parent").state is JobState.COMPLETED
