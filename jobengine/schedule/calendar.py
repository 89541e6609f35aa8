"""Day filters of a schedule: which opening days qualify, and the next day that does.

Days are proleptic Gregorian ordinals (`date.toordinal()`). Every filter either accepts a day
or names a later day that might pass, so the search jumps by week, month or period instead
of walking the calendar.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobengine.schedule.model import Schedule

NEVER = date.max.toordinal() + 1
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    """Return the length of a month."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month]


def _weekday_jumps(mask: int) -> tuple[int, ...]:
    """For each weekday 0..6 (Monday = 0), the days to the next weekday the mask allows."""
    if not mask:
        return (1,) * 7
    return tuple(
        next(step for step in range(1, 8) if mask >> ((weekday + step) % 7) & 1)
        for weekday in range(7)
    )


class Calendar:
    """The day filters (`static_ok`) and repeat periods (`period_ok`) of spec section 3."""

    __slots__ = (
        "_next",
        "anchor",
        "day_in_month",
        "days_period",
        "first",
        "last",
        "month_mask",
        "needs_date",
        "week_in_month",
        "weekday_jump",
        "weekday_mask",
        "weeks_period",
    )

    def __init__(self, schedule: Schedule) -> None:
        self.first = schedule.begin_date.toordinal() if schedule.begin_date else 0
        self.last = schedule.end_date.toordinal() if schedule.end_date else NEVER
        self.anchor = schedule.begin_date.toordinal() if schedule.begin_date else None
        months = set(schedule.months)
        self.month_mask = 0 if len(months) in (0, 12) else sum(1 << m for m in months)
        days = set(schedule.week_days)
        self.weekday_mask = 0 if len(days) in (0, 7) else sum(1 << (d - 1) for d in days)
        self.weekday_jump = _weekday_jumps(self.weekday_mask)
        self.day_in_month = schedule.day_in_month
        self.week_in_month = schedule.week_day_in_month
        self.needs_date = bool(self.month_mask or self.day_in_month or self.week_in_month)
        self.days_period = schedule.days_repeat_period
        self.weeks_period = schedule.weeks_period if schedule.weeks_period > 1 else 0
        # day -> first day at or after it passing the month-based filters (filled a month at a time)
        self._next: dict[int, int] = {}

    def is_static(self, day: int) -> bool:
        """Return whether a day passes the date, weekday, month and day-of-month filters."""
        return self._static(day) == day

    def is_open(self, day: int, run_day: int | None) -> bool:
        """Return whether a day passes every filter, given the run day of the last start."""
        return self._static(day) == day and self._period(day, run_day) == day

    def next_day(self, day: int, run_day: int | None, limit: int) -> int | None:
        """Return the first day in [day, limit] passing every filter, or None."""
        while day <= limit:
            later = self._static(day)
            if later == day:
                later = self._period(day, run_day)
                if later == day:
                    return day
            day = later
        return None

    def _static(self, day: int) -> int:
        """Return `day` if it passes the static filters, else a later day that might."""
        if day < self.first:
            return self.first
        if day > self.last:
            return NEVER
        if self.needs_date:
            found = self._next.get(day)
            return self._fill_month(day) if found is None else found
        if self.weekday_mask:
            weekday = (day - 1) % 7
            if not self.weekday_mask >> weekday & 1:
                return day + self.weekday_jump[weekday]
        return day

    def _fill_month(self, day: int) -> int:
        """Record, for every day of `day`'s month, the first qualifying day at or after it.

        Days past the month's last qualifying day point at the next month's first day,
        which the search then checks in turn.
        """
        if len(self._next) > 8192:
            self._next.clear()
        when = date.fromordinal(day)
        base = day - when.day  # the day before the 1st
        following = base + days_in_month(when.year, when.month) + 1
        low, high = self._month_days(when.year, when.month)
        mask, weekdays = self.month_mask, self.weekday_mask
        if mask and not mask >> when.month & 1:
            low, high = 1, 0  # the whole month is filtered out
        target = following
        for mday in range(following - base - 1, 0, -1):
            ordinal = base + mday
            if low <= mday <= high and (not weekdays or weekdays >> ((ordinal - 1) % 7) & 1):
                target = ordinal
            self._next[ordinal] = target
        return self._next[day]

    def _month_days(self, year: int, month: int) -> tuple[int, int]:
        """Return the range of month days the day-in-month and week-in-month filters allow."""
        length = days_in_month(year, month)
        low, high = 1, length
        if k := self.day_in_month:
            target = k if k > 0 else length + 1 + k  # no clamping: a 31st skips short months
            low, high = max(low, target), min(high, target)
        if w := self.week_in_month:
            first = 7 * w - 6 if w > 0 else length + 7 * w + 1
            low, high = max(low, first), min(high, first + 6)
        return low, high

    def _period(self, day: int, run_day: int | None) -> int:
        """Return `day` if it passes the repeat periods, else a later day that might."""
        if self.days_period == 0 and run_day is not None and day != run_day:
            return run_day if day < run_day else NEVER  # "once": only the last run's day
        anchor = self.anchor if self.anchor is not None else run_day
        if anchor is None:
            return day
        if self.days_period > 1 and (rest := (day - anchor) % self.days_period):
            return day + self.days_period - rest
        if self.weeks_period:
            monday = day - (day - 1) % 7
            weeks = (monday - (anchor - (anchor - 1) % 7)) // 7
            if rest := weeks % self.weeks_period:
                return monday + 7 * (self.weeks_period - rest)
        return day
