"""The engine's heartbeat and its lease: beats from a thread of its own, so a busy dispatcher or
a long warm stop never looks dead, and a lease that lapses stops the engine handing out jobs.

Fencing rule: an engine hands a claimed job to a worker only while its lease holds, that is for
`stale_s / 2` after the start of its last heartbeat that found its own row. Other engines settle
an engine only after `stale_s` without a beat, so an engine that was paused (Ctrl-Z, a frozen
VM) finds its lease lapsed before anyone may have requeued its jobs, and checks its row before
it hands out anything again. A beat that finds no row means another engine settled this one: it
drops what it had claimed, and registers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobengine.clock import Clock, to_ms
from jobengine.errors import log_retry
from jobengine.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What an engine registers as."""

    engine_id: str
    host: str
    pid: int
    workers: int = 0
    queues: tuple[str, ...] | None = None  # None: every queue


class Heartbeat:
    """Beats every `every_s` on the clock; `lease_until` is monotonic, read by the dispatcher."""

    def __init__(
        self,
        store: Store,
        me: Identity,
        clock: Clock,
        *,
        every_s: float = 2.0,
        stale_s: float = 15.0,
        on_fenced: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.me = me
        self.clock = clock
        self.every_s = every_s
        self.stale_s = stale_s
        self.on_fenced = on_fenced
        # Told the lease on real monotonic time after each beat that found our row: workers in
        # other processes stop by it even if this whole process is frozen (see the pool).
        self.on_lease: Callable[[float], None] | None = None
        self.lease_until = -1.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        """Register this engine and take the first lease."""
        began, real = self.clock.monotonic(), time.monotonic()
        me = self.me
        self.store.engines.register(
            me.engine_id,
            me.host,
            me.pid,
            to_ms(self.clock.now()),
            workers=me.workers,
            queues=me.queues,
        )
        self._extend(began, real)

    def _extend(self, began: float, real: float) -> None:
        self.lease_until = began + self.stale_s / 2
        if self.on_lease is not None:
            self.on_lease(real + self.stale_s / 2)

    def has_lease(self, now: float) -> bool:
        return now < self.lease_until

    def beat(self) -> bool:
        """Write one heartbeat; on finding the row gone, report the fencing and register again.

        Returns:
            True if the row was there (the lease is extended), False if this engine was fenced.
        """
        with self._lock:  # the thread and a dispatcher whose lease lapsed may both beat
            began, real = self.clock.monotonic(), time.monotonic()
            found = self.store.engines.heartbeat(self.me.engine_id, to_ms(self.clock.now()))
            if found:
                self._extend(began, real)
                return True
            logger.error(
                "engine %s was settled by another engine (silent for over %g s); "
                "dropping its claimed jobs and registering again",
                self.me.engine_id,
                self.stale_s,
            )
            if self.on_fenced is not None:
                self.on_fenced()
            self.register()
            return False

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name="jobengine-heartbeat", daemon=True)
        self._thread.start()

    def serve(self) -> None:
        while not self.clock.wait(self.every_s, self._stop):
            try:
                self.beat()
            except Exception:
                log_retry(logger, "heartbeat failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
