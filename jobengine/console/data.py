"""What the console shows, gathered through the engine's managers as plain rows: the three
listings, the header, and the text of the detail screens. No Textual here, no store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from jobengine.console.query import Query
from jobengine.errors import JobEngineError
from jobengine.scheduled import is_uuid
from jobengine.state import JobState

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob
    from jobengine.engine import Engine
    from jobengine.scheduled import ScheduledOverview

PAGE = 500  # rows a listing reads at once (one page in SQL: never a whole table)

SCHEDULED_COLUMNS = (
    "sel",
    "use",
    "name",
    "description",
    "schedule",
    "next run",
    "paused until",  # beside the next run it holds back, in view at 200 columns
    "last start",
    "last state",
    "last duration",
    "key",
    "predefined",
    "restart",
)
BACKGROUND_COLUMNS = (
    "sel",
    "state",
    "description",
    "method",
    "key",
    "begin",
    "end",
    "duration",
    "error",  # before the rest: the first thing to see on a failed row, at 200 columns
    "location",
    "progress",
    "messages",
    "attempt",
    "queue",
)
EVENT_COLUMNS = ("sel", "level", "time", "event", "message", "job", "host")
ENGINE_COLUMNS = (
    "sel",
    "host",
    "pid",
    "started",
    "heartbeat age",
    "workers",
    "busy",
    "idle",
    "queues",
    "engine",
)


@dataclass(frozen=True)
class Row:
    """One listing row: a stable key (a uuid), its cells (without the selection mark), and
    what the actions need to know about it (`flags`: "enabled", "predefined", "active",
    "paused", "failed")."""

    key: str
    cells: tuple[str, ...]
    flags: frozenset[str] = frozenset()
    job: str | None = None  # the background job an event row names


@dataclass(frozen=True)
class Header:
    url: str
    active: int
    failed: int
    lock: str | None  # who set the scheduled-jobs lock and when, None when it is off


@dataclass(frozen=True)
class Detail:
    """A detail screen's text: a title and (heading, body) sections."""

    title: str
    sections: tuple[tuple[str, str], ...]


def fmt(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else ""


def fmt_span(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def safe_url(url: str) -> str:
    """The store URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# -- listings -------------------------------------------------------------------------------


def scheduled_rows(
    engine: Engine, query: Query, text: str = "", offset: int = 0, limit: int = PAGE
) -> list[Row]:
    """One page of the scheduled jobs, by name (one store read, runs joined in SQL); `text`
    keeps those whose name, description, method or key contain each of its words."""
    found = engine.scheduled.overview(text=text or None, limit=limit, offset=offset)
    return [_scheduled_row(o) for o in found]


def _scheduled_row(o: ScheduledOverview) -> Row:
    sj = o.job
    restart = f"{sj.restart_count} x {sj.restart_interval}s" if sj.restart_count else ""
    paused = ""
    if sj.paused:
        paused = fmt(sj.paused_until) if sj.paused_until else "until resumed"
    flags = {"enabled"} if sj.use else set()
    if sj.predefined:
        flags.add("predefined")
    if o.last_state is JobState.ACTIVE:
        flags.add("active")
    if sj.paused:
        flags.add("paused")
    cells = (
        "yes" if sj.use else "no",
        sj.metadata,
        sj.description,
        str(sj.schedule),
        fmt(o.next_run),
        paused,
        fmt(sj.last_begin),
        o.last_state.value if o.last_state is not None else "",
        fmt_span(o.last_duration.total_seconds()) if o.last_duration is not None else "",
        sj.key,
        "yes" if sj.predefined else "no",
        restart,
    )
    return Row(sj.uuid, cells, frozenset(flags))


def background_rows(
    engine: Engine, query: Query, text: str = "", offset: int = 0, limit: int = PAGE
) -> list[Row]:
    """One page of the background jobs matching `query` (default: begun in the last hour) and
    each word of `text`, newest first, with their messages counted (one store read)."""
    found = engine.background.overview(
        begin_after=query.since(engine.clock.now()),
        state=query.state or None,
        scheduled_job=query.scheduled_job or None,
        queue=query.queue or None,
        text=text or None,
        limit=limit,
        offset=offset,
        newest_first=True,
    )
    return [_background_row(o.job, o.messages) for o in found]


def _background_row(job: BackgroundJob, messages: int) -> Row:
    duration = None
    if job.started is not None:
        duration = ((job.end or job.started) - job.started).total_seconds()
    progress = job.last_progress
    error = job.error.message.splitlines()[0] if job.error and job.error.message else ""
    if job.error and not error:
        error = job.error.type
    cells = (
        job.state.value,
        job.description,
        job.method,
        job.key,
        fmt(job.begin),
        fmt(job.end),
        fmt_span(duration) if job.end else "",
        error,
        job.location,
        f"{progress.percent:3.0f}% {progress.text}".rstrip() if progress else "",
        str(messages) if messages else "",
        str(job.attempt),
        job.queue,
    )
    flags = {"failed"} if job.state is JobState.FAILED else set()
    if not job.is_finished:
        flags.add("active")
    return Row(job.uuid, cells, frozenset(flags))


def event_rows(
    engine: Engine, query: Query, text: str = "", offset: int = 0, limit: int = PAGE
) -> list[Row]:
    """One page of the event log matching `query` and each word of `text`, newest first (one
    store read). Events have no id: a row's key is its content, made unique by a counter, so
    a refresh finds the same rows again."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    job = query.job or None
    found = engine.log.get(
        level=query.level or None,
        event=query.event or None,
        job=None if query.job_is_scheduled else job,
        scheduled_job=job if query.job_is_scheduled else None,
        since=query.since(engine.clock.now()),
        text=text or None,
        limit=limit,
        offset=offset,
    )
    for ev in found:
        base = f"{ev.time.timestamp()}|{ev.event}|{ev.job}|{ev.scheduled_job}|{ev.message}"
        seen[base] = seen.get(base, 0) + 1
        cells = (ev.level, fmt(ev.time), ev.event, ev.message, ev.job or "", ev.host)
        rows.append(Row(f"{base}|{seen[base]}", cells, job=ev.job))
    return rows


def engine_rows(
    engine: Engine, query: Query, text: str = "", offset: int = 0, limit: int = PAGE
) -> list[Row]:
    """The engines working on the store, oldest first, with the age of their heartbeat, their
    workers busy and idle, and the queues they serve (a handful of rows: `text` filters them
    here, on every cell). An engine of an older version has not recorded its workers: "?"."""
    now = engine.clock.now()
    rows = []
    for e in engine.status.engines():
        age = fmt_span(max(0.0, (now - e.heartbeat_at).total_seconds()))
        known = e.workers > 0
        cells = (
            e.host,
            str(e.pid),
            fmt(e.started_at),
            age,
            str(e.workers) if known else "?",
            str(e.busy),
            str(e.idle) if known else "?",
            "all" if e.queues is None else ", ".join(e.queues),
            e.id,
        )
        rows.append(Row(e.id, cells))
    return visible(rows, text)[offset : offset + limit]


def header(engine: Engine) -> Header:
    counts = engine.background.counts()
    info = engine.scheduled.lock_info
    lock = f"by {info[0]} since {fmt(info[1])}" if info is not None else None
    return Header(safe_url(engine.url), counts[JobState.ACTIVE], counts[JobState.FAILED], lock)


def blank(values: Sequence[str]) -> str:
    return "\n".join(values) if values else "(none)"


def find_job(engine: Engine, text: str) -> tuple[str, bool, str]:
    """What the event log's job filter names: a scheduled job (by name or uuid) or a
    background job (by uuid), as (uuid, is it a scheduled job, label).

    Raises:
        JobEngineError: it names neither.
    """
    text = text.strip()
    named = engine.scheduled.get(metadata=text, limit=1)
    if named:
        return named[0].uuid, True, named[0].metadata
    try:
        sj = engine.scheduled.find(text)
        job = engine.background.find(text) if sj is None else None
    except (JobEngineError, ValueError):
        sj, job = None, None
    if sj is not None:
        return sj.uuid, True, sj.metadata
    if job is not None:
        return job.uuid, False, job.uuid[:8]
    if is_uuid(text):  # a job retention removed still has events
        return text, False, text[:8]
    raise JobEngineError(f"job {text!r}: not a scheduled job's name nor a job's uuid")


def visible(rows: Sequence[Row], text: str) -> list[Row]:
    """The rows whose cells contain every word of `text` (any case)."""
    words = text.lower().split()
    if not words:
        return list(rows)
    return [r for r in rows if _matches(" ".join(r.cells).lower(), words)]


def _matches(haystack: str, words: Iterable[str]) -> bool:
    return all(w in haystack for w in words)
