"""The Engine: opens the store and, once started, runs the dispatcher and the process pool."""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid as uuidlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from jobengine.background import BackgroundJobs
from jobengine.checkpoint import Checkpointer
from jobengine.clock import Clock, SystemClock
from jobengine.errors import JobEngineError, StoreError
from jobengine.heartbeat import Heartbeat, Identity
from jobengine.hub import Hub
from jobengine.launch import check_int, check_wait_timeout
from jobengine.limits import DEFAULT_LIMITS, Limits
from jobengine.methods import check_allowed_modules
from jobengine.registry import load as load_registry
from jobengine.scheduled import ScheduledJobs, check_methods
from jobengine.scheduler import Scheduler, SchedulerConfig
from jobengine.store import DEFAULT_URL, Store, pack

if TYPE_CHECKING:  # imported in start(): a client engine never loads the pool
    from jobengine.dispatcher import Dispatcher
    from jobengine.eventlog import EventLog
    from jobengine.resources import Resources
    from jobengine.status import Status

logger = logging.getLogger(__name__)


class Engine:
    """A job engine on one store.

    Constructing it connects to the store (creating or migrating the schema). Until `start()`
    it is a client: it can execute, query, wait and cancel while another process does the
    work. `start()` adds the dispatcher and the worker pool in this process.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        registry: str | None = None,
        workers: int = 4,
        keep_finished: timedelta = timedelta(hours=24),
        max_finished: int = 1000,
        queues: Sequence[str] | None = None,
        clock: Clock | None = None,
        grace: float = 10.0,
        max_jobs_per_worker: int | None = 10_000,
        allowed_modules: Sequence[str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        scheduler_config: SchedulerConfig | None = None,
        max_jobs: int | None = None,
    ) -> None:
        if workers < 1:
            raise JobEngineError(f"workers={workers!r}: an engine needs at least 1 worker")
        if max_jobs is not None:
            check_int("max_jobs", max_jobs, 0, 2**62)
        self.max_jobs = max_jobs
        self.url = url or os.environ.get("JOBENGINE_DB") or DEFAULT_URL
        self.workers = workers
        self.keep_finished = keep_finished
        self.max_finished = max_finished
        self.queues = list(queues) if queues is not None else None
        self.clock: Clock = clock or SystemClock()
        self.grace = grace
        self.max_jobs_per_worker = max_jobs_per_worker
        self.limits = limits
        self.registry_path = registry
        self.registry = load_registry(registry) if registry is not None else None
        allowed = check_allowed_modules(allowed_modules)
        if self.registry is not None and self.registry.allowed_modules is not None:
            allowed = (allowed or []) + list(self.registry.allowed_modules)
        self.allowed_modules = allowed
        if self.registry is not None:
            check_methods(self.registry, self.allowed_modules)
        self.store = Store(self.url)
        self.hub = Hub(lambda: self.store.notifier)
        self.announcer = _Announcer(self)
        self.background = BackgroundJobs(self)
        self.scheduled = ScheduledJobs(self)
        self.scheduler = Scheduler(
            self.store,
            self.clock,
            self.background,
            self.scheduled,
            lambda: self.announcer.new(None),
            self.announcer.cancel,
            scheduler_config or SchedulerConfig(),
        )
        if self.registry is not None:
            try:
                self.scheduled.sync(self.registry)
            except BaseException:
                self.store.close()
                raise
        self.engine_id = str(uuidlib.uuid4())
        self.host = socket.gethostname()
        self._dispatcher: Dispatcher | None = None
        self._heartbeat: Heartbeat | None = None
        self._checkpointer: Checkpointer | None = None
        self._closed = False
        self._spent = False  # the last dispatcher claimed max_jobs jobs
        # Set when the engine stopped itself (its SQLite file was deleted); on_failure is then
        # called with it, from a thread of the engine's, once the engine has stopped.
        self.failure: JobEngineError | None = None
        self.on_failure: Callable[[JobEngineError], None] | None = None

    # The managers an engine's own work never needs, made on first use (their modules are
    # not loaded before `jobengine run` claims its first jobs).
    @functools.cached_property
    def log(self) -> EventLog:
        """The event log (`engine.log.get(...)`)."""
        from jobengine.eventlog import EventLog

        return EventLog(self.store)

    @functools.cached_property
    def resources(self) -> Resources:
        """Resource queues (`engine.resources.queue(name)`)."""
        from jobengine.resources import Resources

        return Resources(self)

    @functools.cached_property
    def status(self) -> Status:
        """The engines on the store and their work (`engine.status.read()`)."""
        from jobengine.status import Status

        return Status(self)

    @property
    def started(self) -> bool:
        return self._dispatcher is not None

    def start(self) -> Engine:
        """Start the worker pool and the dispatcher in this process; returns self."""
        if self._dispatcher is not None:
            return self
        from jobengine.dispatcher import DispatchConfig, Dispatcher
        from jobengine.pool import Pool
        from jobengine.pool.workerproc import QUEUED_WORK_S

        pool = Pool(
            self.workers,
            grace_s=self.grace,
            max_jobs_per_worker=self.max_jobs_per_worker,
            pipeline=16,  # one job running and up to 15 queued per worker behind short jobs
            queued_work_s=QUEUED_WORK_S,
            clock=self.clock,
            allowed_modules=self.allowed_modules,
            limits=self.limits,
        )
        queues = tuple(self.queues) if self.queues is not None else None
        me = Identity(self.engine_id, self.host, os.getpid(), self.workers, queues)
        heartbeat = Heartbeat(self.store, me, self.clock)
        if isinstance(self.clock, SystemClock):
            # Workers fence themselves on real time; a fake clock's engine is never paused.
            heartbeat.on_lease = pool.set_lease
        heartbeat.register()
        pool.start()
        cfg = DispatchConfig(
            engine_id=self.engine_id,
            host=self.host,
            queues=self.queues,
            grace_s=self.grace,
            keep_finished_ms=int(self.keep_finished.total_seconds() * 1000),
            max_finished=self.max_finished,
            allowed_modules=self.allowed_modules,
            prefetch=max(32, 8 * self.workers),
            low_water=self.workers,
            hand_ahead=2 * self.workers,
            limits=self.limits,
            max_jobs=self.max_jobs,
        )
        dispatcher = Dispatcher(self.store, pool, self.hub, self.clock, cfg, heartbeat)
        heartbeat.on_fenced = dispatcher.fenced
        self.hub.on_new = dispatcher.wake
        self.hub.on_cancel = dispatcher.request_cancel
        self.hub.on_scheduled = self.scheduler.wake
        self.hub.on_ended = self.scheduler.ended
        self.hub.ensure_listening()
        dispatcher.settle_dead()
        dispatcher.start()
        heartbeat.start()
        self.scheduler.start()
        self._dispatcher = dispatcher
        self._heartbeat = heartbeat
        self._start_checkpointer()
        logger.info(
            "engine %s started on %s with %d workers", self.engine_id, self.url, self.workers
        )
        return self

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the started engine has nothing to do: nothing claimed or running, and no
        job of its queues is due (or it has claimed `max_jobs` jobs). Jobs not due yet (delayed,
        waiting for a retry) or queued behind a running job's key do not count.

        Returns:
            True once idle; False when `timeout` seconds passed first.
        """
        return self._drain_event("idle", timeout)

    def wait_max_jobs(self, timeout: float | None = None) -> bool:
        """Block until the started engine has claimed `max_jobs` jobs and recorded how each
        ended (it claims no more); False when `timeout` passed first or there is no limit."""
        if self.max_jobs is None:
            return False
        return self._drain_event("spent", timeout)

    @property
    def max_jobs_reached(self) -> bool:
        """Whether the engine has claimed `max_jobs` jobs (stays True once it stops)."""
        return self._spent or (self._dispatcher is not None and self._dispatcher.drain.is_spent)

    def _drain_event(self, name: str, timeout: float | None) -> bool:
        dispatcher = self._dispatcher
        if dispatcher is None:
            raise JobEngineError("the engine is not started: start() it first")
        dispatcher.watch_idle()
        event = dispatcher.drain.idle if name == "idle" else dispatcher.drain.spent
        return event.wait(check_wait_timeout(timeout))

    def stop(self) -> None:
        """Stop taking jobs; running ones get the grace period, then are killed (CANCELED)."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            return
        self.hub.on_new = None
        self.hub.on_cancel = None
        self.hub.on_scheduled = None
        self.hub.on_ended = None
        self.scheduler.stop()
        dispatcher.stop()  # the heartbeat goes on through a warm stop: the engine is alive
        self._spent = dispatcher.drain.is_spent
        self._dispatcher = None
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        self._stop_checkpointer()
        self.store.engines.unregister(self.engine_id)
        logger.info("engine %s stopped", self.engine_id)

    def close(self) -> None:
        """Stop if started, then release the store."""
        if self._closed:
            return
        self.stop()
        self.hub.close()
        self.store.close()
        self._closed = True

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start_checkpointer(self) -> None:
        if self.store.target.kind != "sqlite":
            return
        self._checkpointer = Checkpointer(self.store, self._store_lost)
        self._checkpointer.start()

    def _stop_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    def _store_lost(self, error: JobEngineError) -> None:
        """The store's file is gone: stop (a warm stop) on a thread of its own, since stop()
        joins the checkpointer that calls this, then tell `on_failure`."""
        self.failure = error

        def stop_and_report() -> None:
            try:
                self.stop()
            except StoreError:
                pass  # the engine's row went with the file: nothing to unregister
            except Exception:
                logger.exception("engine %s: stopping after the store was lost", self.engine_id)
            if self.on_failure is not None:
                self.on_failure(error)

        threading.Thread(target=stop_and_report, name="jobengine-lost", daemon=True).start()


class _Announcer:
    """Tells this engine's dispatcher directly, and other processes through the store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def new(self, run_after_ms: int | None) -> None:
        dispatcher = self._engine._dispatcher
        if dispatcher is not None:
            dispatcher.wake(run_after_ms)
        self._engine.store.notifier.publish(["n" if run_after_ms is None else f"n {run_after_ms}"])

    def scheduled(self) -> None:
        """A scheduled job or the lock changed: this engine's scheduler and the others'."""
        self._engine.scheduler.wake()
        self._engine.store.notifier.publish(["s"])

    def cancel(self, uuid: str) -> None:
        dispatcher = self._engine._dispatcher
        if dispatcher is not None:
            dispatcher.request_cancel([uuid])
        self._engine.store.notifier.publish(pack("c", [uuid]))
