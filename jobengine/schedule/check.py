"""Field checks for `Schedule`: each bad value becomes a ScheduleError naming field and value."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from jobengine.errors import ScheduleError


def check_date(field: str, value: Any) -> date | None:
    """Return a calendar date field, refusing datetimes and other types."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    raise ScheduleError(field, value, "expected a date")


def check_time(field: str, value: Any) -> time | None:
    """Return a clock time field: naive, whole seconds (1C times have no fractions)."""
    if value is None:
        return None
    if not isinstance(value, time):
        raise ScheduleError(field, value, "expected a time")
    if value.tzinfo is not None or value.microsecond:
        raise ScheduleError(field, value, "expected a naive time in whole seconds")
    return value


def check_int(field: str, value: Any, low: int, high: int | None = None) -> int:
    """Return an integer field within [low, high]; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError(field, value, "expected an integer")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f"..{high}"
        raise ScheduleError(field, value, f"out of range {low}{upper}")
    return value


def check_members(field: str, values: Any, low: int, high: int) -> tuple[int, ...]:
    """Return a list field of integers in [low, high] as a sorted tuple without repeats."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ScheduleError(field, values, "expected a list of integers")
    items = list(values)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
            raise ScheduleError(field, item, f"expected integers in {low}..{high}")
    return tuple(sorted(set(items)))


def check_dates(begin: date | None, end: date | None) -> None:
    """Refuse an end date before the begin date."""
    if begin is not None and end is not None and end < begin:
        raise ScheduleError("end_date", end, f"before begin_date {begin.isoformat()}")


def check_timezone(value: Any) -> str | None:
    """Return a timezone field: an IANA name or None (the zone is resolved by the plan)."""
    if value is None or (isinstance(value, str) and value):
        return value
    raise ScheduleError("timezone", value, "expected an IANA time zone name")
