"""Scheduled jobs from code (1C ScheduledJobs manager): create, query, edit, run now, pause,
the scheduled-jobs lock, and the registry sync of predefined jobs."""

from __future__ import annotations

import copy
import getpass
import socket
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobengine import codec
from jobengine.clock import from_ms, to_ms
from jobengine.decide import next_start
from jobengine.errors import JobEngineError, RegistryError
from jobengine.launch import check_filters, check_instant
from jobengine.methods import check_arguments, resolve
from jobengine.registry import JobMetadata, Registry
from jobengine.schedule import Schedule
from jobengine.state import JobState
from jobengine.store.records import (
    Event,
    LastRun,
    OccurrenceRecord,
    RunState,
    ScheduledRecord,
)
from jobengine.store.scheduled import SyncItem

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob
    from jobengine.engine import Engine

OVERDUE_MS = 60_000
_TIMING = {"use", "schedule"}  # edits after which the schedule is checked afresh from now


def who() -> str:
    """The person acting, as the event log and the lock record them."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container without passwd entry)
        user = "?"
    return f"{user}@{socket.gethostname()}"


class ScheduledJob:
    """One scheduled job (1C ScheduledJob): a snapshot; edit the fields, then `save()`."""

    def __init__(self, manager: ScheduledJobs, record: ScheduledRecord, *, new: bool = False):
        self._manager = manager
        self._new = new
        self._load(record)

    def _load(self, r: ScheduledRecord) -> None:
        self._record = r
        self.uuid = r.uuid
        self.metadata = r.metadata
        self.method = r.method
        self.predefined = r.predefined
        self.description = r.description
        self.key = r.key
        self.use = r.use
        self._schedule = Schedule.from_dict(codec.loads(r.schedule) or {})
        self._params = list(codec.loads(r.params) or [])
        self.user_name = r.user_name
        self.restart_count = r.restart_count
        self.restart_interval = r.restart_interval

    # schedule and params are copied on read and on assignment (1C P16)
    @property
    def schedule(self) -> Schedule:
        return self._schedule

    @schedule.setter
    def schedule(self, value: Schedule) -> None:
        if not isinstance(value, Schedule):
            raise JobEngineError(f"schedule must be a Schedule, not {type(value).__name__}")
        self._schedule = value

    @property
    def params(self) -> list[Any]:
        return copy.deepcopy(self._params)

    @params.setter
    def params(self, value: Sequence[Any]) -> None:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise JobEngineError(f"params must be a list, not {type(value).__name__}")
        self._params = copy.deepcopy(list(value))

    @property
    def paused(self) -> bool:
        return self._record.paused and not self._pause_over()

    @property
    def paused_until(self) -> datetime | None:
        return from_ms(self._record.paused_until_ms) if self.paused else None

    @property
    def pause_reason(self) -> str:
        return self._record.pause_reason if self.paused else ""

    def _pause_over(self) -> bool:
        until = self._record.paused_until_ms
        return until is not None and to_ms(self._manager.clock.now()) >= until

    @property
    def last_begin(self) -> datetime | None:
        """The schedule's own last start (scheduler starts only, never manual runs)."""
        return from_ms(self._record.last_begin_ms)

    @property
    def last_end(self) -> datetime | None:
        return from_ms(self._record.last_end_ms)

    @property
    def last_job(self) -> BackgroundJob | None:
        """The last run started for this job (scheduled, restart or manual), or None."""
        u = self._record.last_job
        return self._manager.engine.background.find(u) if u else None

    def next_run(self) -> datetime | None:
        """The next instant the scheduler will start it (now, if it is due), or None."""
        at = self._manager.next_start_ms(self._record)
        if at is None:
            return None
        return from_ms(max(at, to_ms(self._manager.clock.now())))

    @property
    def overdue(self) -> bool:
        """Due for longer than the overdue grace (a minute) with no start: no scheduler is
        running, or something blocks it (the lock, an active run; see `occurrences()`)."""
        at = self._manager.next_start_ms(self._record)
        return at is not None and to_ms(self._manager.clock.now()) - at > OVERDUE_MS

    def occurrences(self, limit: int = 20) -> list[OccurrenceRecord]:
        """Its latest due occurrences and the decision taken for each, newest first."""
        return self._manager.store.scheduled.occurrences(self.uuid, limit)

    def history(self, limit: int = 100) -> list[BackgroundJob]:
        """Its runs still kept, newest first."""
        jobs = self._manager.engine.background.get(scheduled_job=self.uuid)
        return list(reversed(jobs))[:limit]

    def refresh(self) -> ScheduledJob:
        found = self._manager.store.scheduled.find(self.uuid)
        if found is None:
            raise JobEngineError(f"scheduled job {self.uuid} no longer exists")
        self._load(found)
        self._new = False
        return self

    def save(self) -> ScheduledJob:
        """Write the edits; a new job is created. A change of `use` or the schedule is
        checked from now on: inside an open window it runs now, a closed one never."""
        self._manager._save(self)
        return self

    def delete(self) -> None:
        """Delete the job (not a predefined one: the registry owns those)."""
        self._manager._delete(self)

    def run_now(self) -> BackgroundJob:
        """Start a run now, outside the schedule: linked as `last_job`, leaving the schedule's
        own last start alone. Refused while a run of it is active."""
        return self._manager._run_now(self)

    def pause(self, until: datetime | timedelta | None = None, reason: str = "") -> None:
        """Stop scheduler starts until `until` (None: until `resume()`); survives restarts
        and registry syncs. Occurrences that fall inside the pause are not made up."""
        self._manager._pause(self, until, reason)

    def resume(self) -> None:
        self._manager._resume(self)

    def __repr__(self) -> str:
        return f"<ScheduledJob {self.metadata} {self.uuid} use={self.use}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduledJob) and other.uuid == self.uuid

    def __hash__(self) -> int:
        return hash(self.uuid)


@dataclass(frozen=True)
class ScheduledOverview:
    """A scheduled job as a listing shows it: the job, when the scheduler next starts it (as
    `ScheduledJob.next_run()`), the state of its last run (None: no run, or retention removed
    it) and how long that run took (its running time so far while it runs; None when it has
    not started)."""

    job: ScheduledJob
    next_run: datetime | None
    last_state: JobState | None
    last_duration: timedelta | None = None


class ScheduledJobs:
    """`engine.scheduled`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = engine.clock

    # -- 1C manager -----------------------------------------------------------------------

    def create(self, metadata: str) -> ScheduledJob:
        """A new, unsaved scheduled job of registry entry `metadata` (not a predefined one)."""
        meta = self._metadata(metadata)
        if meta.predefined:
            raise JobEngineError(
                f"{metadata!r} is predefined: the registry sync creates it; "
                f"use engine.scheduled.get(metadata={metadata!r})"
            )
        now = to_ms(self.clock.now())
        rec = ScheduledRecord(
            uuid=str(uuidlib.uuid4()),
            metadata=meta.name,
            method=meta.method,
            predefined=False,
            description=meta.description,
            key=meta.key,
            use=meta.use,
            schedule=codec.dumps(meta.schedule.to_dict()),
            params=codec.dumps(list(meta.params)),
            user_name="",
            restart_count=meta.restart.count,
            restart_interval=meta.restart.interval,
            paused=False,
            paused_until_ms=None,
            pause_reason="",
            due_from_ms=now,
            last_begin_ms=None,
            last_end_ms=None,
            sched_job=None,
            last_job=None,
            created_ms=now,
            changed_ms=now,
            revision=0,
            origin="{}",
        )
        return ScheduledJob(self, rec, new=True)

    def get(
        self,
        *,
        uuid: str | uuidlib.UUID | None = None,
        key: str | None = None,
        metadata: str | None = None,
        predefined: bool | None = None,
        use: bool | None = None,
        description: str | None = None,
        limit: int | None = None,
    ) -> list[ScheduledJob]:
        """Scheduled jobs matching every given filter (1C GetScheduledJobs), by name; the
        first `limit` of them when given."""
        check_filters({"limit": limit})
        rows = self.store.scheduled.select(
            limit=limit,
            uuid=str(uuid) if uuid is not None else None,
            key=key,
            metadata=metadata,
            predefined=predefined,
            use=use,
            description=description,
        )
        return [ScheduledJob(self, r) for r in rows]

    def overview(
        self, *, text: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[ScheduledOverview]:
        """One page of the scheduled jobs by name, with their next start and last run's state,
        in one store read whatever the page's size: `offset` rows skipped, at most `limit`
        given. `text`: only jobs whose name, description, method or key contain each of its
        words (any case)."""
        check_filters({"text": text, "limit": limit, "offset": offset})
        now = to_ms(self.clock.now())
        out = []
        for rec, run, last in self.store.scheduled.overview(text=text, limit=limit, offset=offset):
            job = ScheduledJob(self, rec)
            at = next_start(rec, job.schedule, run, now)
            out.append(
                ScheduledOverview(
                    job,
                    from_ms(max(at, now)) if at is not None else None,
                    JobState(last.state) if last is not None else None,
                    _took(last, now),
                )
            )
        return out

    def find(self, uuid: str | uuidlib.UUID) -> ScheduledJob | None:
        found = self.store.scheduled.find(str(uuid))
        return ScheduledJob(self, found) if found is not None else None

    def named(self, name: str) -> ScheduledJob:
        """The job a person names: a uuid, or a metadata name with one job (a predefined one).

        Raises:
            JobEngineError: no such job, or the name has several (give the uuid).
        """
        if is_uuid(name):
            found = self.find(name)
            if found is not None:
                return found
        jobs = self.get(metadata=name)
        if len(jobs) == 1:
            return jobs[0]
        if not jobs:
            raise JobEngineError(f"no scheduled job named {name!r}")
        uuids = ", ".join(j.uuid for j in jobs)
        raise JobEngineError(f"{len(jobs)} scheduled jobs are named {name!r}: give one of {uuids}")

    # -- the lock -------------------------------------------------------------------------

    def lock(self) -> None:
        """Stop every engine's scheduler from starting scheduled jobs (durable, store-wide);
        background jobs and runs already going are not affected."""
        self._set_lock(True)

    def unlock(self) -> None:
        self._set_lock(False)

    @property
    def locked(self) -> bool:
        return self.store.scheduled.lock_info() is not None

    @property
    def lock_info(self) -> tuple[str, datetime] | None:
        """Who set the lock and when, or None when it is off."""
        info = self.store.scheduled.lock_info()
        if info is None:
            return None
        at = from_ms(int(info.get("at_ms", 0)))
        assert at is not None
        return str(info.get("by", "")), at

    def _set_lock(self, on: bool) -> None:
        now = to_ms(self.clock.now())
        by = who()
        event = Event(now, "warning" if on else "info", "lock.on" if on else "lock.off", f"by {by}")
        if self.store.scheduled.set_lock(on, by, now, [event]):
            self._changed()

    # -- operators ------------------------------------------------------------------------

    def backfill(
        self, job: ScheduledJob | str, start: datetime, end: datetime, *, dry_run: bool = True
    ) -> list[datetime] | list[BackgroundJob]:
        """The occurrences of `job` in [start, end] (daily windows respected), had each run on
        time; without `dry_run`, start them one after another, each after the last ended.

        Returns:
            The nominal instants (dry run), or the runs started.
        """
        sj = self.named(job) if isinstance(job, str) else job
        lo = check_instant("start", start)
        hi = check_instant("end", end)
        if lo is None or hi is None:
            raise JobEngineError("backfill needs a start and an end")
        if hi < lo:
            raise JobEngineError(f"backfill: end {end} is before start {start}")
        times: list[int] = []
        at: int | None = sj.schedule.next_run_ms(lo, None, None)
        while at is not None and at <= hi and len(times) < 10_000:
            times.append(at)
            at = sj.schedule.next_run_ms(at + 1, at, at)
        instants = [d for d in (from_ms(t) for t in times) if d is not None]
        if dry_run:
            return instants
        runs: list[BackgroundJob] = []
        for nominal in instants:
            run = self._start_manual(sj, f"Backfill {nominal:%Y-%m-%d %H:%M:%S} UTC: ")
            run.wait()
            runs.append(run)
        return runs

    # -- internals ------------------------------------------------------------------------

    def next_start_ms(self, rec: ScheduledRecord) -> int | None:
        now = to_ms(self.clock.now())
        run: RunState | None = None
        if rec.sched_job:
            found = self.store.scheduled.run_states([rec.sched_job]).get(rec.sched_job)
            run = found[0] if found else None
        schedule = Schedule.from_dict(codec.loads(rec.schedule) or {})
        return next_start(rec, schedule, run, now)

    def _metadata(self, name: str) -> JobMetadata:
        registry = self.engine.registry
        if registry is None:
            raise JobEngineError("this engine has no registry: pass Engine(registry=...)")
        meta = registry.jobs.get(name)
        if meta is None:
            known = ", ".join(sorted(registry.jobs)) or "none"
            raise JobEngineError(f"no scheduled job {name!r} in the registry (known: {known})")
        return meta

    def _check_params(self, job: ScheduledJob) -> None:
        func = resolve(job.method, self.engine.allowed_modules)
        check_arguments(job.method, func, job._params, {})

    def _save(self, job: ScheduledJob) -> None:
        now = to_ms(self.clock.now())
        params = codec.dumps(job._params, what="params")
        schedule = codec.dumps(job.schedule.to_dict())
        _check_fields(job)
        self._check_params(job)
        values = {
            "description": job.description,
            "key": job.key,
            "use": job.use,
            "schedule": schedule,
            "params": params,
            "user_name": job.user_name,
            "restart_count": job.restart_count,
            "restart_interval": job.restart_interval,
        }
        if job._new:
            row = {f: getattr(job._record, f) for f in ScheduledRecord.__dataclass_fields__}
            row.update(values, due_from_ms=now, created_ms=now, changed_ms=now)
            event = Event(now, "info", "scheduled.changed", f"created by {who()}", None, job.uuid)
            job._load(self.store.scheduled.insert(row, [event]))
            job._new = False
            self._changed()
            return
        old = job._record
        changed = {k: v for k, v in values.items() if getattr(old, k) != v}
        if not changed:
            return
        if _TIMING & set(changed):
            changed["due_from_ms"] = now
        changed["changed_ms"] = now
        text = f"{', '.join(sorted(set(changed) & set(values)))} changed by {who()}"
        event = Event(now, "info", "scheduled.changed", text, None, job.uuid)
        found = self.store.scheduled.update(job.uuid, changed, [event])
        if found is None:
            raise JobEngineError(f"scheduled job {job.uuid} no longer exists")
        job._load(found)
        self._changed()

    def _delete(self, job: ScheduledJob) -> None:
        if job.predefined:
            raise JobEngineError(
                f"{job.metadata!r} is predefined: remove it from the registry (or clear "
                "`predefined`) to retire it; set use = False to stop it"
            )
        now = to_ms(self.clock.now())
        event = Event(now, "info", "scheduled.changed", f"deleted by {who()}", None, job.uuid)
        if self.store.scheduled.delete(job.uuid, [event]):
            self._changed()

    def _run_now(self, job: ScheduledJob) -> BackgroundJob:
        return self._start_manual(job, "Manual start: ")

    def _start_manual(self, job: ScheduledJob, prefix: str) -> BackgroundJob:
        if job._new:
            raise JobEngineError("save the scheduled job before running it")
        rec = job.refresh()._record
        new = self.engine.background.prepare(
            rec.method,
            codec.loads(rec.params) or [],
            key=rec.key,
            description=prefix + (rec.description or rec.metadata),
            scheduled_job=rec.uuid,
        )
        event = Event(new.begin_ms, "info", "job.started", prefix + who(), new.uuid, rec.uuid)
        self.store.scheduled.start_manual(rec.uuid, new, [event])
        job.refresh()
        self.engine.announcer.new(None)
        found = self.engine.background.find(new.uuid)
        if found is None:  # pragma: no cover - retention cannot remove an active job
            raise JobEngineError(f"run {new.uuid} vanished")
        return found

    def _pause(self, job: ScheduledJob, until: datetime | timedelta | None, reason: str) -> None:
        if not isinstance(reason, str):
            raise JobEngineError(f"reason must be a string, not {reason!r}")
        now = to_ms(self.clock.now())
        until_ms: int | None = None
        if isinstance(until, timedelta):
            until_ms = now + int(until.total_seconds() * 1000)
        elif until is not None:
            until_ms = check_instant("until", until)
        if until_ms is not None and until_ms <= now:
            raise JobEngineError(f"pause until {from_ms(until_ms)}: that is not in the future")
        text = "paused" + (f" until {from_ms(until_ms):%Y-%m-%d %H:%M:%S} UTC" if until_ms else "")
        text += f" by {who()}" + (f": {reason}" if reason else "")
        event = Event(now, "info", "scheduled.changed", text, None, job.uuid)
        changes = {"paused": True, "paused_until_ms": until_ms, "pause_reason": reason}
        self._update(job, changes, event)

    def _resume(self, job: ScheduledJob) -> None:
        now = to_ms(self.clock.now())
        event = Event(now, "info", "scheduled.changed", f"resumed by {who()}", None, job.uuid)
        changes = {"paused": False, "paused_until_ms": None, "pause_reason": "", "due_from_ms": now}
        self._update(job, changes, event)

    def _update(self, job: ScheduledJob, changes: dict[str, Any], event: Event) -> None:
        changes["changed_ms"] = event.at_ms
        found = self.store.scheduled.update(job.uuid, changes, [event])
        if found is None:
            raise JobEngineError(f"scheduled job {job.uuid} no longer exists")
        job._load(found)
        self._changed()

    def _changed(self) -> None:
        self.engine.announcer.scheduled()

    # -- registry sync --------------------------------------------------------------------

    def sync(self, registry: Registry) -> tuple[list[str], list[str]]:
        """Create the predefined jobs the store lacks, retire those the registry dropped.

        Returns:
            The names created and the names retired.
        """
        items = [
            SyncItem(
                metadata=m.name,
                method=m.method,
                description=m.description,
                key=m.key,
                use=m.use,
                schedule=codec.dumps(m.schedule.to_dict()),
                restart_count=m.restart.count,
                restart_interval=m.restart.interval,
            )
            for m in registry.jobs.values()
            if m.predefined
        ]
        now = to_ms(self.clock.now())
        created, retired = self.store.scheduled.sync(items, now, lambda: str(uuidlib.uuid4()))
        if created or retired:
            self._changed()
        return created, retired


def check_methods(registry: Registry, allowed_modules: Sequence[str] | None) -> None:
    """Every registry method imports and takes the job's params.

    Raises:
        RegistryError: naming the file, line and field.
    """
    for meta in registry.jobs.values():
        try:
            func = resolve(meta.method, allowed_modules)
        except JobEngineError as exc:
            raise RegistryError(
                str(exc), file=meta.file, line=meta.line, field=f"{meta.name}.method"
            ) from exc
        try:
            check_arguments(meta.method, func, list(meta.params), {})
        except JobEngineError as exc:
            field = f"{meta.name}.params" if meta.params else f"{meta.name}.method"
            raise RegistryError(str(exc), file=meta.file, line=meta.line, field=field) from exc


def _check_fields(job: ScheduledJob) -> None:
    for name in ("description", "key", "user_name"):
        if not isinstance(getattr(job, name), str):
            raise JobEngineError(f"{name} must be a string, not {getattr(job, name)!r}")
    if not isinstance(job.use, bool):
        raise JobEngineError(f"use must be True or False, not {job.use!r}")
    for name in ("restart_count", "restart_interval"):
        value = getattr(job, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise JobEngineError(f"{name} must be a whole number >= 0, not {value!r}")
    if job.predefined and job._params:
        raise JobEngineError("a predefined job takes no params")


def _took(last: LastRun | None, now_ms: int) -> timedelta | None:
    """How long a run took, or has been running (a clock set back counts no time)."""
    if last is None or last.started_ms is None:
        return None
    end = last.end_ms if last.end_ms is not None else now_ms
    return timedelta(milliseconds=max(0, end - last.started_ms))


def is_uuid(text: str) -> bool:
    """Whether `text` spells a uuid (how a person names a job by its id)."""
    try:
        uuidlib.UUID(text)
    except ValueError:
        return False
    return True
