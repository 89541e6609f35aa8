"""In-process wake-ups: waiters sleep on events set when their jobs end, here or elsewhere.

Every wake-up is a hint to look again: waiters and the dispatcher re-read the store before they
believe a job ended or was asked to stop. A malformed notification is dropped, never fatal.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
from collections.abc import Callable, Iterable

from jobengine.store.notify import QUEUE_NAME, Notifier

logger = logging.getLogger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_MS = 1 << 53  # past any real instant; a larger "n <ms>" is malformed


def parse(message: str) -> tuple[str, list[str]] | None:
    """Split a notification into its kind and arguments; None when it is malformed."""
    kind, _, rest = message.partition(" ")
    args = rest.split()
    if kind in ("d", "c"):
        return (kind, args) if args and all(_UUID.match(u) for u in args) else None
    if kind == "s":
        return (kind, []) if not args else None
    if kind == "r":
        return (kind, args) if len(args) == 1 and QUEUE_NAME.match(args[0]) else None
    if kind == "n":
        if not args:
            return kind, []
        if len(args) == 1 and args[0].isdigit() and int(args[0]) < _MAX_MS:
            return kind, args
    return None


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
    """Routes 'job ended', 'new work', 'cancel' and 'resources changed' signals to the threads
    that care.

    The dispatcher calls `ended()` directly for jobs this process ran; a listener thread turns
    the store's notifications from other processes into the same calls.
    """

    def __init__(self, notifier_factory: Callable[[], Notifier]) -> None:
        self._notifier_factory = notifier_factory
        self._lock = threading.Lock()
        self._interest: dict[str, set[Waiter]] = {}
        self.on_new: Callable[[int | None], None] | None = None  # arg: when, if delayed
        self.on_cancel: Callable[[list[str]], None] | None = None
        self.on_scheduled: Callable[[], None] | None = None  # a scheduled job or the lock changed
        self.on_ended: Callable[[list[str]], None] | None = None
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
        uuids = list(uuids)
        if self.on_ended is not None:
            self.on_ended(uuids)
        self.poke(uuids)

    def poke(self, names: Iterable[str]) -> None:
        """Wake the waiters watching any of `names` (job uuids, or ``"r <queue>"``)."""
        hits: dict[Waiter, list[str]] = {}
        with self._lock:
            for u in names:
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
                self._drain(notifier)
                continue
            if self._stop_r in ready:
                return
            if ready:
                self.dispatch(self._drain(notifier))

    @staticmethod
    def _drain(notifier: Notifier) -> list[str]:
        try:
            return notifier.drain()
        except Exception:  # the listener thread must outlive any input
            logger.exception("reading notifications failed")
            return []

    def dispatch(self, messages: list[str]) -> None:
        """Route notifications from other processes; malformed ones are dropped."""
        for msg in messages:
            parsed = parse(msg) if isinstance(msg, str) else None
            if parsed is None:
                logger.debug("ignored malformed notification %r", str(msg)[:100])
                continue
            kind, args = parsed
            try:
                if kind == "d":
                    self.ended(args)
                elif kind == "n" and self.on_new is not None:
                    self.on_new(int(args[0]) if args else None)
                elif kind == "c" and self.on_cancel is not None:
                    self.on_cancel(args)
                elif kind == "s" and self.on_scheduled is not None:
                    self.on_scheduled()
                elif kind == "r":
                    self.poke([f"r {args[0]}"])
            except Exception:
                logger.exception("handling notification %r failed", msg[:100])

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            os.close(self._stop_r)
            os.close(self._stop_w)
            self._thread = None
