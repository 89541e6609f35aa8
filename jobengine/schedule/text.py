"""The English description of a schedule (`str(schedule)`), worded as spec section 4 says."""

from __future__ import annotations

from datetime import date, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobengine.schedule.model import Schedule

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def describe(schedule: Schedule) -> str:
    """Return the description: segments joined by "; ", first letter capitalised."""
    segments = [
        _days(schedule),
        _weeks(schedule),
        _months(schedule),
        _month_day(schedule),
    ]
    if schedule.detailed_daily_schedules:
        # They replace the main daily fields (spec P7), so only they are described.
        segments.extend(_daily(daily) for daily in schedule.detailed_daily_schedules)
    elif schedule.has_daily_fields():
        segments.append(_daily(schedule))
    text = "; ".join(segment for segment in segments if segment)
    return text[:1].upper() + text[1:]


def _clock(value: time) -> str:
    return f"{value.hour}:{value.minute:02}:{value.second:02}"


def _date(value: date) -> str:
    return f"{value.day:02}.{value.month:02}.{value.year:04}"


def _days(schedule: Schedule) -> str:
    parts = []
    if schedule.begin_date:
        parts.append(f"from {_date(schedule.begin_date)}")
    if schedule.end_date:
        parts.append(f"to {_date(schedule.end_date)}")
    period = schedule.days_repeat_period
    parts.append("once" if period == 0 else "every day" if period == 1 else f"every {period} days")
    return " ".join(parts)


def _weeks(schedule: Schedule) -> str:
    parts = []
    if schedule.weeks_period > 1:
        parts.append(f"every {schedule.weeks_period} weeks")
    if schedule.week_days and len(schedule.week_days) < 7:
        parts.append("on " + ", ".join(WEEKDAY_NAMES[day - 1] for day in schedule.week_days))
    return " ".join(parts)


def _months(schedule: Schedule) -> str:
    if not schedule.months or len(schedule.months) == 12:
        return ""
    return "in " + ", ".join(MONTH_NAMES[month - 1] for month in schedule.months)


def _month_day(schedule: Schedule) -> str:
    parts = []
    k = schedule.day_in_month
    if k > 0:
        parts.append(f"on day {k} of the month")
    elif k == -1:
        parts.append("on the last day of the month")
    elif k < 0:
        parts.append(f"on day {-k} from the end of the month")
    w = schedule.week_day_in_month
    if w > 0:
        parts.append(f"in week {w} of the month")
    elif w == -1:
        parts.append("in the last week of the month")
    elif w < 0:
        parts.append(f"in week {-w} from the end of the month")
    return ", ".join(parts)


def _daily(daily: Schedule) -> str:
    """Return one daily segment: window, repeat phrase, then completion clauses."""
    window = []
    if daily.begin_time and daily.begin_time != time(0):
        window.append(f"from {_clock(daily.begin_time)}")
    if daily.end_time and daily.end_time != time(0):
        window.append(f"to {_clock(daily.end_time)}")
    period, pause = daily.repeat_period_in_day, daily.repeat_pause
    if period:
        repeat = f"every {period} seconds"
    elif pause:
        repeat = f"repeat with pause {pause} seconds"
    else:
        repeat = "once a day"
    text = " ".join([*window, repeat])
    if period and pause:
        text += f", pause {pause} seconds"
    if daily.completion_time and daily.completion_time != time(0):
        text += f", finish after {_clock(daily.completion_time)}"
    if daily.completion_interval:
        text += f", finish in {daily.completion_interval} seconds"
    return text
