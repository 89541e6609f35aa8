"""The dict (YAML) form of a schedule: parse "HH:MM[:SS]" times and ISO dates, and dump back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from jobengine.errors import ScheduleError

if TYPE_CHECKING:
    from jobengine.schedule.model import Schedule

_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_TIME_FIELDS = ("begin_time", "end_time", "completion_time")
_DATE_FIELDS = ("begin_date", "end_date")
DAILY_FIELDS = (
    "begin_time",
    "end_time",
    "completion_time",
    "completion_interval",
    "repeat_period_in_day",
    "repeat_pause",
)
"""The fields a detailed daily schedule contributes; its other fields are ignored."""


def field_names(cls: type[Schedule]) -> tuple[str, ...]:
    """Return the public field names of the schedule class, in declaration order."""
    return tuple(f.name for f in fields(cls) if f.init)


def parse_time(name: str, value: Any) -> time | None:
    """Read "HH:MM" or "HH:MM:SS" (or a time) into a time."""
    if value is None or isinstance(value, time):
        return value
    if not isinstance(value, str):
        # YAML 1.1 reads an unquoted 05:00 as the number 300: say how to write it
        raise ScheduleError(name, value, 'expected a quoted "HH:MM[:SS]" time')
    match = _TIME.fullmatch(value.strip())
    if match is None:
        raise ScheduleError(name, value, 'expected "HH:MM[:SS]"')
    hour, minute, second = (int(part or 0) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ScheduleError(name, value, "not a clock time")
    return time(hour, minute, second)


def parse_date(name: str, value: Any) -> date | None:
    """Read an ISO "YYYY-MM-DD" string (or a date) into a date."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ScheduleError(name, value, 'expected an ISO date "YYYY-MM-DD"')


def parse(cls: type[Schedule], data: Mapping[str, Any]) -> Schedule:
    """Build a schedule from a mapping with the YAML keys.

    Raises:
        ScheduleError: the input is not a mapping, has an unknown key, or a bad value.
    """
    if not isinstance(data, Mapping):
        raise ScheduleError("schedule", data, "expected a mapping of schedule fields")
    known = field_names(cls)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ScheduleError(str(key), value, "unknown schedule field")
        if key in _TIME_FIELDS:
            value = parse_time(key, value)
        elif key in _DATE_FIELDS:
            value = parse_date(key, value)
        elif key == "detailed_daily_schedules":
            value = _parse_dailies(cls, value)
        values[key] = value
    return cls(**values)


def _parse_dailies(cls: type[Schedule], value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return value  # the constructor refuses it with the field's name
    return [item if isinstance(item, cls) else parse(cls, item) for item in value]


def format_time(value: time) -> str:
    """Write a time as "HH:MM", or "HH:MM:SS" when it has seconds."""
    text = f"{value.hour:02}:{value.minute:02}"
    return f"{text}:{value.second:02}" if value.second else text


def dump(schedule: Schedule, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return the fields of a schedule that differ from their defaults, in YAML form."""
    defaults = type(schedule)()  # in the local zone; its timezone field is None like the default
    out: dict[str, Any] = {}
    for name in names or field_names(type(schedule)):
        value = getattr(schedule, name)
        if value == getattr(defaults, name):
            continue
        if isinstance(value, time):
            out[name] = format_time(value)
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif name == "detailed_daily_schedules":
            out[name] = [dump(daily, DAILY_FIELDS) for daily in value]
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out
