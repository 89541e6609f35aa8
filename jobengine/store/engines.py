"""Store verbs for engines: register, heartbeat, and settle the jobs of dead ones."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from typing import NamedTuple

import peewee

from jobengine.store.db import immediate, translate_errors
from jobengine.store.jobs import JobStore
from jobengine.store.models import EngineRow as E

ENGINE_DIED = ("EngineDied", "engine stopped while the job ran")


class EngineEntry(NamedTuple):
    """One registered engine as its row has it."""

    id: str
    host: str
    pid: int
    started_ms: int
    heartbeat_ms: int
    workers: int = 0  # 0: not recorded (an engine registered before migration 0007)
    queues: tuple[str, ...] | None = None  # None: every queue


def _queues(text: str | None) -> tuple[str, ...] | None:
    return tuple(str(q) for q in json.loads(text)) if text is not None else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@translate_errors
class EngineStore:
    """Heartbeats of running engines; a dead engine's jobs are settled by a living one."""

    def __init__(self, db: peewee.Database, jobs: JobStore) -> None:
        self.db = db
        self.jobs = jobs

    def register(
        self,
        engine_id: str,
        host: str,
        pid: int,
        now_ms: int,
        *,
        workers: int = 0,
        queues: Sequence[str] | None = None,
    ) -> None:
        """Add the row of a starting engine: who it is, its `workers` and the `queues` it
        serves (None: every queue)."""
        with immediate(self.db):
            E.insert(
                id=engine_id,
                host=host,
                pid=pid,
                started_ms=now_ms,
                heartbeat_ms=now_ms,
                workers=workers,
                queues=json.dumps(list(queues)) if queues is not None else None,
            ).execute(self.db)

    def heartbeat(self, engine_id: str, now_ms: int) -> bool:
        """Record that `engine_id` is alive; False when its row is gone (another engine
        settled it)."""
        return bool(E.update(heartbeat_ms=now_ms).where(E.id == engine_id).execute(self.db))

    def unregister(self, engine_id: str) -> None:
        with immediate(self.db):
            E.delete().where(E.id == engine_id).execute(self.db)

    def alive(self, now_ms: int, stale_ms: int) -> int:
        """How many engines beat within the last `stale_ms`."""
        return int(E.select().where(E.heartbeat_ms >= now_ms - stale_ms).count(self.db))

    def entries(self) -> list[EngineEntry]:
        """Every registered engine, oldest start first (a read; no lock taken)."""
        query = E.select(
            E.id, E.host, E.pid, E.started_ms, E.heartbeat_ms, E.workers, E.queues
        ).order_by(E.started_ms, E.id)
        return [
            EngineEntry(str(i), str(h), int(p), int(s), int(b), int(w), _queues(q))
            for i, h, p, s, b, w, q in query.tuples().execute(self.db)
        ]

    def dead(self, host: str, now_ms: int, stale_ms: int) -> list[str]:
        """Engines that stopped beating for `stale_ms`, or that ran on `host` with a dead pid."""
        out = []
        rows = E.select(E.id, E.host, E.pid, E.heartbeat_ms).tuples().execute(self.db)
        for eid, ehost, pid, beat in rows:
            if beat < now_ms - stale_ms or (ehost == host and not pid_alive(pid)):
                out.append(str(eid))
        return out

    def gone(self, host: str) -> set[str]:
        """Engines of `host` whose process is gone: their workers died with them."""
        rows = E.select(E.id, E.pid).where(E.host == host).tuples().execute(self.db)
        return {str(eid) for eid, pid in rows if not pid_alive(pid)}

    def settle(
        self, engine_ids: list[str], now_ms: int, gone: Collection[str] = ()
    ) -> tuple[list[str], list[str]]:
        """End the jobs dead engines were running (FAILED) and requeue those never started.

        A job an engine handed to a worker may have started before the engine could record
        it, unless the engine is `gone` (its process ended, and its workers with it): such
        jobs end FAILED too, so a paused engine's job never runs twice.

        Returns:
            (uuids ended FAILED, uuids given back to the queue).
        """
        if not engine_ids:
            return [], []
        records = self.jobs.claimed_by(engine_ids)
        alive = [e for e in engine_ids if e not in gone]
        maybe_started = self.jobs.handed_by(alive) if alive else set()
        started = [r.uuid for r in records if r.started_ms is not None or r.uuid in maybe_started]
        unstarted = [r.uuid for r in records if r.uuid not in set(started)]
        ended = self.jobs.end_now(started, "FAILED", now_ms, ENGINE_DIED)
        self.jobs.unclaim(unstarted)
        with immediate(self.db):
            E.delete().where(E.id.in_(engine_ids)).execute(self.db)
        return ended, unstarted
