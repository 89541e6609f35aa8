"""Many background jobs in one transaction: `with engine.background.batch() as batch: ...`."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from jobengine import codec, runtime
from jobengine.errors import JobEngineError
from jobengine.methods import MethodLike, check_arguments
from jobengine.staging import DEFAULTS, Stager
from jobengine.store.newrows import Row

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob, BackgroundJobs

# execute's defaults, the very objects: a caller's "error" and "" are these same interned
# strings, so `is` tells the common job apart; any other equal string takes `stage`.
_ERROR = "error"
_EMPTY = ""
_new = object.__new__


class JobBatch(Stager):
    """Collects jobs and writes them when the block exits: all of them, or none.

    `execute` checks each job at once, as `engine.background.execute` does, and returns its
    handle; the handle names a stored job once the block has exited without an exception. An
    exception in the block, or a refusal when the batch is written (a key conflict), writes
    nothing.
    """

    def __init__(self, manager: BackgroundJobs) -> None:
        super().__init__(manager._function, manager._engine.clock)
        self._manager = manager
        self._jobs: list[Row] = []
        self._modes: list[str] = []  # each job's on_conflict
        # The handles the write may have to point at a key's holder, by job index: only a job
        # with a key and "skip" can be skipped; the rest are the caller's to keep or drop.
        self._skippable: dict[int, BackgroundJob] = {}
        from jobengine.background import BackgroundJob  # not at the top: it imports this module

        self._handle_class = BackgroundJob
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
        if (
            options
            or on_conflict is not _ERROR
            or key is not _EMPTY
            or description is not _EMPTY
            or type(args) is not list
            or kwargs is not None
        ):
            job = self.stage(method, args, kwargs, key, description, on_conflict, options)
        else:
            # The common job: no option, no key, positional arguments. Of `stage`'s checks only
            # the method's and the arguments' apply; done here, without its calls.
            try:
                path, func, least, most = self._methods[method]
            except (KeyError, TypeError):  # TypeError: an unhashable callable
                path, func, least, most = self._method(method)
            if not least <= len(args) <= most:
                check_arguments(path, func, args, {})
            uuid = self._uuids.pop() if self._uuids else self._new_uuid()
            now_ms = int(self._time() * 1000)
            running = runtime.running_job()
            job = (
                uuid,
                path,
                codec.dumps(args, what="args"),
                "{}",
                now_ms,
                now_ms,
                "",
                "",
                *DEFAULTS,
                running.uuid if running is not None else None,
            )
        self._jobs.append(job)
        self._modes.append(on_conflict)
        # The handle, its snapshot built on first use (see BackgroundJob._staged): made here,
        # not by a call, as that call cost as much as building it.
        handle = _new(self._handle_class)
        handle._manager = self._manager
        handle._staged = job
        handle.uuid = job[0]
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
