"""Plain data crossing the pool boundary: what a worker is asked to run and what it reports."""

from __future__ import annotations

from dataclasses import dataclass

from jobengine.errors import ErrorInfo
from jobengine.state import JobState


@dataclass(frozen=True)
class JobSpec:
    """One background job for a worker process; all payloads are tagged-JSON text."""

    uuid: str
    method: str  # "pkg.module:function"
    args: str = "[]"  # tagged JSON of the positional arguments list
    kwargs: str = "{}"  # tagged JSON of the keyword arguments dict
    attempt: int = 1
    timeout_s: float | None = None  # longest run; past it the pool kills the worker
    db_url: str = ""  # store URL, so current_job().engine can launch child jobs


@dataclass(frozen=True)
class JobStarted:
    uuid: str
    pid: int
    at: float  # epoch seconds


@dataclass(frozen=True)
class JobProgress:
    uuid: str
    percent: float
    text: str
    at: float


@dataclass(frozen=True)
class JobMessage:
    uuid: str
    text: str
    at: float


@dataclass(frozen=True)
class JobFinished:
    """Final outcome. `result` is tagged-JSON text when COMPLETED."""

    uuid: str
    state: JobState
    at: float
    result: str | None = None
    error: ErrorInfo | None = None
    retry_delay_s: float | None = None  # set when the job raised RetryLater
    # whether the job may hold resource locks to release; unknown (a dead worker) counts as yes
    holds_resources: bool = True


@dataclass(frozen=True)
class JobReturned:
    """A job the pool had queued in a worker came back unstarted; run it elsewhere.

    The worker gave it back (the job ahead of it lends its slot, or the pool is stopping) or the
    worker died before it started. Nothing of it ran.
    """

    uuid: str


PoolEvent = JobStarted | JobProgress | JobMessage | JobFinished | JobReturned
