"""The pool's set of worker processes: starting them (under the crash-loop guard), retiring
them, and forgetting them once they are gone."""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket

from jobengine.clock import Clock
from jobengine.pool.backoff import StartGuard
from jobengine.pool.process import ProcessFactory, WorkerOptions
from jobengine.pool.protocol import LEASE_SLOT, STOP, FrameReader
from jobengine.pool.workerproc import InFlightJob, WorkerProcess

logger = logging.getLogger(__name__)

JOIN_S = 5.0  # how long to wait for a killed or stopped worker to be reaped


class WorkerSet:
    """The workers of one pool and the selector that watches their pipes and sentinels."""

    def __init__(
        self,
        size: int,
        *,
        grace_s: float,
        clock: Clock,
        factory: ProcessFactory,
        options: WorkerOptions,
        guard: StartGuard,
        queue_behind_s: float,
    ) -> None:
        self._size = size
        self._grace_s = grace_s
        self._max_jobs = options.max_jobs
        self._pipeline = options.pipeline  # jobs a worker holds: one running, the rest queued
        self._queue_behind_s = queue_behind_s
        self._clock = clock
        self._factory = factory
        self._options = options
        self._guard = guard
        self._workers: list[WorkerProcess] = []
        self._by_uuid: dict[str, WorkerProcess] = {}
        self._is_running = False
        self._is_stopping = False
        # One epoll set kept across waits: building a selector per wait() cost more than the
        # rest of a dispatcher turn.
        self._selector = selectors.DefaultSelector()
        self._lease_us = 0  # the engine's lease (see protocol); 0: none

    def set_lease(self, until_s: float | None) -> None:
        """Let workers start and run jobs until `until_s` on `time.monotonic()`, or always
        (None). Safe from any thread: the engine's heartbeat thread calls it.

        The real monotonic clock, not the engine's Clock: it guards against the engine process
        itself being paused, which only real time sees, and workers read it in other processes.
        """
        self._lease_us = 0 if until_s is None else max(1, int(until_s * 1_000_000))
        for worker in list(self._workers):
            worker.link.shared[self._pipeline + LEASE_SLOT] = self._lease_us

    def _missing(self) -> int:
        """How many workers to start to have N that take jobs."""
        if not self._is_running or self._is_stopping:
            return 0
        return self._size - sum(1 for w in self._workers if not w.is_retiring)

    def _may_spawn(self) -> bool:
        starting = sum(1 for w in self._workers if not w.took_job and not w.is_retiring)
        return self._guard.may_start(self._clock.monotonic(), starting)

    def _spawn(self) -> WorkerProcess:
        link = self._factory.start(self._options)
        link.shared[self._pipeline + LEASE_SLOT] = self._lease_us
        worker = WorkerProcess(link, FrameReader(link.reports))
        self._workers.append(worker)
        self._selector.register(link.reports, selectors.EVENT_READ, ("conn", worker))
        self._selector.register(link.handle.sentinel, selectors.EVENT_READ, ("sentinel", worker))
        if link.stderr is not None:
            self._selector.register(link.stderr, selectors.EVENT_READ, ("stderr", worker))
        return worker

    def _fill(self) -> None:
        """Start workers until N of them take jobs, as fast as the crash-loop guard allows."""
        try:
            for _ in range(self._missing()):
                if not self._may_spawn():
                    return
                self._spawn()
        except Exception:  # e.g. out of processes or fds; retried after a back-off
            delay = self._guard.failed(self._clock.monotonic())
            # One error per streak of failures, not one per attempt.
            log = logger.exception if self._guard.failures == 1 else logger.debug
            log("could not start a worker process; trying again in %.1f s", delay, exc_info=True)

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
            worker.link.conn.send_bytes(STOP)

    def _release(self, worker: WorkerProcess, job: InFlightJob) -> None:
        worker.jobs.remove(job)
        self._by_uuid.pop(job.spec.uuid, None)

    def _remove(self, worker: WorkerProcess) -> None:
        self._forget(worker)
        self._fill()

    def _forget(self, worker: WorkerProcess) -> None:
        """Drop a finished worker: out of the list, the selector, and its pipes closed."""
        self._workers.remove(worker)
        for obj in (worker.link.reports, worker.link.handle.sentinel, worker.link.stderr):
            self._unwatch(obj)
        worker.close()

    def _unwatch(self, obj: int | socket.socket | None) -> None:
        if obj is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(obj)

    def _join(self, worker: WorkerProcess) -> None:
        handle = worker.link.handle
        handle.join(JOIN_S)
        if handle.exitcode is None:
            logger.warning("worker %s did not exit; killing it", worker.pid)
            handle.kill_group()
            handle.join(JOIN_S)
        self._forget(worker)
