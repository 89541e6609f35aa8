"""`engine.status`: the engines working on the store, read for `jobengine status` and the
console's Engines screen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobengine.clock import from_ms

if TYPE_CHECKING:
    from jobengine.store import Store


@dataclass(frozen=True)
class EngineStatus:
    """One engine as its heartbeat row says: where it runs, since when, its last beat, and
    how many background jobs its workers run now."""

    id: str
    host: str
    pid: int
    started: datetime
    heartbeat: datetime
    running: int


class Status:
    """`engine.status`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def engines(self) -> list[EngineStatus]:
        """The engines registered on the store (a dead one stays until another settles it),
        oldest first."""
        out = []
        for r in self._store.engines.listing():
            started, beat = from_ms(r.started_ms), from_ms(r.heartbeat_ms)
            assert started is not None and beat is not None
            out.append(EngineStatus(r.id, r.host, r.pid, started, beat, r.running))
        return out
