"""The compiled form of a schedule: zone, day filters and daily windows, built once per value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobengine.schedule.calendar import Calendar
from jobengine.schedule.window import Window
from jobengine.schedule.zone import DAY_US, zone_for

if TYPE_CHECKING:
    from jobengine.schedule.model import Schedule

_CACHE_DAYS = 4096


class Plan:
    """What `is_due`, `next_run` and `deadline` read; caches window bounds per opening day."""

    __slots__ = ("_bounds", "calendar", "crosses", "windows", "zone")

    def __init__(self, schedule: Schedule) -> None:
        self.zone = zone_for(schedule.timezone)
        self.calendar = Calendar(schedule)
        dailies = schedule.detailed_daily_schedules or (schedule,)
        self.windows = tuple(Window(daily) for daily in dailies)
        # whether an instance can outlive its opening day (then the day before matters too)
        self.crosses = any(window.stop_wall > DAY_US for window in self.windows)
        self._bounds: dict[int, tuple[tuple[int, int], ...]] = {}

    def bounds(self, day: int) -> tuple[tuple[int, int], ...]:
        """Return [start, stop) of each window instance opened on `day`, in window order."""
        found = self._bounds.get(day)
        if found is None:
            if len(self._bounds) >= _CACHE_DAYS:
                # a scheduler moves on with time; days it has left are not asked again
                self._bounds.clear()
            found = tuple(window.bounds(day, self.zone) for window in self.windows)
            self._bounds[day] = found
        return found

    def openings(self, day: int) -> tuple[int, ...]:
        """Return the opening days whose instances may hold an instant of wall day `day`."""
        return (day - 1, day) if self.crosses else (day,)
