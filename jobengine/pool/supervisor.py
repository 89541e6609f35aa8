"""The process pool: long-lived worker processes that run background jobs one at a time.

The engine's dispatcher thread submits jobs and calls `wait()`; the pool turns what workers
report, worker deaths, cancels and deadlines into `PoolEvent`s. Only the caller writes the store.
Every instant comes from the pool's clock: timers read `clock.monotonic()`, and each event is
stamped with `clock.time()` when the pool reads its report. Workers start through a
`ProcessFactory` (real processes by default).

Each worker holds up to `pipeline` jobs: one running and the rest queued in its pipe, so it starts
the next job without waiting for the dispatcher. A queued job never started; when it cannot run
there (the job ahead lends its slot, the worker died, the pool stops) it comes back as
`JobReturned` for the caller to run elsewhere.
"""

from __future__ import annotations

import logging
import os
import selectors
from collections.abc import Sequence
from dataclasses import dataclass, field

from multiprocess import util

from jobengine.clock import Clock, SystemClock
from jobengine.errors import JobEngineError
from jobengine.events import JobFinished, JobReturned, JobSpec, JobStarted, PoolEvent
from jobengine.limits import DEFAULT_LIMITS, Limits
from jobengine.pool.backoff import StartGuard
from jobengine.pool.process import CONTEXTS, MultiprocessFactory, ProcessFactory, WorkerOptions
from jobengine.pool.protocol import Report, SlotChange, encode_job
from jobengine.pool.settle import Settler, canceled, ids, unstarted
from jobengine.pool.workerproc import QUEUE_BEHIND_S, InFlightJob, WorkerProcess, kill_all
from jobengine.pool.workers import JOIN_S
from jobengine.state import JobState

logger = logging.getLogger(__name__)


@dataclass
class _Census:
    """The workers by what they can take now."""

    now: float  # monotonic, when it was taken
    empty: list[WorkerProcess] = field(default_factory=list)  # no job, not retiring
    busy: int = 0  # running a job that holds its slot (not lending it)
    queueable: list[WorkerProcess] = field(default_factory=list)  # busy, with room to queue


class PoolError(JobEngineError):
    """The pool refused a request: not started, stopping, or no idle slot."""


class Pool(Settler):
    """N worker processes, each running one background job at a time with more queued.

    Not thread-safe: one thread (the engine's dispatcher) makes every call.

    Args:
        workers: how many jobs run at once (temporary workers take slots that waiting jobs lend).
        grace_s: how long a job asked to stop (cancel, deadline, stop) has before it is killed.
        max_jobs_per_worker: a worker exits after this many jobs and is replaced; None: never.
        context: "forkserver" or "spawn", for the default factory.
        pipeline: jobs a worker holds: one running, the rest queued in its pipe.
        clock: every timer and every reported instant; the system clock by default.
        allowed_modules: the modules whose functions workers run (checked again by workers).
        limits: what a job may report; workers cut texts and refuse oversize results.
        preload: modules each worker imports before it takes jobs.
        queue_behind_s: a job queues only behind one that started less than this ago.
        queued_work_s: with it, a worker holds the whole pipeline only behind short jobs, and
            behind slower ones about this much work (see QUEUED_WORK_S); None: always all.
        factory: starts worker processes; real ones from `context` by default.
        start_guard: the crash-loop back-off for workers that die before they take a job.
    """

    def __init__(
        self,
        workers: int,
        *,
        grace_s: float = 10.0,
        max_jobs_per_worker: int | None = 10_000,
        context: str = "forkserver",
        pipeline: int = 2,
        clock: Clock | None = None,
        allowed_modules: Sequence[str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        preload: Sequence[str] = (),
        queue_behind_s: float = QUEUE_BEHIND_S,
        queued_work_s: float | None = None,
        factory: ProcessFactory | None = None,
        start_guard: StartGuard | None = None,
    ) -> None:
        if workers < 1:
            raise PoolError(f"workers must be at least 1, got {workers!r}")
        if context not in CONTEXTS:
            raise PoolError(f"context must be one of {CONTEXTS}, got {context!r}")
        if max_jobs_per_worker is not None and max_jobs_per_worker < 1:
            raise PoolError(f"max_jobs_per_worker must be at least 1, got {max_jobs_per_worker!r}")
        if pipeline < 1:
            raise PoolError(f"pipeline must be at least 1, got {pipeline!r}")
        options = WorkerOptions(
            pipeline=pipeline,
            max_jobs=max_jobs_per_worker,
            allowed_modules=None if allowed_modules is None else tuple(allowed_modules),
            limits=limits,
            preload=tuple(preload),
            engine_pid=os.getpid(),
        )
        super().__init__(
            workers,
            grace_s=grace_s,
            clock=clock or SystemClock(),
            factory=factory or MultiprocessFactory(context),
            options=options,
            guard=start_guard or StartGuard(),
            queue_behind_s=queue_behind_s,
        )
        self._queued_work_s = queued_work_s
        self._extras: dict[int, object] = {}
        self.extras_ready: list[object] = []  # which of wait()'s `extra` were readable

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker processes."""
        if self._is_running or self._is_stopping:
            raise PoolError("the pool was already started")
        self._factory.prepare()
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
        now = self._clock.monotonic()
        for worker in list(self._workers):
            job = worker.job
            if job is not None:
                self._ask_to_stop(worker, job, "engine stopping", now, grace)
                self._give_back(worker, every=True)  # and the head too, should it not start
            else:
                self._retire(worker)
        settled: list[JobFinished | JobReturned] = []
        while any(worker.jobs for worker in self._workers):
            events = self.wait(grace + JOIN_S)
            settled.extend(e for e in events if isinstance(e, JobFinished | JobReturned))
        for worker in list(self._workers):
            self._retire(worker)
        for worker in list(self._workers):
            self._join(worker)
        self._is_running = False
        self._selector.close()  # its epoll fd; a stopped pool never starts again
        return settled

    # -- dispatching ----------------------------------------------------------------------------

    @property
    def idle(self) -> int:
        """How many jobs `submit` takes right now.

        Workers that may start a job (up to N, temporary ones for slots lent by waiting jobs
        included) take `pipeline` jobs each; a busy worker takes `pipeline` minus what it holds,
        or none while its running job lends its slot or is being stopped. Workers not started
        yet count only while the crash-loop guard lets one start.
        """
        if not self._is_running or self._is_stopping:
            return 0
        census = self._census()
        now = census.now
        starts = self._size - census.busy  # workers that may start a job now
        queue = sum(self._room(w, now) for w in census.queueable)
        if starts <= 0:
            return queue
        empty = census.empty
        new = max(0, starts - len(empty))
        if new and not self._may_spawn():
            new = 0
        return queue + sum(self._room(w, now) for w in empty[:starts]) + new

    @property
    def starved(self) -> int:
        """How many workers have no job at all (running or queued) and could start one now."""
        if not self._is_running or self._is_stopping:
            return 0
        return len(self._census().empty)

    def _census(self) -> _Census:
        now = self._clock.monotonic()
        census = _Census(now)
        for w in self._workers:
            job = w.job
            if job is None:
                if not w.is_retiring:
                    census.empty.append(w)
            elif not job.is_lending:
                census.busy += 1
                if w.takes_queue(now, self._queue_behind_s) and self._room(w, now) > 0:
                    census.queueable.append(w)
        return census

    def _room(self, worker: WorkerProcess, now: float) -> int:
        """How many more jobs `worker` may hold: never more than it runs before it exits, and
        with `queued_work_s`, fewer behind slower jobs (see `_depth`)."""
        cap = self._pipeline
        if self._max_jobs is not None:
            cap = min(cap, self._max_jobs - worker.jobs_done)
        if self._queued_work_s is not None:
            cap = min(cap, self._depth(worker, now, self._queued_work_s))
        return max(0, cap - len(worker.jobs))

    @staticmethod
    def _depth(worker: WorkerProcess, now: float, queued_work_s: float) -> int:
        """The jobs a worker holds when what waits in it comes to about `queued_work_s`: a job
        is taken to run as long as the worker's last one, or as the running one so far."""
        run_s = worker.last_run_s
        if run_s is None:
            return 2  # nothing known of its jobs yet: one queued
        head = worker.job
        if head is not None and head.started is not None:
            run_s = max(run_s, now - head.started)
        return 1 + int(queued_work_s / run_s) if run_s > 0 else 1 << 30

    def submit(self, spec: JobSpec) -> None:
        """Hand `spec` to a worker: an idle one first, else a temporary one for a lent slot,
        else the queue of the least loaded busy one.

        Raises:
            PoolError: no idle slot, the pool is not running, or the job already runs here.
        """
        if not self._is_running or self._is_stopping:
            raise PoolError(f"the pool is not running: job {spec.uuid} ({spec.method})")
        if spec.uuid in self._by_uuid:
            raise PoolError(f"job {spec.uuid} ({spec.method}) already runs in this pool")
        worker = self._pick()
        if worker is None:
            raise PoolError(f"no idle worker for job {spec.uuid} ({spec.method})")
        worker.sent += 1
        worker.jobs.append(InFlightJob(spec, worker.sent))
        self._by_uuid[spec.uuid] = worker
        try:
            worker.link.conn.send_bytes(encode_job(spec))
        except OSError:
            # The worker died under us; wait() reaps it and reports the job.
            logger.warning("worker %s gone before job %s (%s)", worker.pid, *ids(spec))

    def _pick(self) -> WorkerProcess | None:
        """The worker to take the next job (one census, as `idle` counts), or None."""
        census = self._census()
        if census.busy < self._size:
            if census.empty:
                return census.empty[0]
            if self._may_spawn():
                return self._spawn_now()  # a temporary worker takes a lent slot
        if not census.queueable:
            return None
        return min(census.queueable, key=lambda w: len(w.jobs))

    def _spawn_now(self) -> WorkerProcess:
        try:
            return self._spawn()
        except Exception as exc:
            delay = self._guard.failed(self._clock.monotonic())
            message = f"could not start a worker process (next try in {delay:.1f} s)"
            raise PoolError(message) from exc

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
            now = self._clock.monotonic()
            self._ask_to_stop(worker, job, "cancel requested", now, self._grace_s)
        else:  # queued: the worker drops it, or asks it to stop should it have started already
            job.is_cancel_requested = True
            job.stop_reason = "cancel requested"
            worker.shared[job.seq % self._pipeline] = job.seq

    @property
    def pids(self) -> list[int]:
        """The pids of the live worker processes, temporary and retiring ones included."""
        return [pid for worker in self._workers if (pid := worker.pid) is not None]

    def running(self) -> dict[str, int]:
        """Map each job in flight (running or queued) to its worker's pid."""
        return {uuid: worker.pid or 0 for uuid, worker in self._by_uuid.items()}

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, timeout_s: float, extra: Sequence[object] = ()) -> list[PoolEvent]:
        """Block until a worker reports, one of `extra` is readable, a timer is due, or timeout.

        Handles worker deaths, kills after a grace period, deadlines, recycling and the
        crash-loop back-off on the way. The readable members of `extra` are left in
        `extras_ready`.

        Returns:
            What happened, oldest first; possibly nothing.
        """
        events: list[PoolEvent] = []
        self.extras_ready = []
        self._fire_timers(self._clock.monotonic(), events)
        self._watch_extras(extra)
        timeout = 0.0 if events else self._timeout(timeout_s, self._clock.monotonic())
        ready = self._selector.select(timeout)
        dead: list[WorkerProcess] = []
        for key, _ in ready:
            kind, obj = key.data
            if kind == "extra":
                self.extras_ready.append(obj)
            elif obj not in self._workers:
                continue
            elif kind == "conn":
                self._read(obj, events)
            elif kind == "stderr" and not obj.read_stderr():
                self._unwatch(obj.link.stderr)
                obj.close_stderr()
            elif kind == "sentinel":
                dead.append(obj)
        for worker in dead:
            if worker in self._workers:
                self._reap(worker, events)
        self._fire_timers(self._clock.monotonic(), events)
        return events

    def _watch_extras(self, extra: Sequence[object]) -> None:
        for obj in extra:
            fd = obj if isinstance(obj, int) else obj.fileno()  # type: ignore[attr-defined]
            if fd not in self._extras:
                self._selector.register(fd, selectors.EVENT_READ, ("extra", obj))
                self._extras[fd] = obj

    def _timeout(self, timeout_s: float, now: float) -> float:
        due = [t for w in self._workers if w.jobs for t in w.jobs[0].timers()]
        due += [t for w in self._workers if (t := self._give_back_at(w)) is not None]
        if self._missing() > 0 and self._guard.not_before > now:
            due.append(self._guard.not_before)  # the crash-loop back-off ends
        if due:
            timeout_s = min(timeout_s, min(due) - now)
        return max(0.0, timeout_s)

    def _read(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Handle every whole message read from the worker's pipe (see `FrameReader`)."""
        frames = worker.reader.read()
        if frames:
            self._handle_frames(worker, frames, events)
        if not worker.reader.is_open:  # the end of the pipe stays readable: its sentinel tells
            self._unwatch(worker.link.reports)

    def _handle(self, worker: WorkerProcess, report: Report, events: list[PoolEvent]) -> None:
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
            job.started = self._clock.monotonic()
            if not worker.took_job:
                self._took_job(worker)
            if job.is_cancel_requested and job.kill_at is None:  # canceled while queued
                self._ask_to_stop(worker, job, job.stop_reason, job.started, self._grace_s)
        elif isinstance(report, JobFinished):
            report = self._finish(worker, job, report)
        elif isinstance(report, JobReturned):
            self._release(worker, job)
            if job.is_canceled:
                at = self._clock.time()
                report = JobFinished(job.spec.uuid, JobState.CANCELED, at, error=unstarted())
        events.append(report)

    def _took_job(self, worker: WorkerProcess) -> None:
        worker.took_job = True
        failed = self._guard.succeeded()
        if failed:
            logger.info("worker processes start again after %d failed starts", failed)
            self._fill()

    def _finish(self, worker: WorkerProcess, job: InFlightJob, report: JobFinished) -> JobFinished:
        if report.state is JobState.CANCELED and job.stop_reason and job.started is not None:
            message = f"{job.stop_reason}; the job stopped on request"
            report = JobFinished(report.uuid, report.state, report.at, error=canceled(message))
        if job.started is not None:
            worker.last_run_s = self._clock.monotonic() - job.started
        self._release(worker, job)
        worker.jobs_done += 1
        if self._max_jobs is not None and worker.jobs_done >= self._max_jobs:
            worker.is_retiring = True  # it exits by itself after this job
        self._fill()
        self._trim()
        return report
