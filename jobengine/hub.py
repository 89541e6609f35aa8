"""In-process wake-ups: waiters sleep on events set when their jobs end, here or elsewhere."""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable, Iterable

from jobengine.store.notify import Notifier

logger = logging.getLogger(__name__)


class Waiter:
    """One waiting thread: its event, and the jobs announced as ended since it last looked."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ended: set[str] = set()
        self._lock = threading.Lock()

    def take(self) -> set[str]:
        with self._lock:
            out, self.ended = self.ended, set()
            self.event.clear()
        return out

    def mark(self, uuids: Iterable[str]) -> None:
        with self._lock:
            self.ended.update(uuids)
        self.event.set()


class Hub:
    """Routes 'job ended', 'new work' and 'cancel' signals to the threads that care.

    The dispatcher calls `ended()` directly for jobs this process ran; a listener thread turns
    the store's notifications from other processes into the same calls.
    """

    def __init__(self, notifier_factory: Callable[[], Notifier]) -> None:
        self._notifier_factory = notifier_factory
        self._lock = threading.Lock()
        self._interest: dict[str, set[Waiter]] = {}
        self.on_new: Callable[[int | None], None] | None = None  # arg: when, if delayed
        self.on_cancel: Callable[[list[str]], None] | None = None
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1

    def watch(self, uuids: Iterable[str], waiter: Waiter) -> None:
        self.ensure_listening()
        with self._lock:
            for u in uuids:
                self._interest.setdefault(u, set()).add(waiter)

    def unwatch(self, uuids: Iterable[str], waiter: Waiter) -> None:
        with self._lock:
            for u in uuids:
                waiters = self._interest.get(u)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._interest[u]

    def ended(self, uuids: Iterable[str]) -> None:
        hits: dict[Waiter, list[str]] = {}
        with self._lock:
            for u in uuids:
                for w in self._interest.get(u, ()):
                    hits.setdefault(w, []).append(u)
        for w, done in hits.items():
            w.mark(done)

    def ensure_listening(self) -> None:
        """Start the listener thread once; cheap to call again."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            notifier = self._notifier_factory()
            self._stop_r, self._stop_w = os.pipe()
            self._thread = threading.Thread(
                target=self._listen, args=(notifier,), name="jobengine-listener", daemon=True
            )
            self._thread.start()

    def _listen(self, notifier: Notifier) -> None:
        while True:
            try:
                ready, _, _ = select.select([notifier.fileno(), self._stop_r], [], [], 5.0)
            except Exception:
                # The notifier lost its connection: back off, then drain() opens it again.
                ready, _, _ = select.select([self._stop_r], [], [], 1.0)
                if ready:
                    return
                notifier.drain()
                continue
            if self._stop_r in ready:
                return
            if ready:
                self._dispatch(notifier.drain())

    def _dispatch(self, messages: list[str]) -> None:
        for msg in messages:
            kind, *uuids = msg.split()
            try:
                if kind == "d":
                    self.ended(uuids)
                elif kind == "n" and self.on_new is not None:
                    self.on_new(int(uuids[0]) if uuids else None)
                elif kind == "c" and self.on_cancel is not None:
                    self.on_cancel(uuids)
            except Exception:
                logger.exception("handling notification %r failed", msg)

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            os.close(self._stop_r)
            os.close(self._stop_w)
            self._thread = None
