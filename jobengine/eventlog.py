"""The event log from code (1C registration log): `engine.log.get(...)`."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobengine.clock import from_ms
from jobengine.errors import JobEngineError
from jobengine.launch import check_instant
from jobengine.store.eventlog import LEVELS

if TYPE_CHECKING:
    from jobengine.store import Store


@dataclass(frozen=True)
class LogEvent:
    """One event: job.started, job.completed, job.failed, job.canceled, job.restart,
    job.deadline, schedule.missed, worker.lost, lock.on, lock.off, registry.synced,
    scheduled.changed."""

    time: datetime
    level: str  # "info" | "warning" | "error"
    event: str
    message: str
    job: str | None  # a background job's uuid
    scheduled_job: str | None  # a scheduled job's uuid
    host: str


class EventLog:
    """`engine.log`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(
        self,
        level: str | None = None,
        event: str | None = None,
        scheduled_job: object = None,
        job: object = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        *,
        text: str | None = None,
        offset: int = 0,
    ) -> list[LogEvent]:
        """Events matching every given filter, newest first, `offset` of them skipped. `level`
        gives that level and worse; `scheduled_job` and `job` take a uuid or an object with
        one; `text` keeps the events whose level, event, message, host or job contain each of
        its words (any case)."""
        if level is not None and level not in LEVELS:
            raise JobEngineError(f"level {level!r}: use one of {', '.join(LEVELS)}")
        for name, value in (("limit", limit), ("offset", offset)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise JobEngineError(f"{name} {value!r}: a whole number >= 0")
        if text is not None and not isinstance(text, str):
            raise JobEngineError(f"text {text!r}: a string")
        rows = self._store.events.select(
            level=level,
            event=event,
            job=_uuid_of("job", job),
            scheduled_job=_uuid_of("scheduled_job", scheduled_job),
            since_ms=check_instant("since", since),
            until_ms=check_instant("until", until),
            text=text,
            limit=limit,
            offset=offset,
        )
        out = []
        for r in rows:
            at = from_ms(r.at_ms)
            assert at is not None
            out.append(LogEvent(at, r.level, r.event, r.message, r.job, r.scheduled_job, r.host))
        return out


def _uuid_of(name: str, value: object) -> str | None:
    if value is None:
        return None
    value = getattr(value, "uuid", value)
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise JobEngineError(f"{name} {value!r} is not a uuid") from None
