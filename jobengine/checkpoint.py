"""WAL upkeep for a started engine on SQLite: checkpoints on a thread of their own, one truncate
of the -wal file once the store goes quiet, and a check that the store's file is still there."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobengine.errors import StoreLostError
from jobengine.store import Store

logger = logging.getLogger(__name__)

CHECKPOINT_S = 0.5  # how often a started engine folds SQLite's WAL into the database
IDLE_S = 5.0  # how long the store is quiet before the -wal file is truncated
# The most pages a checkpoint may find in the WAL while the store counts as quiet. Never zero in
# a started engine: its heartbeat writes a few pages every couple of seconds.
QUIET_FRAMES = 64


@dataclass
class IdleTruncate:
    """When to truncate the -wal file: once per quiet spell, after `idle_s` of it.

    Fed, at monotonic instants, how many pages each PASSIVE checkpoint found in the WAL and the
    size of the -wal file. The count stays put while nothing is written; the first write after
    a complete checkpoint starts the WAL over, so a new count is what was written since. A new
    count above `quiet_frames` ends the spell and starts the clock again.
    """

    idle_s: float = IDLE_S
    quiet_frames: int = QUIET_FRAMES
    _since: float | None = None
    _frames: int = 0
    _done: bool = False

    def is_due(self, now: float, frames: int, wal_bytes: int) -> bool:
        """True when the store was quiet for `idle_s` and the -wal file is not empty."""
        written = frames != self._frames
        self._frames = frames
        if self._since is None or (written and frames > self.quiet_frames):
            self._since, self._done = now, False
            return False
        return not self._done and wal_bytes > 0 and now - self._since >= self.idle_s

    def truncated(self, finished: bool) -> None:
        """Record a truncate; one that readers kept from finishing is tried again."""
        self._done = finished


class Checkpointer:
    """Runs `step` every `every_s` on a thread until `stop()` or until the store is lost.

    Args:
        store: an SQLite store (PostgreSQL needs none of this).
        on_lost: called once, from the checkpointer's thread, when the store's file was
            deleted or replaced; the checkpointer has stopped by then.
        every_s: the pause between steps.
        idle_s: how long the store is idle before the -wal file is truncated.
    """

    def __init__(
        self,
        store: Store,
        on_lost: Callable[[StoreLostError], None],
        *,
        every_s: float = CHECKPOINT_S,
        idle_s: float = IDLE_S,
    ) -> None:
        self.store = store
        self.on_lost = on_lost
        self.every_s = every_s
        self.idle = IdleTruncate(idle_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, now: float) -> bool:
        """One PASSIVE checkpoint at monotonic `now`, and a TRUNCATE when the store is idle.

        Returns:
            False when the store's file was deleted or replaced (after logging it once and
            calling `on_lost`); True otherwise.
        """
        try:
            self.store.check_file()
        except StoreLostError as exc:
            logger.error("%s; stopping the engine", exc)
            self.on_lost(exc)
            return False
        frames = self.store.checkpoint().frames
        if self.idle.is_due(now, frames, self.store.wal_bytes()):
            self.idle.truncated(self.store.checkpoint(truncate=True).finished)
        return True

    def serve(self) -> None:
        """Repeat `step` until stopped; an error in one step is logged and the next goes on."""
        while not self._stop.wait(self.every_s):
            try:
                if not self.step(time.monotonic()):
                    return
            except Exception:
                logger.exception("WAL checkpoint failed")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name="jobengine-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the loop and wait for it (unless called from the loop itself, by `on_lost`)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
