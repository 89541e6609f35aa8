"""The process pool: long-lived worker processes that run background jobs one at a time.

The engine's dispatcher thread submits jobs and calls `wait()`; the pool turns what workers
report, worker deaths, cancels and deadlines into `PoolEvent`s. Only the caller writes the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import multiprocess
from multiprocess import connection, util

from jobengine.errors import ErrorInfo, JobEngineError
from jobengine.events import JobFinished, JobSpec, JobStarted, PoolEvent
from jobengine.state import JobState
from jobengine.worker import STOP, SlotChange, decode_report, encode_job, worker_main

logger = logging.getLogger(__name__)

CONTEXTS = ("forkserver", "spawn")
_BATCH = 256  # most messages read from one worker per wait()
_JOIN_S = 5.0  # how long to wait for a killed or stopped worker to be reaped


class PoolError(JobEngineError):
    """The pool refused a request: not started, stopping, or no idle slot."""


@dataclass
class _Job:
    spec: JobSpec
    started: float | None = None  # monotonic, when the worker reported the start
    kill_at: float | None = None  # monotonic; set once the job was asked to stop
    stop_reason: str = ""  # why it was asked to stop
    grace_s: float = 0.0
    is_lending: bool = False

    def deadline(self) -> float | None:
        if self.started is None or self.spec.timeout_s is None:
            return None
        return self.started + self.spec.timeout_s


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    flag: Any  # shared byte: 1 asks the current job to stop
    job: _Job | None = None
    jobs_done: int = 0
    is_retiring: bool = False  # told to exit (or exits by itself); takes no more jobs
    is_open: bool = True  # its pipe has not reached EOF


class Pool:
    """N worker processes, each running one background job at a time.

    Not thread-safe: one thread (the engine's dispatcher) makes every call.
    """

    def __init__(
        self,
        workers: int,
        *,
        grace_s: float = 10.0,
        max_jobs_per_worker: int | None = 1000,
        context: str = "forkserver",
    ) -> None:
        if workers < 1:
            raise PoolError(f"workers must be at least 1, got {workers!r}")
        if context not in CONTEXTS:
            raise PoolError(f"context must be one of {CONTEXTS}, got {context!r}")
        if max_jobs_per_worker is not None and max_jobs_per_worker < 1:
            raise PoolError(f"max_jobs_per_worker must be at least 1, got {max_jobs_per_worker!r}")
        self._size = workers
        self._grace_s = grace_s
        self._max_jobs = max_jobs_per_worker
        self._context_name = context
        self._ctx = multiprocess.get_context(context)
        self._workers: list[_Worker] = []
        self._by_uuid: dict[str, _Worker] = {}
        self._is_running = False
        self._is_stopping = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker processes."""
        if self._is_running or self._is_stopping:
            raise PoolError("the pool was already started")
        if self._context_name == "forkserver":
            # Preloading makes the fork server import the worker once (and hand it sys.path).
            self._ctx.set_forkserver_preload(["jobengine.worker"])
        self._is_running = True
        # Should the owner forget stop(), kill the workers at exit or when the pool is collected.
        util.Finalize(self, _kill_all, args=(self._workers,), exitpriority=10)
        self._fill()

    def stop(self, grace_s: float | None = None) -> list[JobFinished]:
        """Stop taking jobs, cancel the running ones, wait up to `grace_s`, then kill them.

        Returns:
            The outcomes of the jobs that were running (CANCELED when they honoured the cancel
            or were killed).
        """
        if not self._is_running:
            return []
        self._is_stopping = True
        grace = self._grace_s if grace_s is None else grace_s
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.job is not None:
                self._ask_to_stop(worker, "engine stopping", now, grace)
            else:
                self._retire(worker)
        finished: list[JobFinished] = []
        while any(worker.job is not None for worker in self._workers):
            events = self.wait(grace + _JOIN_S)
            finished.extend(event for event in events if isinstance(event, JobFinished))
        for worker in list(self._workers):
            self._retire(worker)
        for worker in list(self._workers):
            self._join(worker)
        self._is_running = False
        return finished

    # -- dispatching ----------------------------------------------------------------------------

    @property
    def idle(self) -> int:
        """How many jobs `submit` takes right now (idle workers plus slots lent by waiting jobs)."""
        if not self._is_running or self._is_stopping:
            return 0
        busy = sum(1 for w in self._workers if w.job is not None and not w.job.is_lending)
        return max(0, self._size - busy)

    def submit(self, spec: JobSpec) -> None:
        """Hand `spec` to an idle worker, starting a temporary one for a lent slot.

        Raises:
            PoolError: no idle slot, the pool is not running, or the job already runs here.
        """
        if self.idle <= 0:
            raise PoolError(f"no idle worker for job {spec.uuid} ({spec.method})")
        if spec.uuid in self._by_uuid:
            raise PoolError(f"job {spec.uuid} ({spec.method}) already runs in this pool")
        worker = next((w for w in self._workers if w.job is None and not w.is_retiring), None)
        if worker is None:
            worker = self._spawn()
        worker.flag.value = 0
        worker.job = _Job(spec)
        self._by_uuid[spec.uuid] = worker
        try:
            worker.conn.send_bytes(encode_job(spec))
        except OSError:
            # The worker died under us; wait() reaps it and reports the job FAILED.
            logger.warning("worker %s gone before job %s (%s)", worker.process.pid, *_ids(spec))

    def cancel(self, uuid: str) -> None:
        """Ask the job to stop; kill its worker if it still runs after the grace period.

        Unknown or finished jobs are ignored: the outcome may already be on its way.
        """
        worker = self._by_uuid.get(uuid)
        if worker is not None and worker.job is not None and worker.job.kill_at is None:
            self._ask_to_stop(worker, "cancel requested", time.monotonic(), self._grace_s)

    @property
    def pids(self) -> list[int]:
        """The pids of the live worker processes, temporary and retiring ones included."""
        return [worker.process.pid for worker in self._workers]

    def running(self) -> dict[str, int]:
        """Map each running job's uuid to its worker's pid."""
        return {uuid: worker.process.pid for uuid, worker in self._by_uuid.items()}

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, timeout_s: float, extra: Sequence[object] = ()) -> list[PoolEvent]:
        """Block until a worker reports, one of `extra` is readable, a timer is due, or timeout.

        Handles worker deaths, kills after a grace period, deadlines and recycling on the way.

        Returns:
            What happened, oldest first; possibly nothing.
        """
        events: list[PoolEvent] = []
        self._fire_timers(time.monotonic(), events)
        conns = {id(w.conn): w for w in self._workers if w.is_open}
        sentinels = {w.process.sentinel: w for w in self._workers}
        handles = [w.conn for w in conns.values()] + list(sentinels)
        timeout = 0.0 if events else self._timeout(timeout_s, time.monotonic())
        ready = connection.wait([*handles, *extra], timeout)
        for handle in ready:
            worker = conns.get(id(handle))
            if worker is not None:
                self._read(worker, events)
        for handle in ready:
            worker = sentinels.get(handle) if isinstance(handle, int) else None
            if worker is not None and worker in self._workers:
                self._reap(worker, events)
        self._fire_timers(time.monotonic(), events)
        return events

    def _timeout(self, timeout_s: float, now: float) -> float:
        timers = [t for w in self._workers if w.job is not None for t in _timers(w.job)]
        if timers:
            timeout_s = min(timeout_s, min(timers) - now)
        return max(0.0, timeout_s)

    def _read(self, worker: _Worker, events: list[PoolEvent]) -> None:
        """Handle the messages waiting on the worker's pipe, a bounded batch at a time."""
        try:
            for _ in range(_BATCH):  # so a job flooding progress cannot starve the others
                self._handle(worker, decode_report(worker.conn.recv_bytes()), events)
                if not worker.conn.poll():
                    return
        except (EOFError, OSError):
            worker.is_open = False  # exiting; its sentinel tells when it is gone

    def _handle(
        self, worker: _Worker, report: PoolEvent | SlotChange, events: list[PoolEvent]
    ) -> None:
        job = worker.job
        if job is None or report.uuid != job.spec.uuid:
            return  # stale: a job already settled by a kill
        if isinstance(report, SlotChange):
            job.is_lending = report.is_lent
            self._trim()
            return
        if isinstance(report, JobStarted):
            job.started = time.monotonic()
        elif isinstance(report, JobFinished):
            report = self._finish(worker, job, report)
        events.append(report)

    def _finish(self, worker: _Worker, job: _Job, report: JobFinished) -> JobFinished:
        if report.state is JobState.CANCELED and job.stop_reason:
            message = f"{job.stop_reason}; the job stopped on request"
            report = JobFinished(report.uuid, report.state, report.at, error=_canceled(message))
        self._release(worker)
        worker.jobs_done += 1
        if self._max_jobs is not None and worker.jobs_done >= self._max_jobs:
            worker.is_retiring = True  # it exits by itself after this job
        self._fill()
        self._trim()
        return report

    # -- timers, kills and deaths ---------------------------------------------------------------

    def _fire_timers(self, now: float, events: list[PoolEvent]) -> None:
        for worker in list(self._workers):
            job = worker.job
            if job is None:
                continue
            deadline = job.deadline()
            if job.kill_at is None and deadline is not None and now >= deadline:
                reason = f"deadline exceeded: timeout {job.spec.timeout_s:g} s"
                self._ask_to_stop(worker, reason, now, self._grace_s)
            if job.kill_at is not None and now >= job.kill_at:
                self._kill(worker, events)

    def _ask_to_stop(self, worker: _Worker, reason: str, now: float, grace_s: float) -> None:
        job = worker.job
        assert job is not None
        worker.flag.value = 1
        if job.kill_at is None or now + grace_s < job.kill_at:
            job.kill_at = now + grace_s
            job.grace_s = grace_s
        job.stop_reason = job.stop_reason or reason
        logger.info("asked job %s (%s) to stop: %s", *_ids(job.spec), reason)

    def _kill(self, worker: _Worker, events: list[PoolEvent]) -> None:
        """Kill the worker's process group, settle its job CANCELED and replace the worker."""
        job = worker.job
        assert job is not None
        _kill_group(worker.process.pid, is_alive=worker.process.exitcode is None)
        worker.process.join(_JOIN_S)
        self._drain(worker, events)  # the job may have finished just before the kill
        if worker.job is job:
            message = f"{job.stop_reason}; worker killed after grace period of {job.grace_s:g} s"
            events.append(
                JobFinished(job.spec.uuid, JobState.CANCELED, time.time(), error=_canceled(message))
            )
            logger.warning("killed job %s (%s): %s", *_ids(job.spec), message)
            self._release(worker)
        self._remove(worker)

    def _reap(self, worker: _Worker, events: list[PoolEvent]) -> None:
        """Handle a worker that exited: its job (if any) failed; start a replacement."""
        self._drain(worker, events)
        worker.process.join(_JOIN_S)
        code = worker.process.exitcode
        job = worker.job
        if job is not None:
            _kill_group(worker.process.pid, is_alive=False)  # what the job started dies too
            message = f"worker process exited with code {_describe_exit(code)}"
            error = ErrorInfo("WorkerDied", message)
            events.append(JobFinished(job.spec.uuid, JobState.FAILED, time.time(), error=error))
            logger.error("job %s (%s) failed: %s", *_ids(job.spec), message)
            self._release(worker)
        elif not worker.is_retiring:
            logger.warning("idle worker %s exited with code %s", worker.process.pid, code)
        self._remove(worker)

    def _drain(self, worker: _Worker, events: list[PoolEvent]) -> None:
        # poll() never blocks: a job's forked grandchild may keep the pipe open.
        try:
            while worker.is_open and worker.conn.poll():
                self._handle(worker, decode_report(worker.conn.recv_bytes()), events)
        except (EOFError, OSError):
            worker.is_open = False

    # -- worker bookkeeping ---------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe()
        flag = self._ctx.RawValue("b", 0)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_conn, flag, self._max_jobs),
            name="jobengine-worker",
        )
        process.start()
        child_conn.close()
        worker = _Worker(process, parent_conn, flag)
        self._workers.append(worker)
        return worker

    def _fill(self) -> None:
        """Start workers until N of them take jobs."""
        if not self._is_running or self._is_stopping:
            return
        missing = self._size - sum(1 for w in self._workers if not w.is_retiring)
        try:
            for _ in range(missing):
                self._spawn()
        except Exception:  # e.g. out of processes or fds; submit() starts one on demand
            logger.exception("could not start a worker process")

    def _trim(self) -> None:
        """Retire idle workers beyond the slots free now (temporary ones started for lent slots)."""
        busy = sum(1 for w in self._workers if w.job is not None and not w.job.is_lending)
        free = [w for w in self._workers if w.job is None and not w.is_retiring]
        for worker in free[max(0, self._size - busy) :]:
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        if worker.is_retiring:
            return
        worker.is_retiring = True
        with contextlib.suppress(OSError):  # already gone: its sentinel reports it
            worker.conn.send_bytes(STOP)

    def _release(self, worker: _Worker) -> None:
        assert worker.job is not None
        self._by_uuid.pop(worker.job.spec.uuid, None)
        worker.job = None

    def _remove(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        worker.conn.close()
        self._fill()

    def _join(self, worker: _Worker) -> None:
        worker.process.join(_JOIN_S)
        if worker.process.exitcode is None:
            logger.warning("worker %s did not exit; killing it", worker.process.pid)
            _kill_group(worker.process.pid)
            worker.process.join(_JOIN_S)
        self._workers.remove(worker)
        worker.conn.close()


def _timers(job: _Job) -> list[float]:
    if job.kill_at is not None:
        return [job.kill_at]
    deadline = job.deadline()
    return [] if deadline is None else [deadline]


def _canceled(message: str) -> ErrorInfo:
    return ErrorInfo("JobCanceled", message)


def _ids(spec: JobSpec) -> tuple[str, str]:
    return spec.uuid, spec.method


def _describe_exit(code: int | None) -> str:
    if code is None or code >= 0:
        return str(code)
    try:
        return f"{code} ({signal.Signals(-code).name})"
    except ValueError:
        return str(code)


def _kill_group(pid: int | None, *, is_alive: bool = True) -> None:
    """SIGKILL the process group `pid` leads.

    A live worker that has not made its group yet is killed alone. For a dead one only the group
    is tried: the group cannot be reused while it has members, but the bare pid can.
    """
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
        return
    except (ProcessLookupError, PermissionError):
        if not is_alive:
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _kill_all(workers: list[_Worker]) -> None:
    """Last resort at exit: idle workers see their pipe close; busy ones are killed."""
    for worker in workers:
        if worker.job is not None:
            _kill_group(worker.process.pid)
        worker.conn.close()
