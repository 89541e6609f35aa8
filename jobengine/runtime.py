"""What a running job sees: `current_job()` with progress, messages, cancel flag and child jobs.

The worker process installs one `RunningJob` while a job runs; everything here is a no-op or an
error outside a worker.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from jobengine.errors import JobEngineError
from jobengine.limits import DEFAULT_LIMITS, Limits, clip

if TYPE_CHECKING:
    from jobengine.engine import Engine


class Channel(Protocol):
    """The worker's side of the pipe to the pool, as a running job uses it."""

    def send(self, message: tuple[Any, ...]) -> None:
        """Send one message to the parent; safe to call from any thread of the job."""

    def is_cancel_requested(self) -> bool:
        """Return True once the parent has asked the current job to stop."""

    def set_lending(self, uuid: str, is_lent: bool) -> None:
        """Tell the parent the job started (`is_lent`) or stopped lending its slot.

        While it lends, the jobs queued behind it in this worker go back to the pool.
        """


# One job runs at a time in a worker process, and a job's own threads must see it too, so this is
# a process-wide slot (a ContextVar would not reach threads the job starts).
_current: RunningJob | None = None
_engines: dict[str, Engine] = {}  # client engines by store URL, reused by the jobs of one worker


class RunningJob:
    """The background job running in this worker process."""

    def __init__(
        self,
        uuid: str,
        *,
        attempt: int,
        method: str,
        db_url: str,
        channel: Channel,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.uuid = uuid
        self.limits = limits
        self.attempt = attempt
        self.method = method
        self.db_url = db_url
        self._channel = channel
        self._lock = threading.Lock()
        self._lending_depth = 0
        # set by engine.resources when the job works with a resource queue: only then does
        # its end have locks to release (saves a statement per finish on the hot path)
        self.holds_resources = False

    def __repr__(self) -> str:
        return f"<RunningJob {self.uuid} {self.method} attempt={self.attempt}>"

    @property
    def cancel_requested(self) -> bool:
        """True once the job was asked to stop (cancel, deadline or engine stop).

        A job that sees it should return or raise `JobCanceled`; either way it ends CANCELED.
        """
        return self._channel.is_cancel_requested()

    def progress(self, percent: float, text: str = "") -> None:
        """Report how far the job has come.

        Raises:
            ValueError: `percent` is not a number from 0 to 100, or `text` is not a string.
        """
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise ValueError(f"progress percent must be a number, got {percent!r}")
        if not math.isfinite(percent) or not 0 <= percent <= 100:
            raise ValueError(f"progress percent must be from 0 to 100, got {percent!r}")
        if not isinstance(text, str):
            raise ValueError(f"progress text must be a string, got {type(text).__name__}")
        text = clip(str(text), self.limits.progress_text_bytes, "progress text")
        self._channel.send(("P", self.uuid, float(percent), text))

    def message(self, text: str) -> None:
        """Leave a user message on the job, readable while it runs and after it ends.

        Raises:
            ValueError: `text` is not a string.
        """
        if not isinstance(text, str):
            raise ValueError(f"message text must be a string, got {type(text).__name__}")
        self._channel.send(("M", self.uuid, clip(str(text), self.limits.message_bytes, "message")))

    @property
    def engine(self) -> Engine:
        """A client `Engine` on this job's store, for launching and waiting on child jobs."""
        if not self.db_url:
            raise JobEngineError(f"job {self.uuid} was started without a store URL")
        engine = _engines.get(self.db_url)
        if engine is None:
            # Imported here: the engine sits above the runtime in the dependency order.
            from jobengine.engine import Engine

            engine = _engines[self.db_url] = Engine(self.db_url, registry=None)
        return engine

    @contextmanager
    def lending_slot(self) -> Iterator[None]:
        """Lend this job's pool slot while it blocks waiting on other jobs; nests.

        Jobs the pool had queued behind this one in the same worker go back to the pool, so a
        child job never waits behind the parent that waits on it.
        """
        with self._lock:
            self._lending_depth += 1
            if self._lending_depth == 1:
                self._channel.set_lending(self.uuid, True)
        try:
            yield
        finally:
            with self._lock:
                self._lending_depth -= 1
                if self._lending_depth == 0:
                    self._channel.set_lending(self.uuid, False)


def running_job() -> RunningJob | None:
    """The background job this code runs in, or None outside one (never raises)."""
    return _current


def current_job() -> RunningJob:
    """Return the background job this code runs in.

    Raises:
        JobEngineError: called outside a running background job.
    """
    job = _current
    if job is None:
        raise JobEngineError(
            "current_job() called outside a running background job "
            "(it works only in code that a jobengine worker process runs)"
        )
    return job


@contextmanager
def lending_slot() -> Iterator[None]:
    """Tell the pool the current job is blocked on other jobs, so its slot may run them.

    Outside a running job this does nothing, so waiting code can always use it.
    """
    job = _current
    if job is None:
        yield
        return
    with job.lending_slot():
        yield


@contextmanager
def activate(job: RunningJob) -> Iterator[RunningJob]:
    """Make `job` the current job for the duration of the block (used by the worker)."""
    global _current
    previous, _current = _current, job
    try:
        yield job
    finally:
        _current = previous
