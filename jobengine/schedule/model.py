"""The `Schedule` value (1C JobSchedule): fields, validation, equality and the public methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from jobengine.errors import ScheduleError
from jobengine.schedule import due, nextrun
from jobengine.schedule.check import (
    check_date,
    check_dates,
    check_int,
    check_members,
    check_time,
    check_timezone,
)
from jobengine.schedule.form import DAILY_FIELDS, dump, parse
from jobengine.schedule.plan import Plan
from jobengine.schedule.text import describe
from jobengine.schedule.window import seconds_of

__all__ = ["DAILY_FIELDS", "Schedule"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Schedule:
    """When a scheduled job is due: 1C's JobSchedule plus a time zone.

    Field meanings and ranges follow spec section 2. Lists are stored as sorted tuples.
    Naive datetimes passed to the methods are wall time in `timezone` (None: the local
    zone); aware ones are converted. Results come back in the kind given.
    """

    begin_date: date | None = None
    end_date: date | None = None
    begin_time: time | None = None
    end_time: time | None = None
    completion_time: time | None = None
    completion_interval: int = 0
    days_repeat_period: int = 0
    repeat_period_in_day: int = 0
    repeat_pause: int = 0
    week_days: Sequence[int] = ()
    weeks_period: int = 0
    months: Sequence[int] = ()
    day_in_month: int = 0
    week_day_in_month: int = 0
    detailed_daily_schedules: Sequence[Schedule] = ()
    timezone: str | None = None
    _plan: Plan = field(init=False, repr=False)

    def __post_init__(self) -> None:
        begin = check_date("begin_date", self.begin_date)
        check_dates(begin, check_date("end_date", self.end_date))
        for name in ("begin_time", "end_time", "completion_time"):
            check_time(name, getattr(self, name))
        for name in ("completion_interval", "days_repeat_period", "repeat_period_in_day"):
            check_int(name, getattr(self, name), 0)
        check_int("repeat_pause", self.repeat_pause, 0)
        check_int("weeks_period", self.weeks_period, 0)
        check_int("day_in_month", self.day_in_month, -31, 31)
        check_int("week_day_in_month", self.week_day_in_month, -5, 5)
        self._set("week_days", check_members("week_days", self.week_days, 1, 7))
        self._set("months", check_members("months", self.months, 1, 12))
        self._set("detailed_daily_schedules", _check_dailies(self.detailed_daily_schedules))
        check_timezone(self.timezone)
        self._set("_plan", Plan(self))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalising a frozen value while it is built

    def _daily_key(self) -> tuple[int, ...]:
        return (
            seconds_of(self.begin_time),
            seconds_of(self.end_time),
            seconds_of(self.completion_time),
            self.completion_interval,
            self.repeat_period_in_day,
            self.repeat_pause,
        )

    def _key(self) -> tuple[Any, ...]:
        """Return the canonical form: the 1C XML defaults (all days, all months, every
        week) equal the empty ones, and 00:00:00 equals an unset time."""
        return (
            self.begin_date,
            self.end_date,
            self._daily_key(),
            self.days_repeat_period,
            () if len(self.week_days) == 7 else tuple(self.week_days),
            0 if self.weeks_period <= 1 else self.weeks_period,
            () if len(self.months) == 12 else tuple(self.months),
            self.day_in_month,
            self.week_day_in_month,
            tuple(daily._daily_key() for daily in self.detailed_daily_schedules),
            self.timezone,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return describe(self)

    def has_daily_fields(self) -> bool:
        """Return whether any daily field differs from its unset value."""
        return any(self._daily_key())

    def is_due(
        self, at: datetime, last_begin: datetime | None = None, last_end: datetime | None = None
    ) -> bool:
        """Return whether a start is due at `at` (1C ExecutionRequired).

        Args:
            at: the instant to check.
            last_begin: when the last scheduled start happened, if any.
            last_end: when that run ended, if it has.
        """
        instant = self._plan.zone.from_datetime(at)
        return due.is_due(self._plan, instant, self._instant(last_begin), self._instant(last_end))

    def next_run(
        self, after: datetime, last_begin: datetime | None = None, last_end: datetime | None = None
    ) -> datetime | None:
        """Return the earliest instant at or after `after` at which a start is due.

        Assumes no start in between. None when the schedule has ended or nothing is due
        within about 8 years.

        Args:
            after: where the search begins; the answer has the same kind (naive or aware).
            last_begin: when the last scheduled start happened, if any.
            last_end: when that run ended, if it has.
        """
        zone = self._plan.zone
        start = zone.from_datetime(after)
        # a scheduler often asks "what next after the start just made": convert once
        begin = start if last_begin is after else self._instant(last_begin)
        end = start if last_end is after else self._instant(last_end)
        found = nextrun.next_run(self._plan, start, begin, end)
        return None if found is None else zone.to_datetime(found, after.tzinfo)

    def deadline(self, run_start: datetime) -> datetime | None:
        """Return when a run started at `run_start` must be stopped, or None for no limit.

        The earlier of the next `completion_time` on the clock and `run_start +
        completion_interval`, taken from the daily schedule whose window holds the start.
        """
        zone = self._plan.zone
        found = nextrun.deadline(self._plan, zone.from_datetime(run_start))
        return None if found is None else zone.to_datetime(found, run_start.tzinfo)

    # Epoch-millisecond forms for the scheduler, which keeps store instants as ints and asks
    # these for every scheduled job: no datetime is built on the way.

    def next_run_ms(
        self, after_ms: int, last_begin_ms: int | None, last_end_ms: int | None
    ) -> int | None:
        """`next_run` on epoch milliseconds (rounded up to the millisecond)."""
        found = nextrun.next_run(
            self._plan, _us(after_ms), _us_or_none(last_begin_ms), _us_or_none(last_end_ms)
        )
        return None if found is None else -((-found + _EPOCH_US) // 1000)

    def is_due_ms(self, at_ms: int, last_begin_ms: int | None, last_end_ms: int | None) -> bool:
        """`is_due` on epoch milliseconds."""
        return due.is_due(
            self._plan, _us(at_ms), _us_or_none(last_begin_ms), _us_or_none(last_end_ms)
        )

    def deadline_ms(self, run_start_ms: int) -> int | None:
        """`deadline` on epoch milliseconds."""
        found = nextrun.deadline(self._plan, _us(run_start_ms))
        return None if found is None else -((-found + _EPOCH_US) // 1000)

    def _instant(self, at: datetime | None) -> int | None:
        return None if at is None else self._plan.zone.from_datetime(at)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """Build a schedule from its YAML form ("HH:MM[:SS]" times, ISO dates).

        Raises:
            ScheduleError: an unknown key or a bad value; names the field.
        """
        return parse(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML form: only fields that differ from their defaults."""
        return dump(self)


_EPOCH_US = 719_162 * 86_400 * 1_000_000  # 1970-01-01 in the plan's microseconds


def _us(ms: int) -> int:
    return ms * 1000 + _EPOCH_US


def _us_or_none(ms: int | None) -> int | None:
    return None if ms is None else ms * 1000 + _EPOCH_US


def _check_dailies(values: Any) -> tuple[Schedule, ...]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise ScheduleError("detailed_daily_schedules", values, "expected a list of schedules")
    for item in values:
        if not isinstance(item, Schedule):
            raise ScheduleError("detailed_daily_schedules", item, "expected a Schedule")
    return tuple(values)
