"""Rows to records and back: the tuples the hot statements take and return, as plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from jobengine.store.records import Finish, JobRecord, NewJob

ACTIVE = "ACTIVE"

_BOOL_COLUMNS = [i for i, f in enumerate(fields(JobRecord)) if f.type in ("bool", bool)]


def from_tuple(row: Sequence[Any]) -> JobRecord:
    values = list(row)
    for i in _BOOL_COLUMNS:
        values[i] = bool(values[i])  # SQLite hands booleans back as 0/1
    return JobRecord(*values)


_NEW_FIELDS = list(NewJob._fields)
# What a new row holds beyond the NewJob's fields (peewee's defaults are Python-side only).
_NEW_DEFAULTS = {f.name: None for f in fields(JobRecord)} | {
    "key_held": False,
    "state": ACTIVE,
    "claimed_by": None,
    "attempt": 1,
    "cancel_requested": False,
    "host": "",
}


_NO_START = (None, None, None)


def new_record(job: NewJob, held: bool) -> JobRecord:
    """The record of a job just inserted, without reading it back.

    Filled through the instance dict: the frozen dataclass's __init__ sets its 29 fields one
    `object.__setattr__` at a time, which was a fifth of a batch insert's time per job.
    """
    record: JobRecord = object.__new__(JobRecord)
    values = record.__dict__
    values.update(_NEW_DEFAULTS)
    values.update(zip(_NEW_FIELDS, job, strict=True))
    values["key_held"] = held
    return record


def end_params(
    fin: Finish, attempts: str | None = None, start: tuple[int, str, int] | None = None
) -> tuple[Any, ...]:
    """Parameters of `HotSql.end`, or with `attempts` (the job's history) of `end_attempts`;
    `start` (ms, host, pid) is a start to write with the end."""
    head = (
        fin.state,
        fin.end_ms,
        fin.result,
        fin.error_type,
        fin.error_message,
        fin.error_traceback,
        False,
        *(start or _NO_START),
    )
    return (*head, fin.uuid) if attempts is None else (*head, attempts, fin.uuid)
