"""Future instants of a schedule: the next due start and the deadline of a run."""

from __future__ import annotations

from jobengine.schedule.calendar import NEVER
from jobengine.schedule.due import run_day, wall_day
from jobengine.schedule.plan import Plan
from jobengine.schedule.zone import DAY_US

HORIZON_DAYS = 8 * 366 + 2
"""How far `next_run` looks ahead (about 8 years) before it answers None."""
_NONE = 1 << 62  # "no instant yet": later than any real one, keeps comparisons plain ints


def next_run(plan: Plan, after: int, last_begin: int | None, last_end: int | None) -> int | None:
    """Return the earliest instant >= `after` at which a start is due, or None.

    Assumes no start happens in between. Walks opening days from the day before `after`
    (a window may cross midnight), jumping over days the filters reject.
    """
    if last_begin is not None and last_begin > after:
        after = last_begin  # nothing is due before the clock passes the last start
    today = plan.zone.to_wall(after) // DAY_US + 1
    rd = None
    if last_begin is not None:
        rd = run_day(plan, last_begin, today if last_begin == after else None)
    day = today - 1 if plan.crosses else today
    limit = min(day + HORIZON_DAYS, NEVER - 2)
    best = _NONE
    while (found := plan.calendar.next_day(day, rd, limit)) is not None:
        day = found
        bounds = plan.bounds(day)
        # windows of later days open after every window of this one: stop once none can win
        if best < _NONE and min(start for start, _ in bounds) >= best:
            break
        best = min(best, _earliest_on(plan, bounds, after, last_begin, last_end))
        if best < _NONE and not plan.crosses:
            break  # best < stop <= the next midnight <= every later opening
        day += 1
    return None if best == _NONE else best


def _earliest_on(
    plan: Plan,
    bounds: tuple[tuple[int, int], ...],
    after: int,
    last_begin: int | None,
    last_end: int | None,
) -> int:
    """Return the earliest due instant >= `after` in one day's window instances, or _NONE."""
    best = _NONE
    for (start, stop), window in zip(bounds, plan.windows, strict=True):
        if stop <= after:
            continue
        candidate = start if start > after else after
        if last_begin is not None and start <= last_begin < stop:
            held = window.earliest(candidate, last_begin, last_end)
            if held is None:
                continue  # one start per instance, and it has had it
            candidate = held
        if candidate < stop and candidate < best:
            best = candidate
    return best


def deadline(plan: Plan, run_start: int) -> int | None:
    """Return when a run that started at `run_start` must be stopped, or None.

    The windows that hold the start decide (each detailed daily schedule keeps its own
    completion); a start outside every window takes the strictest of all of them.
    """
    today = wall_day(plan, run_start)
    holders = [
        window
        for opening in plan.openings(today)
        if plan.calendar.is_static(opening)
        for (start, stop), window in zip(plan.bounds(opening), plan.windows, strict=True)
        if start <= run_start < stop
    ]
    best: int | None = None
    for window in holders or plan.windows:
        ends = []
        if window.limit:
            ends.append(run_start + window.limit)
        if window.completion is not None:
            ends.append(_clock_after(plan, run_start, window.completion))
        for end in ends:
            if best is None or end < best:
                best = end
    return best


def _clock_after(plan: Plan, instant: int, clock_us: int) -> int:
    """Return the first instant after `instant` whose wall clock reads `clock_us`."""
    today = wall_day(plan, instant)
    for day in (today, today + 1, today + 2):
        for candidate in plan.zone.occurrences((day - 1) * DAY_US + clock_us):
            if candidate > instant:
                return candidate
    raise AssertionError("a clock time recurs within two days")  # pragma: no cover
