"""Many background jobs in one transaction: `with engine.background.batch() as batch: ...`."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from jobengine.errors import JobEngineError
from jobengine.methods import MethodLike
from jobengine.staging import Stager
from jobengine.store import NewJob

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob, BackgroundJobs


class JobBatch:
    """Collects jobs and writes them when the block exits: all of them, or none.

    `execute` checks each job at once, as `engine.background.execute` does, and returns its
    handle; the handle names a stored job once the block has exited without an exception. An
    exception in the block, or a refusal when the batch is written (a key conflict), writes
    nothing.
    """

    def __init__(self, manager: BackgroundJobs, stager: Stager) -> None:
        self._manager = manager
        self._stager = stager
        self._jobs: list[NewJob] = []
        self._modes: list[str] = []  # each job's on_conflict
        # The handles the write may have to point at a key's holder, by job index: only a job
        # with a key and "skip" can be skipped; the rest are the caller's to keep or drop.
        self._skippable: dict[int, BackgroundJob] = {}
        self._handle = manager._staged_handle
        self._is_written = False

    def execute(
        self,
        method: MethodLike,
        args: Any = None,
        kwargs: Any = None,
        key: str = "",
        description: str = "",
        on_conflict: str = "error",
        **options: Any,
    ) -> BackgroundJob:
        """Add a job; the arguments and options of `engine.background.execute`.

        Raises:
            JobEngineError: the batch was written already, an unknown option, or a refusal
                of `execute` (method, arguments, option values).
        """
        if self._is_written:
            raise JobEngineError("this batch was written already; start a new batch()")
        job = self._stager.stage(method, args, kwargs, key, description, on_conflict, options)
        self._jobs.append(job)
        self._modes.append(on_conflict)
        handle = self._handle(job)
        if on_conflict == "skip" and key:
            self._skippable[len(self._jobs) - 1] = handle
        return handle

    def __len__(self) -> int:
        return len(self._jobs)

    def __enter__(self) -> JobBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._is_written = True
        if exc_type is None and self._jobs:
            self._manager._insert_staged(self._jobs, self._modes, self._skippable)
