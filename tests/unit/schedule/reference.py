"""A literal, slow transcription of spec section 3 on naive datetimes, used as a test oracle.

It has no time zones (wall time is real time, as in UTC) and no optimisation: it follows the
pseudo-code line by line so that the fast implementation can be compared with the text.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from jobengine.schedule import Schedule

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def dailies(s: Schedule) -> tuple[Schedule, ...]:
    return tuple(s.detailed_daily_schedules) or (s,)


def is_set(value: time | None) -> bool:
    return value is not None and value != time(0)


def window(ds: Schedule, day: date) -> tuple[datetime, datetime]:
    begin = ds.begin_time or time(0)
    start = datetime.combine(day, begin)
    end = ds.end_time
    if not is_set(end):
        stop = datetime.combine(day + DAY, time(0))
    elif is_set(ds.begin_time) and end == begin:
        stop = start + DAY
    elif end < begin:  # type: ignore[operator]
        stop = datetime.combine(day + DAY, end) + SECOND  # type: ignore[arg-type]
    else:
        stop = datetime.combine(day, end) + SECOND  # type: ignore[arg-type]
    return start, stop


def static_ok(s: Schedule, day: date) -> bool:
    if (s.begin_date and day < s.begin_date) or (s.end_date and day > s.end_date):
        return False
    if s.months and day.month not in s.months:
        return False
    if s.week_days and day.isoweekday() not in s.week_days:
        return False
    length = calendar.monthrange(day.year, day.month)[1]
    k, w = s.day_in_month, s.week_day_in_month
    if (k > 0 and day.day != k) or (k < 0 and day.day != length + 1 + k):
        return False
    return not (
        (w > 0 and (day.day - 1) // 7 + 1 != w) or (w < 0 and (length - day.day) // 7 + 1 != -w)
    )


def run_day(s: Schedule, lb: datetime) -> date:
    for day in (lb.date() - DAY, lb.date()):
        if static_ok(s, day) and any(
            window(ds, day)[0] <= lb < window(ds, day)[1] for ds in dailies(s)
        ):
            return day
    return lb.date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def period_ok(s: Schedule, day: date, lb: datetime | None) -> bool:
    rd = run_day(s, lb) if lb else None
    if s.days_repeat_period == 0:
        if rd and day != rd:
            return False
    elif s.days_repeat_period > 1:
        anchor = s.begin_date or rd
        if anchor and (day - anchor).days % s.days_repeat_period:
            return False
    if s.weeks_period > 1:
        anchor = s.begin_date or rd
        if anchor and ((monday(day) - monday(anchor)).days // 7) % s.weeks_period:
            return False
    return True


def is_due(
    s: Schedule, t: datetime, lb: datetime | None = None, le: datetime | None = None
) -> bool:
    if lb and lb > t:
        return False
    for ds in dailies(s):
        for day in (t.date() - DAY, t.date()):
            start, stop = window(ds, day)
            if not start <= t < stop:
                continue
            if not (static_ok(s, day) and period_ok(s, day, lb)):
                continue
            if lb and start <= lb < stop:
                period = timedelta(seconds=ds.repeat_period_in_day)
                pause = timedelta(seconds=ds.repeat_pause)
                if not period and not pause:
                    continue
                if period and t < lb + period:
                    continue
                end = le if le and le >= lb else lb
                if pause and t < end + pause:
                    continue
            return True
    return False


def candidates(
    s: Schedule, after: datetime, until: datetime, lb: datetime | None, le: datetime | None
) -> list[datetime]:
    """Return every instant in [after, until) where the due set can begin.

    A due set is a union of intervals, each opening at a window start, at `lb + period`,
    at `end + pause`, or already open at `after`; checking these points is exhaustive.
    """
    points = {after}
    for ds in dailies(s):
        if lb:
            points.add(lb + timedelta(seconds=ds.repeat_period_in_day))
            end = le if le and le >= lb else lb
            points.add(end + timedelta(seconds=ds.repeat_pause))
            points.add(lb)
        day = after.date() - DAY
        while datetime.combine(day, time(0)) < until:
            points.add(window(ds, day)[0])
            day += DAY
    return sorted(p for p in points if after <= p < until)
