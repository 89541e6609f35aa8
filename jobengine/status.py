"""`engine.status`: what the store says about the whole installation right now — engines,
their workers busy and idle and the queues they serve, queue depth, job counts and the
scheduled-jobs lock (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobengine.clock import to_ms
from jobengine.state import JobState

if TYPE_CHECKING:
    from jobengine.engine import Engine

STALE_S = 15.0  # an engine silent this long is taken for dead (the heartbeat's default)


@dataclass(frozen=True)
class EngineStatus:
    """One registered engine. `busy` counts the jobs its workers run now, of its `workers`
    (0 when its row predates the record: an engine started by an older version); `queues`
    are the queues it serves, None for every queue."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    busy: int
    is_alive: bool
    workers: int = 0
    queues: tuple[str, ...] | None = None

    @property
    def idle(self) -> int:
        """Workers not running a job now (0 when the number of workers is unknown)."""
        return max(0, self.workers - self.busy)


@dataclass(frozen=True)
class StoreStatus:
    """A snapshot of the store, read at `at`."""

    at: datetime
    engines: list[EngineStatus]
    waiting: dict[str, int]  # queue -> ACTIVE jobs not started yet
    counts: dict[JobState, int]
    lock: tuple[str, datetime] | None  # who set the scheduled-jobs lock, and when


class Status:
    """Reads the installation's state through the store verbs; holds nothing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def engines(self) -> list[EngineStatus]:
        """The engines registered on the store (a dead one stays until another settles it);
        two reads."""
        return self._engines(self._engine.clock.now())

    def _engines(self, now: datetime) -> list[EngineStatus]:
        store = self._engine.store
        now_ms = to_ms(now)
        busy = store.jobs.running_by_engine()
        return [
            EngineStatus(
                id=e.id,
                host=e.host,
                pid=e.pid,
                started_at=_at(e.started_ms),
                heartbeat_at=_at(e.heartbeat_ms),
                heartbeat_age_s=max(0.0, (now_ms - e.heartbeat_ms) / 1000),
                busy=busy.get(e.id, 0),
                is_alive=now_ms - e.heartbeat_ms <= STALE_S * 1000,
                workers=e.workers,
                queues=e.queues,
            )
            for e in store.engines.entries()
        ]

    def read(self) -> StoreStatus:
        """The state of the store now (a few grouped reads, none of them a lock)."""
        now = self._engine.clock.now()
        engines = self._engines(now)
        return StoreStatus(
            at=now,
            engines=engines,
            waiting=dict(sorted(self._engine.store.jobs.waiting_by_queue().items())),
            counts=self._engine.background.counts(),
            lock=self._engine.scheduled.lock_info,
        )


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
