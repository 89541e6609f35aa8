"""The due check (1C ExecutionRequired) on instants, as spec section 3 states it."""

from __future__ import annotations

from jobengine.schedule.plan import Plan
from jobengine.schedule.zone import DAY_US


def wall_day(plan: Plan, instant: int) -> int:
    """Return the ordinal of the wall-clock day an instant falls on."""
    return plan.zone.to_wall(instant) // DAY_US + 1


def run_day(plan: Plan, last_begin: int, day: int | None = None) -> int:
    """Return RD(lb): the opening day of the window instance that holds the last start.

    The earlier of the start's day and the day before (a window crossing midnight) wins;
    a start outside every window belongs to its own day. `day` is the start's wall day
    when the caller knows it already.
    """
    if day is None:
        day = wall_day(plan, last_begin)
    for opening in plan.openings(day):
        if plan.calendar.is_static(opening):
            for start, stop in plan.bounds(opening):
                if start <= last_begin < stop:
                    return opening
    return day


def is_due(plan: Plan, at: int, last_begin: int | None, last_end: int | None) -> bool:
    """Return whether a start is due at instant `at`, given the last start and end."""
    if last_begin is not None and last_begin > at:
        return False  # the clock went back: wait until it passes the last start again
    rd = None if last_begin is None else run_day(plan, last_begin)
    today = wall_day(plan, at)
    for opening in plan.openings(today):
        for (start, stop), window in zip(plan.bounds(opening), plan.windows, strict=True):
            if not start <= at < stop or not plan.calendar.is_open(opening, rd):
                continue
            if (
                last_begin is not None
                and start <= last_begin < stop
                and window.earliest(at, last_begin, last_end) != at
            ):
                continue  # this instance already started and its repeat rule says wait
            return True
    return False
