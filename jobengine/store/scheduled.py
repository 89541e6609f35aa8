"""Store verbs for scheduled jobs: rows, the registry sync, the lock and the scheduler's pass.

A scheduler pass decides, for each due scheduled job, inside one write transaction that
first locks the job's row (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) and re-reads
its state. What it decides is written in that transaction: the occurrence row (unique on the
job and its nominal instant), the background job it starts, the job's new state and the
events. So two engines, whatever their clocks say, never start one occurrence twice.

Every change of a scheduled job takes the next value of one revision counter, in its
transaction; schedulers re-read only the rows changed since the revision they last saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

import peewee

from jobengine.errors import JobEngineError, JobKeyConflict, StoreError
from jobengine.store import revision
from jobengine.store.db import immediate, is_sqlite, translate_errors
from jobengine.store.eventlog import HOST, purge_older, write_events
from jobengine.store.jobs import JobStore
from jobengine.store.match import words_condition
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.models import OccurrenceRow as O
from jobengine.store.models import ScheduledJobRow as S
from jobengine.store.models import SettingRow as Setting
from jobengine.store.records import (
    Event,
    LastRun,
    NewJob,
    OccurrenceRecord,
    RunState,
    ScheduledRecord,
)

LOCK = "scheduled_lock"
_FIELDS = [f.name for f in fields(ScheduledRecord)]
_COLUMNS = [getattr(S, name) for name in _FIELDS]
_BOOLS = [i for i, f in enumerate(fields(ScheduledRecord)) if f.type in ("bool", bool)]
EDITABLE = {
    "description",
    "key",
    "use",
    "schedule",
    "params",
    "user_name",
    "restart_count",
    "restart_interval",
    "paused",
    "paused_until_ms",
    "pause_reason",
    "due_from_ms",
}
_FILTERS = {"uuid", "key", "metadata", "predefined", "use", "description"}


def _record(row: Sequence[Any]) -> ScheduledRecord:
    values = list(row)
    for i in _BOOLS:
        values[i] = bool(values[i])
    return ScheduledRecord(*values)


@dataclass
class PassOutcome:
    """What a scheduler pass decided for one scheduled job, for the store to write."""

    uuid: str
    at_ms: int  # when the pass decided
    decision: str | None = None  # occurrence decision for `nominal_ms`; None: no occurrence
    nominal_ms: int | None = None
    job: NewJob | None = None  # a run to start (a scheduled start or a restart)
    attempt: int = 1
    restart: bool = False  # the run is a restart: the schedule's own last start stays
    missed: list[int] = field(default_factory=list)  # nominal instants missed before this one
    due_from_ms: int | None = None
    events: list[Event] = field(default_factory=list)
    started: str | None = None  # set by the store: the uuid of the run it started
    wake_ms: int | None = None  # when the scheduler should look at the job again
    before: str | None = None  # the decision already recorded for `nominal_ms`, if any

    def writes(self) -> bool:
        return (
            bool(self.decision or self.job or self.missed or self.events)
            or self.due_from_ms is not None
        )


@dataclass(frozen=True)
class PassInput:
    """One scheduled job as the pass sees it, re-read under its row lock."""

    record: ScheduledRecord
    run: RunState | None  # its last scheduler run
    active: bool  # some run of it (scheduled, restart or manual) is ACTIVE
    locked: bool  # the scheduled-jobs lock is on


Decide = Callable[[PassInput, Callable[[int, int], dict[int, str]]], PassOutcome | None]


@dataclass(frozen=True)
class SyncItem:
    """A predefined job as the registry declares it (initial values for a new row)."""

    metadata: str
    method: str
    description: str
    key: str
    use: bool
    schedule: str
    restart_count: int
    restart_interval: int


_SYNCED = ("description", "key", "use", "schedule", "restart_count", "restart_interval")


def _origin(item: SyncItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in _SYNCED}


def _carried(rec: ScheduledRecord, item: SyncItem, now_ms: int) -> dict[str, Any]:
    """The changes a sync makes to an existing predefined row."""
    old = json.loads(rec.origin or "{}")
    new = _origin(item)
    changes: dict[str, Any] = {}
    for name in _SYNCED:
        # a field still at the registry's last value was never edited: it follows the YAML
        if name in old and old[name] != new[name] and getattr(rec, name) == old[name]:
            changes[name] = new[name]
    if changes.keys() & {"use", "schedule"}:
        changes["due_from_ms"] = now_ms  # checked afresh from now, like an edit
    if changes:
        changes["changed_ms"] = now_ms
    if old != new:
        changes["origin"] = json.dumps(new)
    if item.method != rec.method:
        changes["method"] = item.method
    return changes


def _new_row(item: SyncItem, uuid: str, now_ms: int, revision: int) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "metadata": item.metadata,
        "method": item.method,
        "predefined": True,
        "description": item.description,
        "key": item.key,
        "use": item.use,
        "schedule": item.schedule,
        "params": "[]",
        "user_name": "",
        "restart_count": item.restart_count,
        "restart_interval": item.restart_interval,
        "due_from_ms": now_ms,
        "created_ms": now_ms,
        "changed_ms": now_ms,
        "revision": revision,
        "origin": json.dumps(_origin(item)),
    }


@translate_errors
class ScheduledStore:
    """Scheduled-job verbs over one peewee database."""

    def __init__(self, db: peewee.Database, jobs: JobStore) -> None:
        self.db = db
        self.jobs = jobs
        self._sqlite = is_sqlite(db)

    # -- revision -------------------------------------------------------------------------

    def revision(self) -> int:
        return revision.current(self.db)

    def _bump(self) -> int:
        return revision.bump(self.db)

    # -- rows -----------------------------------------------------------------------------

    def insert(self, values: dict[str, Any], events: Sequence[Event] = ()) -> ScheduledRecord:
        with immediate(self.db):
            values = dict(values, revision=self._bump())
            S.insert(**values).execute(self.db)
            write_events(self.db, events)
        found = self.find(values["uuid"])
        assert found is not None
        return found

    def insert_many(self, rows: Sequence[dict[str, Any]], events: Sequence[Event] = ()) -> int:
        """Insert many rows (each as for `insert`; absent columns take their defaults) in one
        transaction under one revision, for bulk loads and imports; the rows are not read
        back. Returns how many were inserted."""
        if not rows:
            return 0
        names = [n for n in _FIELDS if n != "revision"]
        unknown = set().union(*rows) - set(names)
        if unknown:
            raise StoreError(f"unknown columns: {', '.join(sorted(unknown))}")
        meta = S._meta.fields
        defaults = {n: meta[n].default for n in names}
        p = self.db.param
        columns = ", ".join('"' + n + '"' for n in names)
        sql = (
            f"INSERT INTO scheduled_job ({columns}, revision) "
            f"VALUES ({', '.join([p] * (len(names) + 1))})"
        )
        with immediate(self.db):
            revision = self._bump()
            values = [(*(r.get(n, defaults[n]) for n in names), revision) for r in rows]
            cursor = self.db.cursor()
            for i in range(0, len(values), 5000):
                cursor.executemany(sql, values[i : i + 5000])
            write_events(self.db, events)
        return len(rows)

    def update(
        self, uuid: str, changes: dict[str, Any], events: Sequence[Event] = ()
    ) -> ScheduledRecord | None:
        """Write `changes` (editable fields only) and `events`; None if the job is gone."""
        bad = set(changes) - EDITABLE - {"changed_ms"}
        if bad:
            raise StoreError(f"not editable: {', '.join(sorted(bad))}")
        with immediate(self.db):
            n = S.update(**changes, revision=self._bump()).where(S.uuid == uuid).execute(self.db)
            if n:
                write_events(self.db, events)
        return self.find(uuid) if n else None

    def delete(self, uuid: str, events: Sequence[Event] = ()) -> bool:
        with immediate(self.db):
            self._bump()  # first, as every writer does (one lock order: no deadlock)
            n = S.delete().where(S.uuid == uuid).execute(self.db)
            if n:
                O.delete().where(O.scheduled_job == uuid).execute(self.db)
                write_events(self.db, events)
        return bool(n)

    def find(self, uuid: str) -> ScheduledRecord | None:
        rows = S.select(*_COLUMNS).where(S.uuid == uuid).tuples().execute(self.db)
        return next((_record(r) for r in rows), None)

    def select(self, *, limit: int | None = None, **filters: Any) -> list[ScheduledRecord]:
        """Rows matching every given filter (None = any), by metadata name then creation;
        the first `limit` of them when given."""
        query = S.select(*_COLUMNS)
        for name, value in filters.items():
            if name not in _FILTERS:
                raise StoreError(f"unknown filter {name!r}; known: {', '.join(sorted(_FILTERS))}")
            if value is not None:
                query = query.where(getattr(S, name) == value)
        query = query.order_by(S.metadata, S.created_ms, S.uuid)
        if limit is not None:
            query = query.limit(limit)
        return [_record(r) for r in query.tuples().execute(self.db)]

    def overview(
        self, *, text: str | None = None, limit: int = 500, offset: int = 0
    ) -> list[tuple[ScheduledRecord, RunState | None, LastRun | None]]:
        """One page of rows by name (as `select` orders them) whose name, description, method
        or key contain every word of `text`, each with its last scheduler run's state (None
        when there is none, or retention removed it) and its last run of any kind (state,
        start, end): one read, the runs joined in SQL (a listing makes no query per row)."""
        last, sched = J.alias("last_run"), J.alias("sched_run")
        query = (
            S.select(
                *_COLUMNS,
                last.state,
                last.started_ms,
                last.end_ms,
                sched.state,
                sched.end_ms,
                sched.attempt,
            )
            .join_from(S, last, peewee.JOIN.LEFT_OUTER, on=(last.uuid == S.last_job))
            .join_from(S, sched, peewee.JOIN.LEFT_OUTER, on=(sched.uuid == S.sched_job))
        )
        cond = words_condition([S.metadata, S.description, S.method, S.key], text)
        if cond is not None:
            query = query.where(cond)
        query = query.order_by(S.metadata, S.created_ms, S.uuid).limit(limit).offset(offset)
        out: list[tuple[ScheduledRecord, RunState | None, LastRun | None]] = []
        n = len(_COLUMNS)
        for row in query.tuples().execute(self.db):
            last_state, last_started, last_end, run_state, run_end, run_attempt = row[n:]
            run = RunState(run_state, run_end, run_attempt) if run_state is not None else None
            lr = LastRun(last_state, last_started, last_end) if last_state is not None else None
            out.append((_record(row[:n]), run, lr))
        return out

    def changed_since(self, revision: int) -> list[ScheduledRecord]:
        query = S.select(*_COLUMNS).where(S.revision > revision).order_by(S.revision)
        return [_record(r) for r in query.tuples().execute(self.db)]

    def run_states(self, uuids: Sequence[str]) -> dict[str, tuple[RunState, int]]:
        """The state, end, attempt and begin of the given background jobs (the runs' uuids)."""
        out: dict[str, tuple[RunState, int]] = {}
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            query = J.select(J.uuid, J.state, J.end_ms, J.attempt, J.begin_ms).where(
                J.uuid.in_(chunk)
            )
            for u, state, end, attempt, begin in query.tuples().execute(self.db):
                out[u] = (RunState(state, end, attempt), begin)
        return out

    def active_runs(self, uuids: Sequence[str]) -> dict[str, str]:
        """scheduled job uuid -> the uuid of one ACTIVE run of it, for those that have one."""
        out: dict[str, str] = {}
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            query = J.select(J.scheduled_job, J.uuid).where(
                J.scheduled_job.in_(chunk) & (J.state == "ACTIVE")
            )
            out.update((sj, u) for sj, u in query.tuples().execute(self.db))
        return out

    def occurrences(self, uuid: str, limit: int = 20) -> list[OccurrenceRecord]:
        """The job's latest occurrences, newest first."""
        query = (
            O.select(O.scheduled_job, O.nominal_ms, O.decision, O.job, O.at_ms, O.host)
            .where(O.scheduled_job == uuid)
            .order_by(O.nominal_ms.desc())
            .limit(limit)
        )
        return [OccurrenceRecord(*r) for r in query.tuples().execute(self.db)]

    def purge_occurrences(self, before_ms: int) -> int:
        """Remove occurrences decided before `before_ms`; returns how many."""
        return purge_older(self.db, O, before_ms)

    # -- the lock -------------------------------------------------------------------------

    def lock_info(self) -> dict[str, Any] | None:
        """Who set the scheduled-jobs lock and when ({"by", "at_ms"}), or None when off."""
        rows = Setting.select(Setting.value).where(Setting.name == LOCK).tuples().execute(self.db)
        for (value,) in rows:
            info = json.loads(value)
            return info if isinstance(info, dict) else {"by": "", "at_ms": 0}
        return None

    def set_lock(self, on: bool, by: str, now_ms: int, events: Sequence[Event] = ()) -> bool:
        """Turn the lock on or off; returns whether it changed."""
        with immediate(self.db):
            revision = self._bump()
            was = self.lock_info() is not None
            if on == was:
                return False
            if on:
                value = json.dumps({"by": by, "at_ms": now_ms})
                Setting.insert(name=LOCK, value=value).execute(self.db)
            else:
                Setting.delete().where(Setting.name == LOCK).execute(self.db)
            # every scheduled job's decision depends on it: touch them all
            S.update(revision=revision).execute(self.db)
            write_events(self.db, events)
        return True

    # -- registry sync --------------------------------------------------------------------

    def sync(
        self, items: Sequence[SyncItem], now_ms: int, new_uuid: Callable[[], str]
    ) -> tuple[list[str], list[str]]:
        """Create a row for each predefined job that has none, retire predefined rows whose
        metadata is gone or no longer predefined, and carry registry changes over.

        A field the registry changed (schedule, use, description, key, restart policy) takes
        the new value unless it was edited at run time: a run-time edit wins over the YAML,
        which only gives initial values. The method always follows the registry.

        Returns:
            The names created and the names retired.
        """
        wanted = {item.metadata: item for item in items}
        created: list[str] = []
        retired: list[str] = []
        updated: list[str] = []
        with immediate(self.db):
            revision = self._bump()
            have = {
                r.metadata: r
                for r in (
                    _record(row)
                    for row in S.select(*_COLUMNS)
                    .where(S.predefined == True)  # noqa: E712
                    .tuples()
                    .execute(self.db)
                )
            }
            for name, rec in have.items():
                item = wanted.get(name)
                if item is None:
                    S.delete().where(S.uuid == rec.uuid).execute(self.db)
                    O.delete().where(O.scheduled_job == rec.uuid).execute(self.db)
                    retired.append(name)
                    continue
                changes = _carried(rec, item, now_ms)
                if changes:
                    S.update(**changes, revision=revision).where(S.uuid == rec.uuid).execute(
                        self.db
                    )
                    if set(changes) - {"origin", "method"}:
                        updated.append(name)
            rows = []
            for name, item in wanted.items():
                if name in have:
                    continue
                rows.append(_new_row(item, new_uuid(), now_ms, revision))
                created.append(name)
            for i in range(0, len(rows), 500):
                S.insert_many(rows[i : i + 500]).execute(self.db)
            parts = [
                f"{what} {', '.join(sorted(names))}"
                for what, names in (
                    ("created", created),
                    ("updated", updated),
                    ("retired", retired),
                )
                if names
            ]
            if parts:
                write_events(self.db, [Event(now_ms, "info", "registry.synced", "; ".join(parts))])
        return created, retired

    # -- the scheduler's pass -------------------------------------------------------------

    def run_pass(self, uuids: Sequence[str], decide: Decide) -> list[PassOutcome]:
        """Decide and write, in one transaction, for the scheduled jobs `uuids`.

        `decide` sees each job re-read under its row lock and a lookup of the decisions
        already recorded for its occurrences in a range of nominal instants; what it returns
        is written before the transaction commits. Jobs deleted meanwhile are skipped.
        """
        out: list[PassOutcome] = []
        with immediate(self.db):
            # The revision first, as every writer of scheduled jobs and every finish of a
            # scheduled run takes it: one lock order, so PostgreSQL never deadlocks them.
            revision = self._bump()
            query = S.select(*_COLUMNS).where(S.uuid.in_(sorted(uuids))).order_by(S.uuid)
            if not self._sqlite:
                query = query.for_update()
            records = [_record(r) for r in query.tuples().execute(self.db)]
            if not records:
                return out
            locked = self.lock_info() is not None
            runs = self.run_states([r.sched_job for r in records if r.sched_job])
            active = self.active_runs([r.uuid for r in records])
            for rec in records:
                run = runs.get(rec.sched_job or "")
                inp = PassInput(rec, run[0] if run else None, rec.uuid in active, locked)
                outcome = decide(inp, partial(self._decided, rec.uuid))
                if outcome is None:
                    continue
                if outcome.writes():
                    self._apply(rec, outcome, revision)
                out.append(outcome)
        return out

    def _decided(self, uuid: str, lo_ms: int, hi_ms: int) -> dict[int, str]:
        query = O.select(O.nominal_ms, O.decision).where(
            (O.scheduled_job == uuid) & (O.nominal_ms >= lo_ms) & (O.nominal_ms <= hi_ms)
        )
        return dict(query.tuples().execute(self.db))

    def _apply(self, rec: ScheduledRecord, out: PassOutcome, revision: int) -> None:
        """Write one outcome."""
        changes: dict[str, Any] = {}
        if out.job is not None:
            changes = self._insert_run(out)
            if out.job is None and not out.writes():
                return
        if out.due_from_ms is not None:
            changes["due_from_ms"] = out.due_from_ms
        S.update(**changes, revision=revision).where(S.uuid == rec.uuid).execute(self.db)
        if out.missed:
            rows = [(rec.uuid, n, "missed", None, out.at_ms, HOST) for n in out.missed]
            self._upsert(rows, overwrite=False)
        if out.decision is not None and out.nominal_ms is not None:
            self._upsert(
                [(rec.uuid, out.nominal_ms, out.decision, out.started, out.at_ms, HOST)],
                overwrite=True,
            )
        write_events(self.db, out.events)

    def _insert_run(self, out: PassOutcome) -> dict[str, Any]:
        """Start the outcome's run, unless its key is held (then the occurrence is
        skipped_key); returns the scheduled job's changes."""
        job = out.job
        assert job is not None
        ((_, inserted),) = self.jobs.insert_many([job], "skip")
        if not inserted:
            if out.decision == "started":
                out.decision = "skipped_key"
            out.events = [e for e in out.events if e.event != "job.started"]
            out.job = None
            if out.before == out.decision:
                out.decision = None  # recorded already: nothing new to write
            return {}
        out.started = job.uuid
        if out.attempt != 1:
            J.update(attempt=out.attempt).where(J.uuid == job.uuid).execute(self.db)
        changes: dict[str, Any] = {"sched_job": job.uuid, "last_job": job.uuid}
        if not out.restart:
            changes.update(last_begin_ms=job.begin_ms, last_end_ms=None)
        return changes

    def _upsert(self, rows: Sequence[tuple[Any, ...]], *, overwrite: bool) -> None:
        p = self.db.param
        action = (
            "DO UPDATE SET decision = excluded.decision, job = excluded.job, "
            "at_ms = excluded.at_ms, host = excluded.host WHERE occurrence.decision <> 'started'"
            if overwrite
            else "DO NOTHING"
        )
        sql = (
            "INSERT INTO occurrence (scheduled_job, nominal_ms, decision, job, at_ms, host) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (scheduled_job, nominal_ms) "
            + action
        )
        for row in rows:
            self.db.execute_sql(sql, row)

    # -- runs -----------------------------------------------------------------------------

    def start_manual(self, uuid: str, job: NewJob, events: Sequence[Event]) -> None:
        """Start a manual run of scheduled job `uuid`: linked as its last job, leaving the
        schedule's own last start alone.

        Raises:
            JobKeyConflict: a run of it is active, or its key is held.
        """
        with immediate(self.db):
            revision = self._bump()
            query = S.select(S.uuid).where(S.uuid == uuid)
            if not self._sqlite:
                query = query.for_update()
            if not list(query.tuples().execute(self.db)):
                raise JobEngineError(f"scheduled job {uuid} no longer exists")
            active = self.active_runs([uuid])
            if active:
                raise JobKeyConflict(job.method, job.key, active[uuid])
            self.jobs.insert_many([job], "error")
            S.update(last_job=job.uuid, revision=revision).where(S.uuid == uuid).execute(self.db)
            write_events(self.db, events)
