"""Plain values the store hands out and takes in; no peewee objects leave the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class JobRecord:
    """A snapshot of one background job row."""

    uuid: str
    method: str
    key: str
    key_held: bool
    description: str
    state: str
    queue: str
    priority: int
    args: str
    kwargs: str
    begin_ms: int
    run_after_ms: int
    claimed_by: str | None
    started_ms: int | None
    end_ms: int | None
    attempt: int
    retry: str | None
    timeout_s: float | None
    result: str | None
    error_type: str | None
    error_message: str | None
    error_traceback: str | None
    progress_percent: float | None
    progress_text: str | None
    cancel_requested: bool
    scheduled_job: str | None
    parent: str | None
    host: str
    pid: int | None
    attempts: str | None = None  # JSON list of the attempts that ended; None: none recorded


class NewJob(NamedTuple):
    """What `execute` asks the store to insert.

    A named tuple, not a dataclass: a batch builds one per job, and a frozen dataclass's
    __init__ costs several times a tuple's; the tuple is also the head of the row inserted.
    """

    uuid: str
    method: str
    args: str
    kwargs: str
    begin_ms: int
    run_after_ms: int
    key: str = ""
    description: str = ""
    queue: str = "default"
    priority: int = 0
    retry: str | None = None
    timeout_s: float | None = None
    scheduled_job: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Finish:
    """A final outcome to record. `retry_delay_s` set: the job asked for another attempt."""

    uuid: str
    state: str
    end_ms: int
    result: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    retry_delay_s: float | None = None
    holds_resources: bool = True  # the job may hold resource locks (False: it never asked)
    # The job as claimed held no key, was on its first attempt and ran for no scheduled job:
    # a completion is then one conditional UPDATE (the store checks all of it again).
    is_plain: bool = False

    @classmethod
    def canceled_before_start(cls, uuid: str, end_ms: int) -> Finish:
        return cls(
            uuid,
            "CANCELED",
            end_ms,
            error_type="JobCanceled",
            error_message="canceled before it started",
            holds_resources=False,
        )


@dataclass
class Batch:
    """Worker reports gathered by the dispatcher, written in one transaction."""

    started: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # uuid: (ms, host, pid)
    progress: dict[str, tuple[float, str]] = field(default_factory=dict)  # latest per job
    messages: list[tuple[str, int, str]] = field(default_factory=list)  # (uuid, ms, text)
    finishes: list[Finish] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.progress or self.messages or self.finishes)


@dataclass(frozen=True)
class Recorded:
    """What a batch write changed: jobs that ended, jobs sent back for another attempt."""

    ended: list[str]
    retried: list[str]
    retry_at_ms: int | None = None  # the earliest time a retried job may run again
    handed: frozenset[str] = frozenset()  # jobs marked as given to workers (see JobStore.hand)


@dataclass(frozen=True)
class ScheduledRecord:
    """A snapshot of one scheduled job row; `schedule` and `params` are JSON text."""

    uuid: str
    metadata: str
    method: str
    predefined: bool
    description: str
    key: str
    use: bool
    schedule: str
    params: str
    user_name: str
    restart_count: int
    restart_interval: int
    paused: bool
    paused_until_ms: int | None
    pause_reason: str
    due_from_ms: int
    last_begin_ms: int | None
    last_end_ms: int | None
    sched_job: str | None
    last_job: str | None
    created_ms: int
    changed_ms: int
    revision: int
    origin: str


@dataclass(frozen=True)
class RunState:
    """What a scheduler pass needs of a scheduled job's last scheduler run."""

    state: str | None  # None: no such run, or retention removed it
    end_ms: int | None
    attempt: int


@dataclass(frozen=True)
class LastRun:
    """What a listing shows of a scheduled job's last run of any kind."""

    state: str
    started_ms: int | None  # None: not started yet (waiting, or canceled before it started)
    end_ms: int | None


@dataclass(frozen=True)
class OccurrenceRecord:
    """A due occurrence and the decision taken for it."""

    scheduled_job: str
    nominal_ms: int
    decision: str
    job: str | None
    at_ms: int
    host: str


@dataclass(frozen=True)
class Event:
    """One event of the log."""

    at_ms: int
    level: str
    event: str
    message: str = ""
    job: str | None = None
    scheduled_job: str | None = None
    host: str = ""
