"""The detail screens' text, read through the managers: a background job (properties,
arguments, result, messages, progress, traceback) and a scheduled job's "why not running"."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from jobengine import codec
from jobengine.console import runs
from jobengine.console.data import Detail, blank, fmt
from jobengine.console.runs import NEXT_RUNS
from jobengine.errors import JobEngineError
from jobengine.state import JobState

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob
    from jobengine.engine import Engine
    from jobengine.scheduled import ScheduledJob

OCCURRENCES = 10


def job_detail(engine: Engine, uuid: str) -> Detail:
    """A background job, whole."""
    job = engine.background.find(uuid)
    if job is None:
        return Detail(f"background job {uuid}", (("", "gone (retention removed it)"),))
    props = [
        ("uuid", job.uuid),
        ("method", job.method),
        ("description", job.description),
        ("key", job.key),
        ("state", job.state.value + (" (cancel requested)" if job.cancel_requested else "")),
        ("begin", fmt(job.begin)),
        ("started", fmt(job.started)),
        ("end", fmt(job.end)),
        ("attempt", str(job.attempt)),
        ("queue", job.queue),
        ("location", job.location),
        ("scheduled job", job.scheduled_job or ""),
        ("parent", job.parent or ""),
    ]
    progress = job.last_progress
    sections = [
        ("Properties", "\n".join(f"{k:>14}: {v}" for k, v in props)),
        ("Arguments", codec.dumps({"args": job.args, "kwargs": job.kwargs})),
        ("Result", _result(job)),
        ("Messages", blank(job.messages())),
        ("Progress", f"{progress.percent:g}% {progress.text}" if progress else "(none)"),
    ]
    if job.error is not None:
        sections.append(("Error", f"{job.error.type}: {job.error.message}"))
        sections.append(("Traceback", job.error.traceback.rstrip() or "(none)"))
    return Detail(f"{job.method} {job.uuid}", tuple(sections))


def _result(job: BackgroundJob) -> str:
    if job.state is not JobState.COMPLETED:
        return f"(none: {job.state.value})"
    try:
        return codec.dumps(job.result(timeout=0))
    except JobEngineError as exc:
        return f"(unreadable: {exc})"


def why_not_running(engine: Engine, uuid: str) -> Detail:
    """A scheduled job: what blocks it now, its next runs, its last occurrences."""
    sj = engine.scheduled.find(uuid)
    if sj is None:
        return Detail(f"scheduled job {uuid}", (("", "gone (deleted)"),))
    zone = runs.zone_of(sj.schedule)
    props = [
        ("name", sj.metadata),
        ("uuid", sj.uuid),
        ("method", sj.method),
        ("description", sj.description),
        ("key", sj.key),
        ("use", "yes" if sj.use else "no"),
        ("predefined", "yes" if sj.predefined else "no"),
        ("schedule", str(sj.schedule)),
        ("restart", f"{sj.restart_count} times, {sj.restart_interval}s apart"),
        ("last start", fmt(sj.last_begin)),
        ("last end", fmt(sj.last_end)),
    ]
    occurrences = [
        f"{_at(o.nominal_ms, zone)}  {o.decision:<15} {o.job or ''}"
        for o in sj.occurrences(limit=OCCURRENCES)
    ]
    sections = (
        ("Properties", "\n".join(f"{k:>12}: {v}" for k, v in props)),
        ("Blocks it now", "\n".join(blockers(engine, sj))),
        (f"Next {NEXT_RUNS} runs ({zone})", blank(next_runs(engine, sj, zone))),
        ("Last occurrences and decisions", blank(occurrences)),
    )
    return Detail(f"Why not running: {sj.metadata}", sections)


def blockers(engine: Engine, sj: ScheduledJob) -> list[str]:
    """What keeps the scheduler from starting the job now, in words."""
    found: list[str] = []
    if not sj.use:
        found.append("disabled: use is off (e enables it)")
    lock = engine.scheduled.lock_info
    if lock is not None:
        found.append(f"global lock: scheduled jobs are locked by {lock[0]} since {fmt(lock[1])}")
    if sj.paused:
        until = f"until {fmt(sj.paused_until)}" if sj.paused_until else "until resumed"
        found.append(f"paused {until}" + (f": {sj.pause_reason}" if sj.pause_reason else ""))
    last = sj.last_job
    if last is not None and not last.is_finished:
        where = f" on {last.location}" if last.location else ""
        found.append(f"previous run {last.uuid} still active{where} since {fmt(last.begin)}")
    found += _key_holders(engine, sj, last.uuid if last is not None else None)
    nxt = sj.next_run()
    if sj.use and nxt is None and not sj.paused:
        found.append("its schedule has no further runs")
    if nxt is not None and nxt > engine.clock.now():
        found.append(_outside_window(engine.clock.now(), nxt, runs.zone_of(sj.schedule)))
    if sj.overdue and not found:
        found.append(f"overdue since {fmt(nxt)}: is a `jobengine run` going?")
    if not found:
        found.append(f"nothing: next run {fmt(nxt)}" if nxt else "nothing")
    return found


def _key_holders(engine: Engine, sj: ScheduledJob, last: str | None) -> list[str]:
    """Other active jobs of the same method and key: a start would conflict with them."""
    if not sj.key:
        return []
    out = []
    for job in engine.background.get(state=JobState.ACTIVE, method=sj.method, key=sj.key):
        if job.uuid == last:
            continue
        host, _, pid = job.location.rpartition(":")
        where = f"on host {host} (pid {pid}) since {fmt(job.started)}" if host else "queued"
        out.append(f"key {sj.key!r} held by run {job.uuid} {where}, begun {fmt(job.begin)}")
    return out


def _outside_window(now: datetime, nxt: datetime, zone: tzinfo) -> str:
    """Not due now: when its next run comes, in its zone."""
    at, today = nxt.astimezone(zone), now.astimezone(zone).date()
    if at.date() == today:
        return f"outside its window: not due now; next run later today at {at:%H:%M:%S %Z}"
    days = (at.date() - today).days
    return (
        f"outside its window: not due now; next run on {at:%a %Y-%m-%d %H:%M:%S %Z}"
        f" (in {days} day{'s' if days != 1 else ''})"
    )


def next_runs(engine: Engine, sj: ScheduledJob, zone: tzinfo, count: int = NEXT_RUNS) -> list[str]:
    """Its next starts in its time zone, daylight-saving changes marked."""
    after = sj.next_run() or engine.clock.now()
    return runs.lines(runs.upcoming(sj.schedule, after, None, count), zone)


def _at(ms: int, zone: tzinfo) -> str:
    from jobengine.clock import from_ms

    at = from_ms(ms)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else ""
