"""DST matrix: spring-forward gaps and fall-back repeats in three zones (package docstring rules).

Expected instants are built with zoneinfo and compared in UTC, because datetimes sharing a
tzinfo compare by wall fields and ignore `fold`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from jobengine.schedule import Schedule


@dataclass(frozen=True)
class Change:
    """One DST change: its local day, where the affected wall times start and end."""

    zone: str
    day: date
    first: time  # first wall time skipped (gap) or repeated (fall back)
    last: time  # first wall time after the gap / the repeat

    def wall(self, at: time, fold: int = 0, days: int = 0) -> datetime:
        """Return a wall time of this day (or a later one) as an aware UTC instant."""
        local = datetime.combine(self.day + timedelta(days=days), at, ZoneInfo(self.zone))
        return local.replace(fold=fold).astimezone(UTC)

    def midnight(self, days: int = 0) -> datetime:
        return self.wall(time(0), days=days)

    def between(self) -> time:
        """Return a wall time halfway through the affected span."""
        first = datetime.combine(self.day, self.first)
        last = datetime.combine(self.day, self.last)
        return (first + (last - first) / 2).time()


GAPS = [
    Change("Europe/Berlin", date(2024, 3, 31), time(2), time(3)),
    Change("America/New_York", date(2024, 3, 10), time(2), time(3)),
    Change("Australia/Lord_Howe", date(2024, 10, 6), time(2), time(2, 30)),
]
REPEATS = [
    Change("Europe/Berlin", date(2024, 10, 27), time(2), time(3)),
    Change("America/New_York", date(2024, 11, 3), time(1), time(2)),
    Change("Australia/Lord_Howe", date(2024, 4, 7), time(1, 30), time(2)),
]
ALL = [pytest.param(c, id=f"{c.zone}-{c.day}") for c in GAPS + REPEATS]
gaps = pytest.mark.parametrize("change", [pytest.param(c, id=c.zone) for c in GAPS])
repeats = pytest.mark.parametrize("change", [pytest.param(c, id=c.zone) for c in REPEATS])


def chain(s: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """Return every start from `after` to `until`, feeding each back as the last start."""
    found: list[datetime] = []
    at, last = after, None
    while (nxt := s.next_run(at, last, last)) is not None and nxt < until:
        found.append(nxt)
        at = last = nxt
    return found


def test_zones_in_the_matrix_really_change_on_those_days() -> None:
    for change in GAPS:
        assert change.wall(change.last) - change.midnight() < timedelta(
            hours=change.last.hour, minutes=change.last.minute
        )
    for change in REPEATS:
        assert change.wall(change.first, fold=1) > change.wall(change.first, fold=0)


@gaps
def test_time_in_a_gap_runs_once_at_the_end_of_the_gap(change: Change) -> None:
    s = Schedule(days_repeat_period=1, begin_time=change.between(), timezone=change.zone)
    runs = chain(s, change.midnight(), change.midnight(days=2))
    assert runs == [change.wall(change.last), change.wall(change.between(), days=1)]


@gaps
def test_window_inside_a_gap_opens_once_at_the_end_of_the_gap(change: Change) -> None:
    s = Schedule(
        days_repeat_period=1,
        begin_time=change.first,
        end_time=change.between(),
        repeat_period_in_day=60,
        timezone=change.zone,
    )
    runs = chain(s, change.midnight(), change.midnight(days=1))
    assert runs == [change.wall(change.last)]
    assert s.is_due(change.wall(change.last))
    assert not s.is_due(change.wall(change.last) + timedelta(seconds=1))


@repeats
def test_time_in_a_repeated_hour_runs_once_at_its_first_occurrence(change: Change) -> None:
    s = Schedule(days_repeat_period=1, begin_time=change.between(), timezone=change.zone)
    runs = chain(s, change.midnight(), change.midnight(days=2))
    assert runs == [change.wall(change.between()), change.wall(change.between(), days=1)]
    assert not s.is_due(change.wall(change.between(), fold=1), runs[0], runs[0])


@pytest.mark.parametrize("change", ALL)
def test_hourly_counts_real_hours_through_the_day(change: Change) -> None:
    s = Schedule(days_repeat_period=1, repeat_period_in_day=3600, timezone=change.zone)
    start, stop = change.midnight(), change.midnight(days=1)
    runs = chain(s, start, stop)
    expected = []
    at = start
    while at < stop:
        expected.append(at)
        at += timedelta(hours=1)
    assert runs == expected
    assert stop - start != timedelta(hours=24)  # the day really is shorter or longer


@repeats
def test_period_inside_a_window_spanning_the_repeat_counts_elapsed_time(change: Change) -> None:
    begin = (datetime.combine(change.day, change.first) - timedelta(hours=1)).time()
    end = (datetime.combine(change.day, change.last) + timedelta(hours=1)).time()
    s = Schedule(
        days_repeat_period=1,
        begin_time=begin,
        end_time=end,
        repeat_period_in_day=1800,
        timezone=change.zone,
    )
    start, stop = change.wall(begin), change.wall(end) + timedelta(seconds=1)
    runs = chain(s, change.midnight(), change.midnight(days=1))
    expected = []
    at = start
    while at < stop:
        expected.append(at)
        at += timedelta(minutes=30)
    assert runs == expected
    second_copy = (change.wall(change.first, fold=1), change.wall(change.last))
    assert any(second_copy[0] <= run < second_copy[1] for run in runs)  # it runs there too


@gaps
def test_period_across_a_gap_counts_elapsed_time(change: Change) -> None:
    s = Schedule(
        days_repeat_period=1,
        begin_time=time(0, 30),
        end_time=time(5),
        repeat_period_in_day=3600,
        timezone=change.zone,
    )
    runs = chain(s, change.midnight(), change.midnight(days=1))
    start, stop = change.wall(time(0, 30)), change.wall(time(5)) + timedelta(seconds=1)
    assert runs[0] == start
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(runs))
    assert runs[-1] + timedelta(hours=1) >= stop


@gaps
def test_deadline_in_a_gap_is_the_end_of_the_gap(change: Change) -> None:
    s = Schedule(days_repeat_period=1, completion_time=change.between(), timezone=change.zone)
    assert s.deadline(change.midnight()) == change.wall(change.last)


@repeats
def test_deadline_in_a_repeated_hour_is_its_next_occurrence(change: Change) -> None:
    s = Schedule(days_repeat_period=1, completion_time=change.between(), timezone=change.zone)
    assert s.deadline(change.midnight()) == change.wall(change.between())
    after_first = change.wall(change.between()) + timedelta(seconds=1)
    assert s.deadline(after_first) == change.wall(change.between(), fold=1)


@repeats
def test_naive_results_carry_fold_for_the_second_copy(change: Change) -> None:
    s = Schedule(days_repeat_period=1, repeat_period_in_day=1800, timezone=change.zone)
    first = change.wall(change.between()).astimezone(ZoneInfo(change.zone)).replace(tzinfo=None)
    nxt = s.next_run(first, first, first)
    assert nxt is not None
    as_utc = nxt.replace(tzinfo=ZoneInfo(change.zone)).astimezone(UTC)
    assert as_utc == change.wall(change.between()) + timedelta(minutes=30)
