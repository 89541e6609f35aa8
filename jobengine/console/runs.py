"""A schedule's next runs as the console shows them: in the schedule's time zone, with the
daylight-saving changes between runs and the runs inside a repeated hour marked. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from jobengine.schedule import Schedule

NEXT_RUNS = 10


def upcoming(
    schedule: Schedule, after: datetime, last_begin: datetime | None, count: int = NEXT_RUNS
) -> list[datetime]:
    """Its next `count` starts from `after`, each taken as the last start of the next."""
    out: list[datetime] = []
    at, last = after, last_begin
    for _ in range(count):
        try:
            run = schedule.next_run(at, last_begin=last)
        except (OverflowError, ValueError):
            break
        if run is None or (out and run <= out[-1]):
            break
        out.append(run)
        last, at = run, run
    return out


def lines(runs: list[datetime], zone: tzinfo) -> list[str]:
    """One line per run in `zone`: a DST change since the run before, or a run whose wall
    time comes twice (the repeated hour), is marked after the time."""
    out: list[str] = []
    before: timedelta | None = None
    for run in runs:
        wall = run.astimezone(zone)
        offset = wall.utcoffset()
        text = wall.strftime("%Y-%m-%d %H:%M:%S %Z")
        marks = []
        if before is not None and offset is not None and offset != before:
            change = "forward: an hour skipped" if offset > before else "back: an hour repeated"
            marks.append(f"clocks went {change}")
        if _is_repeated(wall):
            marks.append("in the repeated hour" + (" (second pass)" if wall.fold else ""))
        out.append(text + (f"  <- {'; '.join(marks)}" if marks else ""))
        before = offset
    return out


def _is_repeated(wall: datetime) -> bool:
    """True when this wall time happens twice in its zone (the hour clocks go back over)."""
    other = wall.replace(fold=1 - wall.fold)
    return other.utcoffset() != wall.utcoffset()


def zone_of(schedule: Schedule) -> tzinfo:
    """The zone a schedule's wall times are in: its own, else this machine's."""
    if schedule.timezone:
        return ZoneInfo(schedule.timezone)
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def preview(
    schedule: Schedule, after: datetime, last_begin: datetime | None, count: int = NEXT_RUNS
) -> list[str]:
    """The lines of its next `count` runs in its zone, marked."""
    return lines(upcoming(schedule, after, last_begin, count), zone_of(schedule))
