"""What the pool does on its timers and when workers end: stop requests, kills after the grace
period, deadlines, give-backs of queued jobs, and the jobs of workers that died."""

from __future__ import annotations

import contextlib
import logging

from jobengine.errors import ErrorInfo
from jobengine.events import JobFinished, JobReturned, JobSpec, PoolEvent
from jobengine.pool.protocol import CANCELED_BEFORE_START, Report, decode_report
from jobengine.pool.workerproc import InFlightJob, WorkerProcess, describe_exit
from jobengine.pool.workers import JOIN_S, WorkerSet
from jobengine.state import JobState

logger = logging.getLogger(__name__)

_ALL = 1 << 62  # read budget of a worker that is gone: what it wrote is all there is


class Settler(WorkerSet):
    """Timers, kills and deaths; the pool above it handles each report (`_handle`)."""

    def _handle(self, worker: WorkerProcess, report: Report, events: list[PoolEvent]) -> None:
        raise NotImplementedError

    def _handle_frames(
        self, worker: WorkerProcess, frames: list[bytearray], events: list[PoolEvent]
    ) -> None:
        at = self._clock.time()  # the instant of every report read now
        for data in frames:
            self._handle(worker, decode_report(data, at), events)

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
        if self._missing() > 0:
            self._fill()  # after a back-off

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
        logger.info("asked job %s (%s) to stop: %s", *ids(job.spec), reason)
        if job is worker.job:
            self._give_back(worker)

    def _give_back_at(self, worker: WorkerProcess) -> float | None:
        """When the jobs queued behind a long-running job are to come back, if any are queued."""
        head = worker.job
        if head is None or head.started is None or len(worker.jobs) == 1:
            return None
        if worker.shared[self._pipeline] >= worker.sent:
            return None  # asked already
        return head.started + self._queue_behind_s

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
            worker.link.wakeup.send_bytes(b"")

    def _kill(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Kill the worker's process group, settle its job CANCELED and replace the worker."""
        job = worker.job
        assert job is not None
        handle = worker.link.handle
        handle.kill_group(is_alive=handle.exitcode is None)
        handle.join(JOIN_S)
        self._drain(worker, events)  # the job may have finished just before the kill
        if worker.job is job:
            message = f"{job.stop_reason}; worker killed after grace period of {job.grace_s:g} s"
            at = self._clock.time()
            events.append(
                JobFinished(job.spec.uuid, JobState.CANCELED, at, error=canceled(message))
            )
            logger.warning("killed job %s (%s): %s", *ids(job.spec), message)
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
        handle = worker.link.handle
        handle.join(JOIN_S)
        code = handle.exitcode
        if not worker.took_job and not worker.is_retiring:
            self._died_at_start(worker, code, events)
        elif (job := worker.job) is not None:
            handle.kill_group(is_alive=False)  # what the job started dies too
            message = f"worker process exited with code {describe_exit(code)}"
            self._lost(worker, job, ErrorInfo("WorkerDied", message), events)
            self._return_queued(worker, events)
        elif not worker.is_retiring:
            logger.warning("idle worker %s exited with code %s", worker.pid, describe_exit(code))
        self._remove(worker)

    def _died_at_start(
        self, worker: WorkerProcess, code: int | None, events: list[PoolEvent]
    ) -> None:
        """A new worker died before it took a job: back off, and fail the jobs it was handed
        (they would only kill the next one the same way)."""
        worker.read_stderr()
        line = worker.last_stderr_line()
        reason = f"worker process exited with code {describe_exit(code)} before it took a job"
        if line:
            reason += f": {line}"
        delay = self._guard.failed(self._clock.monotonic())
        if self._guard.failures == 1:  # one error per streak, not one per attempt
            logger.error(
                "%s; starting the next worker in %.1f s, slower while they fail", reason, delay
            )
        for job in list(worker.jobs):
            self._lost(worker, job, ErrorInfo("WorkerDied", reason), events)

    def _lost(
        self, worker: WorkerProcess, job: InFlightJob, error: ErrorInfo, events: list[PoolEvent]
    ) -> None:
        at = self._clock.time()
        events.append(JobFinished(job.spec.uuid, JobState.FAILED, at, error=error))
        logger.error("job %s (%s) failed: %s", *ids(job.spec), error.message)
        self._release(worker, job)

    def _return_queued(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        """Settle the jobs queued in a dead worker: they never started."""
        for job in list(worker.jobs):
            self._release(worker, job)
            if job.is_canceled:
                at = self._clock.time()
                events.append(JobFinished(job.spec.uuid, JobState.CANCELED, at, error=unstarted()))
            else:
                events.append(JobReturned(job.spec.uuid))

    def _drain(self, worker: WorkerProcess, events: list[PoolEvent]) -> None:
        # Never blocks: a job's forked grandchild may keep the pipe open.
        while frames := worker.reader.read(budget=_ALL):
            self._handle_frames(worker, frames, events)


def canceled(message: str) -> ErrorInfo:
    return ErrorInfo("JobCanceled", message)


def unstarted() -> ErrorInfo:
    return ErrorInfo("JobCanceled", CANCELED_BEFORE_START)


def ids(spec: JobSpec) -> tuple[str, str]:
    return spec.uuid, spec.method
