"""What the console's keys do to one row, through the managers: each function takes the
engine and a row's key, acts, and returns what it did in words (or raises JobEngineError)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from jobengine.errors import JobEngineError
from jobengine.state import JobState

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob
    from jobengine.console.jobfields import ScheduledFields, StartFields
    from jobengine.engine import Engine
    from jobengine.schedule import Schedule
    from jobengine.scheduled import ScheduledJob

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def scheduled(engine: Engine, uuid: str) -> ScheduledJob:
    sj = engine.scheduled.find(uuid)
    if sj is None:
        raise JobEngineError(f"scheduled job {uuid} no longer exists")
    return sj


def restart(engine: Engine, uuid: str) -> str:
    """Start a FAILED background job again: a run of a scheduled job through its run now
    (so it is linked to the job and named "Manual start: ..."), any other job by executing
    the same method, arguments, key, queue and priority again."""
    job = engine.background.find(uuid)
    if job is None:
        raise JobEngineError(f"background job {uuid} is gone")
    if job.state is not JobState.FAILED:
        raise JobEngineError(f"{job.method} {uuid[:8]} is {job.state.value}: R restarts FAILED")
    owner = engine.scheduled.find(job.scheduled_job) if job.scheduled_job else None
    if owner is not None:
        new = owner.run_now()
        return f"restarted {owner.metadata} by its run now: job {new.uuid[:8]}"
    new = _execute_again(engine, job)
    return f"executed {job.method} again (same arguments, key, queue): job {new.uuid[:8]}"


def _execute_again(engine: Engine, job: BackgroundJob) -> BackgroundJob:
    return engine.background.execute(
        job.method,
        job.args,
        job.kwargs,
        key=job.key,
        description=job.description,
        queue=job.queue,
        priority=job.priority,
    )


def restart_last(engine: Engine, uuid: str) -> str:
    """Restart a scheduled job's last run when it FAILED."""
    sj = scheduled(engine, uuid)
    last = sj.last_job
    if last is None or last.state is not JobState.FAILED:
        state = last.state.value if last is not None else "none"
        raise JobEngineError(f"{sj.metadata}: its last run is {state}, not FAILED")
    return restart(engine, last.uuid)


def resume(engine: Engine, uuid: str) -> str:
    sj = scheduled(engine, uuid)
    sj.resume()
    return f"{sj.metadata} resumed"


def pause(engine: Engine, uuid: str, until: str, reason: str) -> str:
    """Pause a scheduled job; `until` is empty (until resumed), a span ("90s", "30m", "2h",
    "1d") or an ISO date-time (local time when it names no zone)."""
    sj = scheduled(engine, uuid)
    sj.pause(parse_until(until), reason)
    return f"{sj.metadata} paused"


def parse_until(text: str) -> datetime | timedelta | None:
    """Read the pause prompt's "until": empty, a span with a unit, or an ISO date-time.

    Raises:
        JobEngineError: neither.
    """
    text = text.strip()
    if not text:
        return None
    unit = _UNITS.get(text[-1].lower())
    if unit is not None and text[:-1].strip().replace(".", "", 1).isdigit():
        return timedelta(seconds=float(text[:-1]) * unit)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise JobEngineError(
            f"until {text!r}: give a span (30m, 2h, 1d) or a date-time (2026-03-02 18:00)"
        ) from None
    return at.astimezone(UTC) if at.tzinfo is None else at


def run_now(engine: Engine, uuid: str) -> str:
    sj = scheduled(engine, uuid)
    new = sj.run_now()
    return f"{sj.metadata} started: job {new.uuid[:8]}"


def toggle_use(engine: Engine, uuid: str) -> str:
    sj = scheduled(engine, uuid)
    sj.use = not sj.use
    sj.save()
    return f"{sj.metadata} {'enabled' if sj.use else 'disabled'}"


def cancel_last_run(engine: Engine, uuid: str) -> str:
    sj = scheduled(engine, uuid)
    last = sj.last_job
    if last is None or last.is_finished:
        raise JobEngineError(f"{sj.metadata} has no active run")
    last.cancel()
    return f"cancel of {sj.metadata}'s run requested"


def set_schedule(engine: Engine, uuid: str, schedule: Schedule) -> str:
    """Give a scheduled job a new schedule (saving it writes a scheduled.changed event)."""
    sj = scheduled(engine, uuid)
    sj.schedule = schedule
    sj.save()
    return f"{sj.metadata}: {schedule}"


def cancel_job(engine: Engine, uuid: str) -> str:
    engine.background.cancel(uuid)
    return f"cancel of job {uuid[:8]} requested"


def delete_job(engine: Engine, uuid: str) -> str:
    gone = engine.background.delete([uuid])
    return f"job {uuid[:8]} deleted" if gone else f"job {uuid[:8]} was not deleted (active?)"


def delete_scheduled(engine: Engine, uuid: str) -> str:
    sj = scheduled(engine, uuid)
    sj.delete()
    return f"{sj.metadata} deleted"


def add_scheduled(engine: Engine, fields: ScheduledFields, schedule: Schedule | None = None) -> str:
    """Create a scheduled job of registry entry `fields.metadata` with the form's fields (and
    `schedule`, a copy's, else the entry's); saving writes a scheduled.changed event."""
    sj = engine.scheduled.create(fields.metadata)
    _fill(sj, fields)
    if schedule is not None:
        sj.schedule = schedule
    sj.save()
    return f"{sj.metadata} added: {sj.uuid[:8]}"


def edit_scheduled(engine: Engine, uuid: str, fields: ScheduledFields) -> str:
    """Give a scheduled job the form's fields (saving writes a scheduled.changed event)."""
    sj = scheduled(engine, uuid)
    _fill(sj, fields)
    sj.save()
    return f"{sj.metadata} saved"


def _fill(sj: ScheduledJob, fields: ScheduledFields) -> None:
    sj.description = fields.description
    sj.key = fields.key
    sj.use = fields.use
    sj.user_name = fields.user_name
    sj.restart_count = fields.restart_count
    sj.restart_interval = fields.restart_interval
    sj.params = fields.params


def start_job(engine: Engine, fields: StartFields) -> str:
    job = engine.background.execute(
        fields.method,
        fields.args,
        key=fields.key,
        description=fields.description,
        queue=fields.queue,
    )
    return f"{fields.method} started: job {job.uuid[:8]}"
