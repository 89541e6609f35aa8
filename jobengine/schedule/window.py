"""Daily windows of a schedule: when a window instance opens and closes, and its repeat rules.

One `Window` per daily schedule (the main one, or each detailed daily schedule). Bounds are
real instants (see `zone`), so a repeat period inside a window counts elapsed seconds even
across a DST change.
"""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING

from jobengine.schedule.zone import DAY_US, US, Zone

if TYPE_CHECKING:
    from jobengine.schedule.model import Schedule


def seconds_of(value: time | None) -> int:
    """Return a clock time as seconds after midnight; None (1C's empty time) is 0."""
    return 0 if value is None else value.hour * 3600 + value.minute * 60 + value.second


class Window:
    """The daily fields of one daily schedule, in microseconds."""

    __slots__ = ("begin", "completion", "limit", "pause", "period", "stop_plus", "stop_wall")

    def __init__(self, daily: Schedule) -> None:
        begin, end = seconds_of(daily.begin_time), seconds_of(daily.end_time)
        self.begin = begin * US
        # stop = instant(day start + stop_wall) + stop_plus; the end second itself is inclusive
        if end == 0:  # unset: open until midnight
            self.stop_wall, self.stop_plus = DAY_US, 0
        elif end == begin:  # equal times: a whole day from the opening time
            self.stop_wall, self.stop_plus = DAY_US + begin * US, 0
        elif end < begin:  # crosses midnight, still belongs to the opening day
            self.stop_wall, self.stop_plus = DAY_US + end * US, US
        else:
            self.stop_wall, self.stop_plus = end * US, US
        self.period = daily.repeat_period_in_day * US
        self.pause = daily.repeat_pause * US
        completion = seconds_of(daily.completion_time)
        self.completion = completion * US if completion else None  # 00:00:00 is 1C's empty time
        self.limit = daily.completion_interval * US

    def bounds(self, day: int, zone: Zone) -> tuple[int, int]:
        """Return the instance opened on `day` as instants [start, stop)."""
        base = (day - 1) * DAY_US
        return (
            zone.to_utc(base + self.begin),
            zone.to_utc(base + self.stop_wall) + self.stop_plus,
        )

    def earliest(self, candidate: int, last_begin: int, last_end: int | None) -> int | None:
        """Return the first start at or after `candidate` in the instance holding the last start.

        None when the instance allows one start only (no period and no pause).
        """
        if not self.period and not self.pause:
            return None
        if self.period and candidate < last_begin + self.period:
            candidate = last_begin + self.period
        if self.pause:
            end = last_end if last_end is not None and last_end >= last_begin else last_begin
            candidate = max(candidate, end + self.pause)
        return candidate
