"""Exceptions of the public contract; every refusal is a JobEngineError subclass."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorInfo:
    """What a failed job left behind: exception type, message and traceback text."""

    type: str
    message: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class JobEngineError(Exception):
    """Base of every error the engine raises on purpose."""


class JobKeyConflict(JobEngineError):
    """An active job with the same (method, key) already runs."""

    def __init__(self, method: str, key: str, running_uuid: str | None = None) -> None:
        self.method = method
        self.key = key
        self.running_uuid = running_uuid
        super().__init__(
            f"A job with the same key value is already running: method {method!r}, key {key!r}"
        )


class JobFailed(JobEngineError):
    """The job ended FAILED; `error` holds its type, message and traceback."""

    def __init__(self, uuid: str, error: ErrorInfo | None) -> None:
        self.uuid = uuid
        self.error = error
        super().__init__(f"job {uuid} failed: {error}")


class JobCanceled(JobEngineError):
    """The job ended CANCELED."""

    def __init__(self, uuid: str, reason: str = "") -> None:
        self.uuid = uuid
        self.reason = reason
        super().__init__(f"job {uuid} was canceled" + (f": {reason}" if reason else ""))


class RegistryError(JobEngineError):
    """Bad registry YAML; names the file, line and field."""

    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, field: str = ""
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = file + (f":{line}" if line is not None else "")
        parts = [p for p in (where, field and f"field {field!r}") if p]
        super().__init__(": ".join([*parts, message]) if parts else message)


class ScheduleError(JobEngineError, ValueError):
    """A schedule field has a bad value; names the field and the value."""

    def __init__(self, field: str, value: Any, reason: str = "") -> None:
        self.field = field
        self.value = value
        self.reason = reason
        text = f"schedule field {field!r}: bad value {value!r}"
        super().__init__(f"{text}: {reason}" if reason else text)


class StoreError(JobEngineError):
    """The store could not do what was asked (connection, schema, unknown URL)."""


class StoreLostError(StoreError):
    """The SQLite file a store opened was deleted or replaced: nobody else sees its writes."""

    def __init__(self, path: str, replaced: bool) -> None:
        self.path = path
        self.replaced = replaced
        what = "was replaced by another file" if replaced else "was deleted"
        super().__init__(
            f"store file {path} {what} while this process had it open; "
            "nothing written from now on would be seen by anyone else"
        )


class MethodError(JobEngineError):
    """A method path that cannot run: unknown, not importable, forbidden or wrong arguments."""


class SerializationError(JobEngineError, TypeError):
    """A value that cannot be stored as JSON (arguments, results, messages)."""


class JobGoneError(JobEngineError):
    """A job this handle names is no longer in the store (retention purged it)."""

    def __init__(self, uuid: str, method: str = "") -> None:
        self.uuid = uuid
        self.method = method
        what = f"job {uuid}" + (f" ({method})" if method else "")
        super().__init__(f"{what} is no longer in the store (finished jobs are purged)")


class ResourceLocked(JobEngineError):
    """A resource stayed locked by another holder for as long as the caller would wait."""

    def __init__(
        self, queue: str, item_id: int, holder: str, kind: str, waited_s: float | None
    ) -> None:
        self.queue = queue
        self.item_id = item_id
        self.holder = holder
        self.kind = kind  # "read" or "write"
        self.waited_s = waited_s
        who = holder if holder.startswith("person:") else f"job {holder}"
        super().__init__(
            f"resource {item_id} of queue {queue!r} is {kind}-locked by {who}"
            + (f" (waited {waited_s:g} s)" if waited_s else "")
        )


class ResourceNotFound(JobEngineError):
    """No resource with this id in this resource queue (never put, or deleted)."""

    def __init__(self, queue: str, item_id: int) -> None:
        self.queue = queue
        self.item_id = item_id
        super().__init__(f"resource {item_id} of queue {queue!r} does not exist")


def log_retry(log: logging.Logger, what: str) -> None:
    """Log the exception being handled by a loop that goes on after it.

    A StoreError (the server is down, the file is gone) is one line: its message says what is
    wrong, and the engine's own code is not at fault. Anything else comes with its traceback.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, StoreError):
        log.error("%s: %s; retrying", what, exc)
    else:
        log.exception("%s; retrying", what)
