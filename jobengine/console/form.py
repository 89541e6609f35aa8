"""The schedule editor's text fields and back: one text per Schedule field, read into a
Schedule through Schedule.from_dict so every refusal names its field. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jobengine.errors import ScheduleError
from jobengine.schedule import Schedule

# (field, what to type), in the order of the form
FIELDS: tuple[tuple[str, str], ...] = (
    ("begin_date", "YYYY-MM-DD"),
    ("end_date", "YYYY-MM-DD"),
    ("begin_time", "HH:MM[:SS]"),
    ("end_time", "HH:MM[:SS]"),
    ("completion_time", "HH:MM[:SS]"),
    ("completion_interval", "seconds"),
    ("days_repeat_period", "every N days"),
    ("repeat_period_in_day", "every N seconds"),
    ("repeat_pause", "seconds after the end"),
    ("week_days", "1..7, comma-separated"),
    ("weeks_period", "every N weeks"),
    ("months", "1..12, comma-separated"),
    ("day_in_month", "1..31, or -1 for the last"),
    ("week_day_in_month", "1..5, or -1 for the last"),
    ("detailed_daily_schedules", 'JSON: [{"begin_time": "09:00"}]'),
    ("timezone", "IANA name, e.g. Europe/Berlin"),
)
_LISTS = {"week_days", "months"}
_TEXTS = {"begin_date", "end_date", "begin_time", "end_time", "completion_time", "timezone"}


def texts(schedule: Schedule) -> dict[str, str]:
    """The form's texts for `schedule` (empty for a field left at its default)."""
    values = schedule.to_dict()
    out = {}
    for name, _ in FIELDS:
        value = values.get(name)
        if value is None:
            out[name] = ""
        elif name in _LISTS:
            out[name] = ", ".join(str(v) for v in value)
        elif name == "detailed_daily_schedules":
            out[name] = json.dumps(value)
        else:
            out[name] = str(value)
    return out


def read(texts: Mapping[str, str]) -> Schedule:
    """The schedule the form's texts describe.

    Raises:
        ScheduleError: a text that is not a value of its field; names the field.
    """
    data: dict[str, Any] = {}
    for name, text in texts.items():
        text = text.strip()
        if text:
            data[name] = _value(name, text)
    return Schedule.from_dict(data)


def _value(name: str, text: str) -> Any:
    if name in _TEXTS:
        return text
    if name in _LISTS:
        return [_int(name, part) for part in text.replace(" ", ",").split(",") if part]
    if name == "detailed_daily_schedules":
        try:
            return json.loads(text)
        except ValueError:
            raise ScheduleError(name, text, "expected a JSON list of objects") from None
    return _int(name, text)


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ScheduleError(name, text, "expected a whole number") from None
