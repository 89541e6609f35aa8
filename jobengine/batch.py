"""Many background jobs in one transaction: `with engine.background.batch() as batch: ...`."""

from __future__ import annotations

from dataclasses import fields
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jobengine.errors import JobEngineError
from jobengine.launch import Launch
from jobengine.methods import MethodLike

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob, BackgroundJobs

_OPTIONS = frozenset(f.name for f in fields(Launch)) - {"key", "description", "on_conflict"}


class JobBatch:
    """Collects jobs and writes them when the block exits: all of them, or none.

    `execute` checks each job at once, as `engine.background.execute` does, and returns its
    handle; the handle names a stored job once the block has exited without an exception. An
    exception in the block, or a refusal when the batch is written (a key conflict), writes
    nothing.
    """

    def __init__(self, manager: BackgroundJobs) -> None:
        self._manager = manager
        self._staged: list[tuple[Any, str, BackgroundJob]] = []
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
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise JobEngineError(f"batch.execute: unknown option {unknown[0]!r}")
        launch = Launch(key=key, description=description, on_conflict=on_conflict, **options)
        new, handle = self._manager._stage(method, args, kwargs, launch)
        self._staged.append((new, on_conflict, handle))
        return handle

    def __len__(self) -> int:
        return len(self._staged)

    def __enter__(self) -> JobBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._is_written = True
        if exc_type is None and self._staged:
            self._manager._insert_staged(self._staged)
