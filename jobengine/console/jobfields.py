"""The job forms' texts and back: a scheduled job's own fields (description, key, use, user,
restart count and interval, params) and a background job to start (method, key, description,
args, queue). Params and args are typed as JSON (tagged JSON for dates and the like, as the
store keeps them); every refusal names its field. Pure: no Textual, no engine."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobengine import codec
from jobengine.errors import JobEngineError

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob
    from jobengine.scheduled import ScheduledJob

SCHEDULED_FIELDS = (
    "metadata",
    "description",
    "key",
    "use",
    "user_name",
    "restart_count",
    "restart_interval",
    "params",
)
START_FIELDS = ("method", "key", "description", "args", "queue")
YES, NO = "yes", "no"


class FieldError(JobEngineError):
    """A form's text that is not a value of its field."""

    def __init__(self, field: str, text: str, reason: str) -> None:
        super().__init__(f"{field} {text!r}: {reason}")
        self.field = field
        self.text = text


@dataclass(frozen=True)
class ScheduledFields:
    """What the scheduled-job form sets (`metadata` only matters for a new job)."""

    metadata: str
    description: str
    key: str
    use: bool
    user_name: str
    restart_count: int
    restart_interval: int
    params: list[Any]


@dataclass(frozen=True)
class StartFields:
    """What the start-a-job form starts."""

    method: str
    key: str
    description: str
    args: list[Any]
    queue: str


def scheduled_texts(sj: ScheduledJob) -> dict[str, str]:
    return {
        "metadata": sj.metadata,
        "description": sj.description,
        "key": sj.key,
        "use": YES if sj.use else NO,
        "user_name": sj.user_name,
        "restart_count": str(sj.restart_count),
        "restart_interval": str(sj.restart_interval),
        "params": json_text(sj.params),
    }


def read_scheduled(texts: Mapping[str, str]) -> ScheduledFields:
    """The fields the scheduled-job form's texts give.

    Raises:
        FieldError: a use that is not yes/no, a restart count or interval that is not a whole
            number >= 0, params that are not a JSON list.
    """
    use = texts.get("use", "").strip()
    if use not in (YES, NO):
        raise FieldError("use", use, f"{YES} or {NO}")
    return ScheduledFields(
        metadata=texts.get("metadata", "").strip(),
        description=texts.get("description", ""),
        key=texts.get("key", "").strip(),
        use=use == YES,
        user_name=texts.get("user_name", "").strip(),
        restart_count=count("restart_count", texts.get("restart_count", "")),
        restart_interval=count("restart_interval", texts.get("restart_interval", "")),
        params=json_list("params", texts.get("params", "")),
    )


def start_texts(job: BackgroundJob) -> dict[str, str]:
    """The start form's texts for a copy of `job` (its keyword arguments are not copied)."""
    return {
        "method": job.method,
        "key": job.key,
        "description": job.description,
        "args": json_text(job.args),
        "queue": job.queue,
    }


def read_start(texts: Mapping[str, str]) -> StartFields:
    """The job the start form's texts describe (the engine checks the method when starting).

    Raises:
        FieldError: no method, or args that are not a JSON list.
    """
    method = texts.get("method", "").strip()
    if not method:
        raise FieldError("method", method, "give the method as package.module:function")
    return StartFields(
        method=method,
        key=texts.get("key", "").strip(),
        description=texts.get("description", ""),
        args=json_list("args", texts.get("args", "")),
        queue=texts.get("queue", "").strip() or "default",
    )


def json_text(values: list[Any]) -> str:
    """`values` as the forms show them: JSON, tagged where the store tags."""
    return json.dumps(json.loads(codec.dumps(values)), ensure_ascii=False)


def json_list(field: str, text: str) -> list[Any]:
    """A JSON list typed in `field` (empty: no values)."""
    text = text.strip()
    if not text:
        return []
    try:
        value = codec.loads(text)
    except ValueError as exc:
        raise FieldError(field, text, f"not JSON ({exc})") from None
    if not isinstance(value, list):
        raise FieldError(field, text, 'expected a JSON list, e.g. [1, "text"]')
    return value


def count(field: str, text: str) -> int:
    """A whole number >= 0 typed in `field`."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):  # isdigit alone takes "²"
        raise FieldError(field, text, "expected a whole number >= 0")
    return int(text)
