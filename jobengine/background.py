"""Background jobs from code: execute, query, wait, cancel (1C BackgroundJobs manager)."""

from __future__ import annotations

import json
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from jobengine import codec, runtime
from jobengine.attempts import Attempt, read_attempts
from jobengine.batch import JobBatch
from jobengine.clock import from_ms, to_ms
from jobengine.errors import (
    ErrorInfo,
    JobCanceled,
    JobEngineError,
    JobFailed,
    JobGoneError,
    StoreError,
)
from jobengine.hub import Waiter
from jobengine.launch import (
    Launch,
    check_call,
    check_filters,
    check_flag,
    check_instant,
    check_jobs,
    check_state,
    check_wait_timeout,
)
from jobengine.methods import MethodLike, check_arguments, method_path, resolve
from jobengine.retry import Retry
from jobengine.state import JobState
from jobengine.store import JobRecord, NewJob, new_record, pack
from jobengine.store.newrows import BEGIN, RUN_AFTER, Row

if TYPE_CHECKING:
    from jobengine.engine import Engine

# Waits re-check the store this often even without a wake-up, in case one was lost.
FALLBACK_POLL_S = 1.0


@dataclass(frozen=True)
class Progress:
    """The latest progress a job reported."""

    percent: float
    text: str


@dataclass(frozen=True)
class JobOverview:
    """A background job as a listing shows it: the job and how many user messages it
    emitted (`messages()` reads them)."""

    job: BackgroundJob
    messages: int


class Announcer(Protocol):
    """How a manager tells engines about new jobs and cancel requests (the engine wires it)."""

    def new(self, run_after_ms: int | None) -> None:
        """New jobs may run now (None) or from `run_after_ms`."""

    def cancel(self, uuid: str) -> None:
        """Somebody asked job `uuid` to stop."""


# Held while a staged handle (see BackgroundJob._staged) gets its first snapshot, so the
# snapshot built from the staged job never lands over a newer one another thread applies.
_STAGED_LOCK = threading.Lock()


class BackgroundJob:
    """A snapshot of one background job; `refresh()` re-reads it from the store."""

    # A batch's job whose snapshot is not built yet: most batch handles are never read, and
    # building one cost about as much as checking the job.
    _staged: Row | None = None

    def __init__(self, manager: BackgroundJobs, record: JobRecord) -> None:
        self._manager = manager
        self._fill(record)

    def _apply(self, r: JobRecord) -> None:
        if self._staged is None:
            self._fill(r)
            return
        with _STAGED_LOCK:
            self._fill(r)
            self._staged = None

    if not TYPE_CHECKING:  # to mypy the hook would make every misspelt attribute an Any

        def __getattr__(self, name: str) -> Any:
            # Python asks only for attributes not set: here, a staged handle's snapshot. The
            # attribute is looked up again in any case: another thread may have just set it.
            job = self._staged
            if job is not None and not name.startswith("__"):
                with _STAGED_LOCK:
                    if self._staged is job:  # else another thread applied a snapshot
                        self._fill(new_record(NewJob._make(job), False))
                        self._staged = None
            return object.__getattribute__(self, name)

    def _fill(self, r: JobRecord) -> None:
        # Reads no attribute before setting it: __getattr__ would wait on the lock held here.
        self._record = r
        self.uuid: str = r.uuid
        self.method: str = r.method
        self.key: str = r.key
        self.description: str = r.description
        self.state: JobState = JobState(r.state)
        self.begin: datetime = from_ms(r.begin_ms) or datetime.fromtimestamp(0, UTC)
        self.end: datetime | None = from_ms(r.end_ms)
        self.started: datetime | None = from_ms(r.started_ms)
        self.attempt: int = r.attempt
        self.scheduled_job: str | None = r.scheduled_job
        self.parent: str | None = r.parent
        self.queue: str = r.queue
        self.priority: int = r.priority
        self.location: str = f"{r.host}:{r.pid}" if r.pid else ""
        self.cancel_requested: bool = r.cancel_requested
        self.error: ErrorInfo | None = (
            ErrorInfo(r.error_type, r.error_message or "", r.error_traceback or "")
            if r.error_type and self.state is not JobState.COMPLETED
            else None
        )

    @property
    def args(self) -> list[Any]:
        return list(codec.loads(self._record.args))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(codec.loads(self._record.kwargs))

    @property
    def is_finished(self) -> bool:
        return self.state.is_final

    @property
    def waiting_retry(self) -> bool:
        """Whether an attempt failed and the job waits, still ACTIVE, for its next one (see
        `retry_at`); False once that attempt starts."""
        r = self._record
        return self.state is JobState.ACTIVE and r.started_ms is None and r.attempts is not None

    @property
    def retry_at(self) -> datetime | None:
        """When the next attempt may start, while the job is `waiting_retry`; else None."""
        return from_ms(self._record.run_after_ms) if self.waiting_retry else None

    @property
    def attempts(self) -> list[Attempt]:
        """The attempts that ended, oldest first: each one that failed or was canceled after it
        started, and one that completed after earlier ones. Empty for a job that completed (or
        still runs) on its first attempt. The newest 100 are kept."""
        return read_attempts(self._record.attempts)

    def refresh(self) -> BackgroundJob:
        """Re-read this job from the store; returns self."""
        record = self._manager._store.jobs.find(self.uuid)
        if record is not None:
            self._apply(record)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is finished or `timeout` seconds pass.

        Returns:
            True once the job is COMPLETED, FAILED or CANCELED (the snapshot is refreshed).
        """
        return self._manager.wait([self], timeout)

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return its value.

        Raises:
            TimeoutError: the job did not finish in time.
            JobFailed: it failed (`.error` has the type, message and traceback).
            JobCanceled: it was canceled.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"job {self.uuid} ({self.method}) did not finish in {timeout} s")
        # wait() raised JobGoneError if the job was purged, so the record is the final one.
        if self.state is JobState.FAILED:
            raise JobFailed(self.uuid, self.error)
        if self.state is JobState.CANCELED:
            raise JobCanceled(self.uuid, self._record.error_message or "")
        return codec.loads(self._record.result)

    def messages(self) -> list[str]:
        """User messages the job emitted, oldest first."""
        return [text for _, text in self._manager._store.jobs.messages(self.uuid)]

    def progress(self) -> Progress | None:
        """The latest progress the job reported, or None."""
        r = self.refresh()._record
        if r.progress_percent is None:
            return None
        return Progress(r.progress_percent, r.progress_text or "")

    @property
    def last_progress(self) -> Progress | None:
        """The progress in this snapshot (no store read; `progress()` reads it afresh)."""
        r = self._record
        if r.progress_percent is None:
            return None
        return Progress(r.progress_percent, r.progress_text or "")

    def cancel(self) -> None:
        """Ask the job to stop: it sees `cancel_requested`; past the grace period it is killed."""
        self._manager.cancel(self.uuid)
        self.refresh()

    def __repr__(self) -> str:
        return f"<BackgroundJob {self.uuid} {self.method} {self.state.value}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BackgroundJob) and other.uuid == self.uuid

    def __hash__(self) -> int:
        return hash(self.uuid)


class BackgroundJobs:
    """`engine.background`: launch background jobs, find them, wait on them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._announce = engine.announcer
        self._store = engine.store
        self._functions: dict[str, Callable[..., Any]] = {}  # resolved (and allowed) methods

    def execute(
        self,
        method: MethodLike,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        key: str = "",
        description: str = "",
        on_conflict: str = "error",
        *,
        timeout: float | None = None,
        retry: Retry | None = None,
        priority: int = 0,
        delay: float | None = None,
        run_at: datetime | None = None,
        queue: str = "default",
        scheduled_job: str | None = None,
    ) -> BackgroundJob:
        """Launch `method(*args, **kwargs)` as a background job.

        Raises:
            JobKeyConflict: an active job with this (method, key) exists and
                on_conflict="error".
            MethodError: the method is unknown, not allowed, or the arguments do not fit.
            SerializationError: an argument cannot be stored as JSON.
        """
        launch = Launch(
            key,
            description,
            on_conflict,
            timeout,
            retry,
            priority,
            delay,
            run_at,
            queue,
            scheduled_job,
        )
        new = self._prepare(method, *check_call(args, kwargs), launch)
        record, created = self._insert(new, on_conflict)
        if created:
            delayed = record.run_after_ms > record.begin_ms
            self._announce_new([record.run_after_ms] if delayed else [], 1)
        return BackgroundJob(self, record)

    def batch(self) -> JobBatch:
        """Collect jobs to write in one transaction when the block exits, all or nothing.

        `with engine.background.batch() as batch: batch.execute(...)` takes what `execute`
        takes and returns each job's handle.
        """
        return JobBatch(self)

    def _insert_staged(
        self, jobs: Sequence[Row], modes: Sequence[str], handles: Mapping[int, BackgroundJob]
    ) -> None:
        skipped = self._store.jobs.insert_batch(jobs, modes)
        for i, holder in skipped.items():  # "skip": the handle names the running holder
            handles[i]._apply(holder)
        written = [j for i, j in enumerate(jobs) if i not in skipped] if skipped else jobs
        delayed = [j[RUN_AFTER] for j in written if j[RUN_AFTER] > j[BEGIN]]
        self._announce_new(delayed, len(written))

    def _announce_new(self, delayed: Sequence[int], count: int) -> None:
        """Wake the engines for `count` new jobs, `delayed` the run_after_ms of those not due
        at once: now if any is due now, and at the earliest delayed one's time."""
        if len(delayed) < count:
            self._announce.new(None)
        if delayed:
            self._announce.new(min(delayed))

    def _insert(self, new: NewJob, on_conflict: str) -> tuple[JobRecord, bool]:
        """Insert, trying once more if the store connection broke (a server restart).

        The retry cannot store the job twice: it has the same uuid, and a first attempt that did
        commit is found and returned instead.
        """
        try:
            return self._store.jobs.insert(new, on_conflict)
        except StoreError:
            existing = self._store.jobs.find(new.uuid)  # reconnects; raises if still down
            if existing is not None:
                return existing, True
            return self._store.jobs.insert(new, on_conflict)

    def prepare(
        self, method: str, args: Sequence[Any], *, key: str, description: str, scheduled_job: str
    ) -> NewJob:
        """A checked new run of a scheduled job (method allowed, arguments fit), not written."""
        launch = Launch(
            key, description, "error", None, None, 0, None, None, "default", scheduled_job
        )
        return self._prepare(method, list(args), {}, launch)

    def wrap(self, record: JobRecord) -> BackgroundJob:
        return BackgroundJob(self, record)

    def _prepare(
        self, method: MethodLike, args: list[Any], kwargs: dict[str, Any], launch: Launch
    ) -> NewJob:
        """Check everything `execute` may refuse, before anything is written."""
        launch.check()
        path = method_path(method)
        func = self._function(path)
        check_arguments(path, func, args, kwargs)
        now_ms = to_ms(self._engine.clock.now())
        return NewJob(
            uuid=str(uuidlib.uuid4()),
            method=path,
            args=codec.dumps(args, what="args"),
            kwargs=codec.dumps(kwargs, what="kwargs") if kwargs else "{}",
            begin_ms=now_ms,
            run_after_ms=launch.run_after_ms(now_ms),
            key=launch.key,
            description=launch.description,
            queue=launch.queue,
            priority=int(launch.priority),
            retry=json.dumps(launch.retry.__dict__) if launch.retry is not None else None,
            timeout_s=launch.timeout,
            scheduled_job=launch.scheduled_job,
            parent=_current_job_uuid(),
        )

    def _function(self, path: str) -> Callable[..., Any]:
        """The allowed function at `path`, imported once per manager."""
        func = self._functions.get(path)
        if func is None:
            func = self._functions[path] = resolve(path, self._engine.allowed_modules)
        return func

    def get(
        self,
        *,
        uuid: str | None = None,
        state: JobState | str | None = None,
        key: str | None = None,
        method: MethodLike | None = None,
        description: str | None = None,
        scheduled_job: Any = None,
        begin_after: datetime | None = None,
        begin_before: datetime | None = None,
        end_before: datetime | None = None,
        queue: str | None = None,
        waiting_retry: bool | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[BackgroundJob]:
        """Jobs matching every given filter, oldest first (1C GetBackgroundJobs); at most
        `limit` of them after skipping `offset`, the newest ones first with `newest_first`.
        `text` keeps the jobs whose state, description, method, key, queue, host or error
        message contain each of its words (any case).

        `waiting_retry=True` gives the ACTIVE jobs waiting for their next attempt after a
        failed one (`BackgroundJob.waiting_retry`); False leaves them out."""
        records = self._store.jobs.select(
            **_filters(
                uuid=uuid,
                state=state,
                key=key,
                method=method,
                description=description,
                scheduled_job=scheduled_job,
                begin_after=begin_after,
                begin_before=begin_before,
                end_before=end_before,
                queue=queue,
                waiting_retry=waiting_retry,
                text=text,
                limit=limit,
                offset=offset,
                newest_first=newest_first,
            )
        )
        return [BackgroundJob(self, r) for r in records]

    def overview(self, **filters: Any) -> list[JobOverview]:
        """The jobs `get(**filters)` gives (the same filters, the same order), each with how
        many user messages it emitted, in one store read whatever the page's size."""
        found = self._store.jobs.select_counted(**_filters(**filters))
        return [JobOverview(BackgroundJob(self, r), n) for r, n in found]

    def find(self, uuid: str | uuidlib.UUID) -> BackgroundJob | None:
        """The job with this uuid, or None."""
        record = self._store.jobs.find(str(uuid))
        return BackgroundJob(self, record) if record is not None else None

    def counts(self) -> dict[JobState, int]:
        """How many jobs the store keeps in each state (every state present, 0 for none)."""
        found = self._store.jobs.count_by_state()
        return {s: found.get(s.value, 0) for s in JobState}

    def count_due(self, queues: Sequence[str] | None = None) -> int:
        """How many jobs of `queues` (None: every queue) are due now and free to start: not
        claimed, not delayed or waiting for a retry, not queued behind a running job's key."""
        return self._store.jobs.count_due(to_ms(self._engine.clock.now()), queues)

    def delete(self, jobs: Iterable[BackgroundJob | str], *, unstarted: bool = False) -> list[str]:
        """Remove finished jobs (and their messages) before retention would; ACTIVE ones are
        left alone (cancel them first). With `unstarted`, ACTIVE jobs no engine has taken yet
        go too: waiting to start, delayed, or waiting for a retry (InstantCMS's delete); a
        running one never does. Waiting on a removed job raises JobGoneError.

        Returns:
            The uuids removed.
        """
        uuids = [j.uuid if isinstance(j, BackgroundJob) else j for j in jobs]
        for u in uuids:
            check_filters({"uuid": u})
        removed = self._store.jobs.delete_finished(uuids, unclaimed=unstarted)
        if unstarted and removed:
            self._engine.hub.ended(removed)  # their waiters learn they are gone
            self._store.notifier.publish(pack("d", removed))
            self._announce.new(None)  # a removed key holder's key passed to the next job
        return removed

    def restart(self, job: BackgroundJob | str, on_conflict: str = "error") -> BackgroundJob:
        """Execute a FAILED or CANCELED job again, as a new job with the same method,
        arguments, key, description, queue, priority, retry policy and timeout (InstantCMS's
        restart). The old job stays as it is.

        Raises:
            JobEngineError: no such job, or it is not FAILED or CANCELED.
            JobKeyConflict: as `execute` (another active job holds the key).
        """
        old = self.find(job.uuid if isinstance(job, BackgroundJob) else job)
        if old is None:
            raise JobEngineError(f"no background job {job}")
        if old.state not in (JobState.FAILED, JobState.CANCELED):
            raise JobEngineError(
                f"job {old.uuid} is {old.state.value}: only a FAILED or CANCELED job restarts"
            )
        r = old._record
        return self.execute(
            r.method,
            old.args,
            old.kwargs,
            key=r.key,
            description=r.description,
            on_conflict=on_conflict,
            timeout=r.timeout_s,
            retry=Retry(**json.loads(r.retry)) if r.retry else None,
            priority=r.priority,
            queue=r.queue,
        )

    def cancel(self, uuid: str) -> None:
        """Ask a job to stop (see BackgroundJob.cancel)."""
        record = self._store.jobs.request_cancel(uuid, to_ms(self._engine.clock.now()))
        if record is None:
            raise JobEngineError(f"no background job {uuid}")
        if record.state != JobState.ACTIVE:
            self._engine.hub.ended([uuid])
            self._store.notifier.publish(pack("d", [uuid]))
        else:
            self._announce.cancel(uuid)

    def wait(self, jobs: Iterable[BackgroundJob], timeout: float | None = None) -> bool:
        """Block until every job is finished or `timeout` passes; never raises on timeout.

        `timeout` is seconds (None or inf: no limit); nan and negative values are refused.

        Returns:
            True if all finished. The given job objects are refreshed either way.

        Raises:
            JobGoneError: a job is no longer in the store (retention purged it).
        """
        jobs = list(jobs)
        check_jobs(jobs, BackgroundJob)
        timeout = check_wait_timeout(timeout)
        seen: dict[str, JobRecord] = {}
        with runtime.lending_slot():
            pending = [j.uuid for j in jobs if not j.state.is_final]
            done = self._wait_uuids(pending, timeout, seen)
        unread = [j.uuid for j in jobs if j.uuid not in seen]
        by_uuid = {**seen, **{r.uuid: r for r in self._store.jobs.find_many(unread)}}
        for job in jobs:
            if job.uuid not in by_uuid:
                raise JobGoneError(job.uuid, job.method)
            job._apply(by_uuid[job.uuid])
        return done

    def _wait_uuids(
        self, uuids: list[str], timeout: float | None, seen: dict[str, JobRecord]
    ) -> bool:
        """Wait until none of `uuids` is ACTIVE in the store; `seen` gets the finished jobs'
        records as read, so the caller need not read them again.

        A wake-up is only a hint to look again: the jobs it names are read from the store (one
        query per wake-up) before they count as finished, so a forged or stale notification
        ends no wait. The slow fallback poll reads every pending job.
        """
        pending = set(uuids)
        if not pending:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter = Waiter()
        hub = self._engine.hub
        hub.watch(pending, waiter)
        try:
            look = set(pending)
            while True:
                look |= waiter.take() & pending
                if look:
                    pending -= self._ended(look, seen)
                if not pending:
                    return True
                left = FALLBACK_POLL_S if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return False
                woken = waiter.event.wait(min(left, FALLBACK_POLL_S))
                look = set() if woken else set(pending)
        finally:
            hub.unwatch(uuids, waiter)

    def _ended(self, uuids: set[str], seen: dict[str, JobRecord]) -> set[str]:
        """Which of `uuids` are no longer ACTIVE. A few are read whole (the caller's next read
        saved: one query for a lone job's wait); many, by state only (thousands waited on)."""
        if len(uuids) > 64:
            states = self._store.jobs.states(sorted(uuids))
            return {u for u in uuids if states.get(u) != JobState.ACTIVE}
        read = {r.uuid: r for r in self._store.jobs.find_many(sorted(uuids))}
        ended = {u for u in uuids if u not in read or read[u].state != JobState.ACTIVE}
        seen.update((u, read[u]) for u in ended if u in read)
        return ended


def _filters(
    *,
    uuid: str | None = None,
    state: JobState | str | None = None,
    key: str | None = None,
    method: MethodLike | None = None,
    description: str | None = None,
    scheduled_job: Any = None,
    begin_after: datetime | None = None,
    begin_before: datetime | None = None,
    end_before: datetime | None = None,
    queue: str | None = None,
    waiting_retry: bool | None = None,
    text: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> dict[str, Any]:
    """`get`'s filters checked and put as the store's listing verbs take them.

    Raises:
        JobEngineError: a filter of the wrong kind (TypeError: one `get` does not take).
    """
    check_filters(
        {
            "uuid": uuid,
            "key": key,
            "description": description,
            "queue": queue,
            "text": text,
            "limit": limit,
            "offset": offset,
        }
    )
    sj = getattr(scheduled_job, "uuid", scheduled_job)
    return {
        "uuid": uuid,
        "state": check_state(state) if state is not None else None,
        "key": key,
        "method": method_path(method) if method is not None else None,
        "description": description,
        "scheduled_job": str(sj) if sj is not None else None,
        "queue": queue,
        "waiting_retry": check_flag("waiting_retry", waiting_retry),
        "begin_after_ms": check_instant("begin_after", begin_after),
        "begin_before_ms": check_instant("begin_before", begin_before),
        "end_before_ms": check_instant("end_before", end_before),
        "text": text,
        "limit": limit,
        "offset": offset,
        "newest_first": newest_first,
    }


def _current_job_uuid() -> str | None:
    """The uuid of the job this code runs in (a child job's parent), or None."""
    job = runtime.running_job()
    return job.uuid if job is not None else None
