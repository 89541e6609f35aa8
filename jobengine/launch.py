"""What `execute`, `get` and the waits accept; every refusal names the argument and its value.

Checks run before anything is written, so a bad value never reaches the store as a raw
TypeError, OverflowError or driver error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from jobengine.clock import to_ms
from jobengine.errors import JobEngineError
from jobengine.retry import MAX_DELAY_S, Retry, check_seconds
from jobengine.state import JobState

ON_CONFLICT = ("error", "queue", "skip")
INT32 = (-(2**31), 2**31 - 1)  # the store's integer columns (priority)
MAX_QUEUE_CHARS = 100  # the store's queue column
MAX_KEY_BYTES = 1000  # (method, key) is a unique index; PostgreSQL's index rows are ~2.7 KB
MAX_DESCRIPTION_BYTES = 64 * 1024
# The latest instant a job may be put off to: from_ms() must still give a datetime.
LATEST_MS = to_ms(datetime(9999, 12, 30, tzinfo=UTC))


@dataclass(frozen=True)
class Launch:
    """How `execute` launches a job, apart from the method and its arguments."""

    key: str = ""
    description: str = ""
    on_conflict: str = "error"
    timeout: float | None = None
    retry: Retry | None = None
    priority: int = 0
    delay: float | None = None
    run_at: datetime | None = None
    queue: str = "default"
    scheduled_job: str | None = None

    def check(self) -> None:
        """Refuse any keyword `execute` cannot store or act on.

        Raises:
            JobEngineError: naming the keyword and its value.
        """
        if not isinstance(self.on_conflict, str) or self.on_conflict not in ON_CONFLICT:
            refuse("on_conflict", self.on_conflict, f"use one of {', '.join(ON_CONFLICT)}")
        check_text("key", self.key, max_bytes=MAX_KEY_BYTES)
        check_text("description", self.description, max_bytes=MAX_DESCRIPTION_BYTES)
        check_queue(self.queue)
        check_int("priority", self.priority, *INT32)
        if self.timeout is not None:
            check_seconds("timeout", self.timeout, positive=True, most=MAX_DELAY_S)
        if self.delay is not None:
            check_seconds("delay", self.delay, most=MAX_DELAY_S)
        if self.retry is not None and not isinstance(self.retry, Retry):
            refuse("retry", self.retry, "give Retry(count=..., interval=..., backoff=...)")
        if self.run_at is not None:
            self._check_run_at()
        if self.scheduled_job is not None:
            check_text("scheduled_job", self.scheduled_job, max_bytes=36)

    def _check_run_at(self) -> None:
        if not isinstance(self.run_at, datetime):
            refuse("run_at", self.run_at, "give a datetime")
        try:
            at_ms = to_ms(_aware(self.run_at))
        except (OverflowError, ValueError, OSError) as exc:
            refuse("run_at", self.run_at, f"cannot be placed in time ({exc})")
        if at_ms > LATEST_MS:
            refuse("run_at", self.run_at, "is later than the year 9999")

    def run_after_ms(self, now_ms: int) -> int:
        return run_after_ms(now_ms, self.delay, self.run_at)


def run_after_ms(now_ms: int, delay: float | None, run_at: datetime | None) -> int:
    """Not before: `delay` seconds from now and `run_at` (naive = local wall time)."""
    at = now_ms if delay is None else now_ms + int(delay * 1000)
    if run_at is not None:
        at = max(at, to_ms(_aware(run_at)))
    return at


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.astimezone()


def refuse(name: str, value: Any, why: str) -> NoReturn:
    """Raise the refusal of argument `name`, showing (the start of) its value."""
    raise JobEngineError(f"{name}={show(value)}: {why}")


def show(value: Any, limit: int = 80) -> str:
    """`repr(value)`, cut to `limit` characters."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_text(name: str, value: Any, *, max_bytes: int | None = None) -> str:
    """Refuse what is not storable text: not a string, NUL, a lone surrogate, too long."""
    if not isinstance(value, str):
        refuse(name, value, "give a string")
    if "\x00" in value:
        refuse(name, value, "contains a NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        refuse(name, value, "is not valid Unicode text (a lone surrogate)")
    if max_bytes is not None and size > max_bytes:
        refuse(name, value, f"is {size} bytes long, more than {max_bytes}")
    return value


def check_queue(value: Any) -> str:
    check_text("queue", value)
    if not value or len(value) > MAX_QUEUE_CHARS:
        refuse("queue", value, f"give a name of 1 to {MAX_QUEUE_CHARS} characters")
    return str(value)


def check_int(name: str, value: Any, least: int, most: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        refuse(name, value, "give a whole number")
    if not least <= value <= most:
        refuse(name, value, f"must be between {least} and {most}")
    return int(value)


def check_flag(name: str, value: Any) -> bool | None:
    """A yes/no filter: True, False or None (no filter)."""
    if value is not None and not isinstance(value, bool):
        refuse(name, value, "give True, False or None")
    return value


def check_wait_timeout(value: Any) -> float | None:
    """A wait's timeout in seconds: None or inf wait for ever; nan and negatives are refused."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        refuse("timeout", value, "give a number of seconds or None")
    if math.isnan(value) or value < 0:
        refuse("timeout", value, "give a number of seconds >= 0, or None to wait for ever")
    return None if math.isinf(value) else float(value)


def check_state(value: Any) -> str:
    """A state filter: a JobState or its name, in any case."""
    if isinstance(value, JobState):
        return value.value
    if isinstance(value, str) and value.upper() in JobState.__members__:
        return JobState[value.upper()].value
    refuse("state", value, f"use one of {', '.join(s.value for s in JobState)}")


def check_instant(name: str, value: Any) -> int | None:
    """A datetime filter as epoch ms (naive = local time), or None."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        refuse(name, value, "give a datetime")
    try:
        return to_ms(_aware(value))
    except (OverflowError, ValueError, OSError) as exc:
        refuse(name, value, f"cannot be placed in time ({exc})")


def check_call(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """`execute`'s args (a list or tuple) and kwargs (a dict with string keys)."""
    if args is None:
        args = []
    elif not isinstance(args, list | tuple):
        refuse("args", args, "give a list of arguments")
    if kwargs is None:
        kwargs = {}
    elif not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        refuse("kwargs", kwargs, "give a dict with string keys")
    return list(args), dict(kwargs)


def check_filters(filters: dict[str, Any]) -> None:
    """`get`'s text filters are strings (or None); `limit` and `offset` whole numbers >= 0."""
    for name in ("uuid", "key", "description", "queue", "text"):
        if filters.get(name) is not None:
            check_text(name, filters[name])
    for name in ("limit", "offset"):
        if filters.get(name) is not None:
            check_int(name, filters[name], 0, 2**62)


def check_jobs(jobs: Sequence[Any], kind: type) -> None:
    for job in jobs:
        if not isinstance(job, kind):
            refuse("jobs", job, f"every item must be a {kind.__name__}")
