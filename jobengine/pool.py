"""The process pool: long-lived worker processes that run background jobs one at a time.

The engine's dispatcher thread submits jobs and calls `wait()`; the pool turns what workers
report, worker deaths, cancels and deadlines into `PoolEvent`s. Only the caller writes the store.

Each worker holds up to `pipeline` jobs: one running and the rest queued in its pipe, so it starts
the next job without waiting for the dispatcher. A queued job never started; when it cannot run
there (the job ahead lends its slot, the worker died, the pool stops) it comes back as
`JobReturned` for the caller to run elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import multiprocess
from multiprocess import util

from jobengine.errors import ErrorInfo, JobEngineError
from jobengine.events import JobFinished, JobReturned, JobSpec, JobStarted, PoolEvent
from jobengine.state import JobState
from jobengine.worker import (
    CANCELED_BEFORE_START,
    STOP,
    SlotChange,
    decode_report,
    encode_job,
    worker_main,
)
from jobengine.workerproc import (
    QUEUE_BEHIND_S,
    InFlightJob,
    WorkerProcess,
    describe_exit,
    kill_all,
    kill_group,
    timers,
)

logger = logging.getLogger(__name__)

CONTEXTS = ("forkserver", "spawn")
_BATCH = 256  # most messages read from one worker per wait()
_JOIN_S = 5.0  # how long to wait for a killed or stopped worker to be reaped


@dataclass
class _Census:
    """The workers by what they can take now."""

    empty: list[WorkerProcess] = field(default_factory=list)  # no job, not retiring
    busy: int = 0  # running a job that holds its slot (not lending it)
    queueable: list[WorkerProcess] = field(default_factory=list)  # busy, with room to queue


class PoolError(JobEngineError):
    """The pool refused a request: not started, stopping, or no idle slot."""


class Pool:
    """N worker processes, each running one background job at a time with more queued.

    Not thread-safe: one thread (the engine's dispatcher) makes every call.
    """

    def __init__(
        self,
        workers: int,
        *,
        grace_s: float = 10.0,
        max_jobs_per_worker: int | None = 10_000,
        context: str = "forkserver",
        pipeline: int = 2,
    ) -> None:
        if workers < 1:
            raise PoolError(f"workers must be at least 1, got {workers!r}")
        if context not in CONTEXTS:
            raise PoolError(f"context must be one of {CONTEXTS}, got {context!r}")
        if max_jobs_per_worker is not None and max_jobs_per_worker < 1:
            raise PoolError(f"max_jobs_per_worker must be at least 1, got {max_jobs_per_worker!r}")
        if pipeline < 1:
            raise PoolError(f"pipeline must be at least 1, got {pipeline!r}")
        self._size = workers
        self._grace_s = grace_s
        self._max_jobs = max_jobs_per_worker
        self._pipeline = pipeline  # jobs a worker holds: one running, the rest queued
        self._context_name = context
        self._ctx = multiprocess.get_context(context)
        self._workers: list[WorkerProcess] = []
        self._by_uuid: dict[str, WorkerProcess] = {}
        self._is_running = False
        self._is_stopping = False
        # One epoll set kept across waits: building a selector per wait() cost more than the
        # rest of a dispatcher turn.
        self._selector = selectors.DefaultSelector()
        self._extras: dict[int, object] = {}
        self.extras_ready: list[object] = []  # which of wait()'s `extra` were readable

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
        util.Finalize(self, kill_all, args=(self._workers,), exitpriority=10)
        self._fill()

    def stop(self, grace_s: float | None = None) -> list[JobFinished | JobReturned]:
        """Stop taking jobs, cancel the running ones, wait up to `grace_s`, then kill them.

        Returns:
            The outcomes of the jobs that were running (`JobFinished`, CANCELED when they
            honoured the cancel or were killed) and a `JobReturned` for each job that was queued
            and never started.
        """
        if not self._is_running:
            return []
        self._is_stopping = True
        grace = self._grace_s if grace_s is None else grace_s
        now = time.monotonic()
        for worker in list(self._workers):
            job = worker.job
            if job is not None:
                self._ask_to_stop(worker, job, "engine stopping", now, grace)
                self._give_back(worker, every=True)  # and the head too, should it not start
            else:
                self._retire(worker)
        settled: list[JobFinished | JobReturned] = []
        while any(worker.jobs for worker in self._workers):
            events = self.wait(grace + _JOIN_S)
            settled.extend(e for e in events if isinstance(e, JobFinished | JobReturned))
        for worker in list(self._workers):
            self._retire(worker)
        for worker in list(self._workers):
            self._join(worker)
        self._is_running = False
        return settled

    # -- dispatching ----------------------------------------------------------------------------

    @property
    def idle(self) -> int:
        """How many jobs `submit` takes right now.

        Workers that may start a job (up to N, temporary ones for slots lent by waiting jobs
        included) take `pipeline` jobs each; a busy worker takes `pipeline` minus what it holds,
        or none while its running job lends its slot or is being stopped.
        """
        if not self._is_running or self._is_stopping:
            return 0
        census = self._census()
        starts = self._size - census.busy  # workers that may start a job now
        queue = sum(self._room(w) for w in census.queueable)
        if starts <= 0:
            return queue
        empty = census.empty
        return queue + sum(self._room(w) for w in empty[:starts]) + max(0, starts - len(empty))

    def _census(self) -> _Census:
        now = time.monotonic()
        census = _Census()
        for w in self._workers:
            job = w.job
            if job is None:
                if not w.is_retiring:
                    census.empty.append(w)
            elif not job.is_lending:
                census.busy += 1
                if w.takes_queue(now) and self._room(w) > 0:
                    census.queueable.append(w)
        return census

    def _room(self, worker: WorkerProcess) -> int:
        """How many more jobs `worker` may hold: never more than it runs before it exits."""
        cap = self._pipeline
        if self._max_jobs is not None:
            cap = min(cap, self._max_jobs - worker.jobs_done)
        return max(0, cap - len(worker.jobs))

    def submit(self, spec: JobSpec) -> None:
        """Hand `spec` to a worker: an idle one first, else a temporary one for a lent slot,
        else the queue of the least loaded busy one.

        Raises:
            PoolError: no idle slot, the pool is not running, or the job already runs here.
        """
        if self.idle <= 0:
            raise PoolError(f"no idle worker for job {spec.uuid} ({spec.method})")
        if spec.uuid in self._by_uuid:
            raise PoolError(f"job {spec.uuid} ({spec.method}) already runs in this pool")
        worker = self._pick()
        worker.sent += 1
        worker.jobs.append(InFlightJob(spec, worker.sent))
        self._by_uuid[spec.uuid] = worker
        try:
            worker.conn.send_bytes(encode_job(spec))
        except OSError:
            # The worker died under us; wait() reaps it and reports the job.
            logger.warning("worker %s gone before job %s (%s)", worker.process.pid, *_ids(spec))

    def _pick(self) -> WorkerProcess:
        census = self._census()
        if census.busy < self._size:
            return census.empty[0] if census.empty else self._spawn()  # takes a lent slot
        return min(census.queueable, key=lambda w: len(w.jobs))

    def cancel(self, uuid: str) -> None:
        """Ask the job to stop; kill its worker if it still runs after the grace period.

        A queued job is dropped unstarted and reported CANCELED. Unknown or finished jobs are
        ignored: the outcome may already be on its way.
        """
        worker = self._by_uuid.get(uuid)
        job = None if worker is None else worker.find(uuid)
        if worker is None or job is None or job.is_cancel_requested or job.kill_at is not None:
            return
        job.is_canceled = True
        if job is worker.job:
            self._ask_to_stop(worker, job, "cancel requested", time.monotonic(), self._grace_s)
        else:  # queued: the worker drops it, or asks it to stop should it have started already
            job.is_cancel_requested = True
            job.stop_reason = "cancel requested"
            worker.shared[job.seq % self._pipeline] = job.seq

    @property
    def pids(self) -> list[int]:
        """The pids of the live worker processes, temporary and retiring ones included."""
        return [worker.process.pid for worker in self._workers]

    def running(self) -> dict[str, int]:
        """Map each job in flight (running or queued) to its worker's pid."""
        return {uuid: worker.process.pid for uuid, worker in self._by_uuid.items()}

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, timeout_s: float, extra: Sequence[object] = ()) -> list[PoolEvent]:
        """Block until a worker reports, one of `extra` is readable, a timer is due, or timeout.

        Handles worker deaths, kills after a grace period, deadlines and recycling on the way.
        The readable members of `extra` are left in `extras_ready`.

        Returns:
            What happened, oldest first; possibly nothing.
        """
        events: list[PoolEvent] = []
        self.extras_ready = []
        self._fire_timers(time.monotonic(), events)
        self._watch_extras(extra)
        timeout = 0.0 if events else self._timeout(timeout_s, time.monotonic())
        ready = self._selector.select(timeout)
        dead: list[WorkerProcess] = []
        for key, _ in ready:
            kind, obj = key.data
            if kind == "conn" and obj in self._workers:
                self._read(obj, events)
            elif kind == "sentinel":
                dead.append(obj)
            elif kind == "extra":
                self.extras_ready.append(obj)
        for worker in dead:
            if worker in self._workers:
                self._reap(worker, events)
        self._fire_timers(time.monotonic(), events)
        return events

    def _watch_extras(self, extra: Sequence[object]) -> None:
        for obj in extra:
            fd = obj if isinstance(obj, int) else obj.fileno()  # type: ignore[attr-defined]
            if fd not in self._extras:
                self._selector.register(fd, selectors.EVENT_READ, ("extra", obj))
                self._extras[fd] = obj

    def _timeout(self, timeout_s: float, now: float) -> float:
        due = [t for w in self._workers if w.jobs for t in timers(w.jobs[0])]
        due += [t for w in self._workers if (t := self._give_back_at(w)) is not None]
        if due:
            timeout_s = min(timeout_s, min(due) - now)
        return max(0.0, timeout_s)

    def _read(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Handle the whole messages waiting on the worker's pipe, a bounded batch at a time.

        The pipe is read without blocking into a buffer and split into messages here (the
        framing of multiprocess's Connection), which saves a poll() per message.
        """
        for data in worker.read_frames(_BATCH):
            self._handle(worker, decode_report(data), events)

    def _handle(
        self, worker: WorkerProcess, report: PoolEvent | SlotChange, events: list[PoolEvent]
    ) -> None:
        job = worker.find(report.uuid)
        if job is None:
            return  # stale: a job already settled by a kill
        if isinstance(report, SlotChange):
            job.is_lending = report.is_lent
            if job.is_lending:
                self._give_back(worker)  # nothing may wait behind a job that waits on others
            self._trim()
            return
        if isinstance(report, JobStarted):
            job.started = time.monotonic()
            if job.is_cancel_requested and job.kill_at is None:  # canceled while queued
                self._ask_to_stop(worker, job, job.stop_reason, job.started, self._grace_s)
        elif isinstance(report, JobFinished):
            report = self._finish(worker, job, report)
        elif isinstance(report, JobReturned):
            self._release(worker, job)
            if job.is_canceled:
                at = time.time()
                report = JobFinished(job.spec.uuid, JobState.CANCELED, at, error=_unstarted())
        events.append(report)

    def _finish(self, worker: WorkerProcess, job: InFlightJob, report: JobFinished) -> JobFinished:
        if report.state is JobState.CANCELED and job.stop_reason and job.started is not None:
            message = f"{job.stop_reason}; the job stopped on request"
            report = JobFinished(report.uuid, report.state, report.at, error=_canceled(message))
        self._release(worker, job)
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
            give_back_at = self._give_back_at(worker)
            if give_back_at is not None and now >= give_back_at:
                self._give_back(worker)
            deadline = job.deadline()
            if job.kill_at is None and deadline is not None and now >= deadline:
                reason = f"deadline exceeded: timeout {job.spec.timeout_s:g} s"
                self._ask_to_stop(worker, job, reason, now, self._grace_s)
            if job.kill_at is not None and now >= job.kill_at:
                self._kill(worker, events)

    def _ask_to_stop(
        self, worker: WorkerProcess, job: InFlightJob, reason: str, now: float, grace_s: float
    ) -> None:
        """Ask the worker's running (or about to start) job to stop; kill it after `grace_s`."""
        worker.shared[job.seq % self._pipeline] = job.seq
        job.is_cancel_requested = True
        if job.kill_at is None or now + grace_s < job.kill_at:
            job.kill_at = now + grace_s
            job.grace_s = grace_s
        job.stop_reason = job.stop_reason or reason
        logger.info("asked job %s (%s) to stop: %s", *_ids(job.spec), reason)
        if job is worker.job:
            self._give_back(worker)

    def _give_back_at(self, worker: WorkerProcess) -> float | None:
        """When the jobs queued behind a long-running job are to come back, if any are queued."""
        head = worker.job
        if head is None or head.started is None or len(worker.jobs) == 1:
            return None
        if worker.shared[self._pipeline] >= worker.sent:
            return None  # asked already
        return head.started + QUEUE_BEHIND_S

    def _give_back(self, worker: WorkerProcess, *, every: bool = False) -> None:
        """Ask the worker for the jobs it has not started; each comes back as `JobReturned`.

        Those queued behind a job that has started, or with `every` the first one too should
        it not have started yet.
        """
        head = worker.job
        if head is None or worker.shared[self._pipeline] >= worker.sent:
            return
        if not every and (head.started is None or len(worker.jobs) == 1):
            return  # the first job may be starting: it must not come back
        worker.shared[self._pipeline] = worker.sent
        with contextlib.suppress(OSError):  # gone: its sentinel reports it
            worker.wakeup.send_bytes(b"")

    def _kill(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Kill the worker's process group, settle its job CANCELED and replace the worker."""
        job = worker.job
        assert job is not None
        kill_group(worker.process.pid, is_alive=worker.process.exitcode is None)
        worker.process.join(_JOIN_S)
        self._drain(worker, events)  # the job may have finished just before the kill
        if worker.job is job:
            message = f"{job.stop_reason}; worker killed after grace period of {job.grace_s:g} s"
            events.append(
                JobFinished(job.spec.uuid, JobState.CANCELED, time.time(), error=_canceled(message))
            )
            logger.warning("killed job %s (%s): %s", *_ids(job.spec), message)
            self._release(worker, job)
        for other in list(worker.jobs):  # a job that started once the target had finished
            if other.started is not None:
                message = f"worker killed to stop job {job.spec.uuid}"
                self._lost(worker, other, ErrorInfo("WorkerDied", message), events)
        self._return_queued(worker, events)
        self._remove(worker)

    def _reap(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Handle a worker that exited: its running job failed, queued ones come back."""
        self._drain(worker, events)
        worker.process.join(_JOIN_S)
        code = worker.process.exitcode
        job = worker.job
        if job is not None:
            kill_group(worker.process.pid, is_alive=False)  # what the job started dies too
            message = f"worker process exited with code {describe_exit(code)}"
            self._lost(worker, job, ErrorInfo("WorkerDied", message), events)
            self._return_queued(worker, events)
        elif not worker.is_retiring:
            logger.warning("idle worker %s exited with code %s", worker.process.pid, code)
        self._remove(worker)

    def _lost(
        self, worker: WorkerProcess, job: InFlightJob, error: ErrorInfo, events: list[PoolEvent]
    ) -> None:
        events.append(JobFinished(job.spec.uuid, JobState.FAILED, time.time(), error=error))
        logger.error("job %s (%s) failed: %s", *_ids(job.spec), error.message)
        self._release(worker, job)

    def _return_queued(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Settle the jobs queued in a dead worker: they never started."""
        for job in list(worker.jobs):
            self._release(worker, job)
            if job.is_canceled:
                at = time.time()
                events.append(JobFinished(job.spec.uuid, JobState.CANCELED, at, error=_unstarted()))
            else:
                events.append(JobReturned(job.spec.uuid))

    def _drain(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        # Never blocks: a job's forked grandchild may keep the pipe open.
        while True:
            frames = worker.read_frames(_BATCH)
            if not frames:
                return
            for data in frames:
                self._handle(worker, decode_report(data), events)

    # -- worker bookkeeping ---------------------------------------------------------------------

    def _spawn(self) -> WorkerProcess:
        parent_conn, child_conn = self._ctx.Pipe()
        wakeup_r, wakeup_w = self._ctx.Pipe(duplex=False)
        shared = self._ctx.RawArray("q", self._pipeline + 1)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_conn, shared, wakeup_r, self._max_jobs),
            name="jobengine-worker",
        )
        process.start()
        child_conn.close()
        wakeup_r.close()
        reader = socket.socket(fileno=os.dup(parent_conn.fileno()))
        worker = WorkerProcess(
            process, parent_conn, shared, wakeup_w, reader=reader, inbuf=bytearray()
        )
        self._workers.append(worker)
        self._selector.register(reader, selectors.EVENT_READ, ("conn", worker))
        self._selector.register(process.sentinel, selectors.EVENT_READ, ("sentinel", worker))
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
        busy = sum(1 for w in self._workers if w.jobs and not w.jobs[0].is_lending)
        free = [w for w in self._workers if w.job is None and not w.is_retiring]
        for worker in free[max(0, self._size - busy) :]:
            self._retire(worker)

    def _retire(self, worker: WorkerProcess) -> None:
        if worker.is_retiring:
            return
        worker.is_retiring = True
        with contextlib.suppress(OSError):  # already gone: its sentinel reports it
            worker.conn.send_bytes(STOP)

    def _release(self, worker: WorkerProcess, job: InFlightJob) -> None:
        worker.jobs.remove(job)
        self._by_uuid.pop(job.spec.uuid, None)

    def _remove(self, worker: WorkerProcess) -> None:
        self._forget(worker)
        self._fill()

    def _forget(self, worker: WorkerProcess) -> None:
        """Drop a finished worker: out of the list, the selector, and its pipe closed."""
        self._workers.remove(worker)
        for obj in (worker.reader, worker.process.sentinel):
            if obj is not None:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(obj)
        if worker.reader is not None:
            worker.reader.close()
        worker.conn.close()
        worker.wakeup.close()

    def _join(self, worker: WorkerProcess) -> None:
        worker.process.join(_JOIN_S)
        if worker.process.exitcode is None:
            logger.warning("worker %s did not exit; killing it", worker.process.pid)
            kill_group(worker.process.pid)
            worker.process.join(_JOIN_S)
        self._forget(worker)


def _canceled(message: str) -> ErrorInfo:
    return ErrorInfo("JobCanceled", message)


def _unstarted() -> ErrorInfo:
    return ErrorInfo("JobCanceled", CANCELED_BEFORE_START)


def _ids(spec: JobSpec) -> tuple[str, str]:
    return spec.uuid, spec.method
