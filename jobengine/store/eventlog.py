"""Store verbs for the event log (1C's registration log): write with a change, query, purge."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import peewee

from jobengine.errors import StoreError
from jobengine.store.db import immediate, translate_errors
from jobengine.store.match import words_condition
from jobengine.store.models import EventLogRow as E
from jobengine.store.records import Event, Finish

HOST = socket.gethostname()
LEVELS = ("info", "warning", "error")
_COLUMNS = [E.at_ms, E.level, E.event, E.message, E.job, E.scheduled_job, E.host]


def event_rows(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {
            "at_ms": e.at_ms,
            "level": e.level,
            "event": e.event,
            "message": e.message,
            "job": e.job,
            "scheduled_job": e.scheduled_job,
            "host": e.host or HOST,
        }
        for e in events
    ]


WORKER_LOST = "WorkerDied"  # the error type the pool gives a job whose worker died


def end_event(fin: Finish, method: str, scheduled_job: str | None) -> Event:
    """The event of a run's end: job.completed, job.failed (worker.lost when its worker
    died) or job.canceled."""
    if fin.state == "COMPLETED":
        return Event(fin.end_ms, "info", "job.completed", method, fin.uuid, scheduled_job)
    text = f"{method}: {fin.error_type or ''}: {fin.error_message or ''}".strip(": ")
    if fin.state == "CANCELED":
        return Event(fin.end_ms, "warning", "job.canceled", text, fin.uuid, scheduled_job)
    lost = fin.error_type == WORKER_LOST
    name = "worker.lost" if lost else "job.failed"
    return Event(fin.end_ms, "error", name, text[:2000], fin.uuid, scheduled_job)


def write_events(db: peewee.Database, events: Sequence[Event]) -> None:
    """Insert `events` on `db`, inside the caller's transaction when there is one."""
    rows = event_rows(events)
    for i in range(0, len(rows), 500):
        E.insert_many(rows[i : i + 500]).execute(db)


@translate_errors
class EventStore:
    """The event log of one store."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db

    def write(self, events: Sequence[Event]) -> None:
        if events:
            with immediate(self.db):
                write_events(self.db, events)

    def select(
        self,
        *,
        level: str | None = None,
        event: str | None = None,
        job: str | None = None,
        scheduled_job: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        text: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Event]:
        """Events matching every given filter, newest first, `offset` of them skipped. `level`
        means that level or worse ("warning" gives warnings and errors); `text` keeps the
        events whose level, event, message, host or job contain each of its words."""
        query = E.select(*_COLUMNS)
        if level is not None and level not in LEVELS:
            raise StoreError(f"unknown level {level!r}; known: {', '.join(LEVELS)}")
        given: tuple[tuple[Any, Callable[[Any], Any]], ...] = (
            (level, lambda v: E.level.in_(LEVELS[LEVELS.index(v) :])),
            (event, lambda v: E.event == v),
            (job, lambda v: E.job == v),
            (scheduled_job, lambda v: E.scheduled_job == v),
            (since_ms, lambda v: E.at_ms >= v),
            (until_ms, lambda v: E.at_ms <= v),
            (text, lambda v: words_condition([E.level, E.event, E.message, E.host, E.job], v)),
        )
        for value, make in given:
            cond = make(value) if value is not None else None
            if cond is not None:
                query = query.where(cond)
        query = query.order_by(E.at_ms.desc(), E.id.desc()).limit(max(0, limit))
        if offset:
            query = query.offset(offset)
        return [Event(*row) for row in query.tuples().execute(self.db)]

    def purge(self, before_ms: int) -> int:
        """Remove events older than `before_ms`, in short transactions; returns how many."""
        return purge_older(self.db, E, before_ms)


def purge_older(db: peewee.Database, model: Any, before_ms: int, batch: int = 5000) -> int:
    """Delete rows of `model` whose `at_ms` is before `before_ms`, `batch` per transaction, so
    a large purge never holds writers off for long; returns how many went."""
    removed = 0
    while True:
        query = model.select(model.id).where(model.at_ms < before_ms).limit(batch)
        ids = [r[0] for r in query.tuples().execute(db)]
        if not ids:
            return removed
        with immediate(db):
            model.delete().where(model.id.in_(ids)).execute(db)
        removed += len(ids)
