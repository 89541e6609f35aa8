"""The schedules documented for 1C (spec section 2), checked with is_due and next_run."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from jobengine.schedule import Schedule


def sched(**fields: Any) -> Schedule:
    return Schedule(timezone="UTC", **fields)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_hourly_on_one_day_repeats_an_hour_after_each_start() -> None:
    s = sched(days_repeat_period=0, repeat_period_in_day=3600)
    assert s.is_due(dt("2024-05-01 10:00"))
    assert s.next_run(dt("2024-05-01 10:00")) == dt("2024-05-01 10:00")
    lb, le = dt("2024-05-01 10:00"), dt("2024-05-01 10:05")
    assert not s.is_due(dt("2024-05-01 10:59:59"), lb, le)
    assert s.is_due(dt("2024-05-01 11:00"), lb, le)
    assert s.next_run(dt("2024-05-01 10:05"), lb, le) == dt("2024-05-01 11:00")


def test_hourly_on_one_day_stops_when_the_day_ends() -> None:
    s = sched(days_repeat_period=0, repeat_period_in_day=3600)
    lb = dt("2024-05-01 23:10")
    assert not s.is_due(dt("2024-05-02 00:30"), lb, lb)
    assert s.next_run(dt("2024-05-01 23:20"), lb, lb) is None


def test_every_day_once_runs_once_per_calendar_day() -> None:
    s = sched(days_repeat_period=1)
    assert s.is_due(dt("2024-05-01 15:00"))
    lb = dt("2024-05-01 15:00")
    assert not s.is_due(dt("2024-05-01 23:59:59"), lb, lb)
    assert s.is_due(dt("2024-05-02 00:00"), lb, lb)
    assert s.next_run(lb, lb, lb) == dt("2024-05-02 00:00")


def test_one_day_once_never_runs_again_after_its_run() -> None:
    s = sched(days_repeat_period=0)
    assert s.is_due(dt("2024-05-01 08:00"))
    lb = dt("2024-05-01 08:00")
    assert not s.is_due(dt("2024-05-03 08:00"), lb, lb)
    assert s.next_run(lb, lb, lb) is None


def test_every_other_day_counts_from_the_last_run_day() -> None:
    s = sched(days_repeat_period=2)
    lb = dt("2024-05-01 10:00")
    assert not s.is_due(dt("2024-05-02 10:00"), lb, lb)
    assert s.is_due(dt("2024-05-03 00:00"), lb, lb)
    assert s.next_run(lb, lb, lb) == dt("2024-05-03 00:00")


def test_hourly_from_one_to_seven() -> None:
    s = sched(days_repeat_period=1, repeat_period_in_day=3600, begin_time=time(1), end_time=time(7))
    assert not s.is_due(dt("2024-05-01 00:59:59"))
    assert s.is_due(dt("2024-05-01 01:00"))
    assert s.is_due(dt("2024-05-01 07:00:00"))  # the end second is inclusive
    assert not s.is_due(dt("2024-05-01 07:00:01"))
    runs, at = [], dt("2024-05-01 00:00")
    last: datetime | None = None
    for _ in range(8):
        found = s.next_run(at, last, last)
        assert found is not None
        runs.append(found)
        at = last = found
    expected = [dt(f"2024-05-01 0{h}:00") for h in range(1, 8)] + [dt("2024-05-02 01:00")]
    assert runs == expected


def test_saturday_and_sunday_at_nine() -> None:
    s = sched(days_repeat_period=1, week_days=[6, 7], begin_time=time(9))
    assert not s.is_due(dt("2024-05-03 10:00"))  # Friday
    assert not s.is_due(dt("2024-05-04 08:59:59"))
    assert s.is_due(dt("2024-05-04 09:00"))
    assert s.next_run(dt("2024-05-01 12:00")) == dt("2024-05-04 09:00")
    sat = dt("2024-05-04 09:00")
    assert s.next_run(sat, sat, sat) == dt("2024-05-05 09:00")
    sun = dt("2024-05-05 09:00")
    assert s.next_run(sun, sun, sun) == dt("2024-05-11 09:00")


def test_a_week_on_a_week_off_counts_weeks_from_the_run_day() -> None:
    s = sched(days_repeat_period=1, weeks_period=2)
    lb = dt("2024-05-06 00:00")  # Monday
    assert s.is_due(dt("2024-05-07 00:00"), lb, lb)  # same week: daily
    assert not s.is_due(dt("2024-05-13 12:00"), lb, lb)  # the week off
    assert s.is_due(dt("2024-05-20 00:00"), lb, lb)
    sunday = dt("2024-05-12 00:00")
    assert s.next_run(sunday, sunday, sunday) == dt("2024-05-20 00:00")


def test_once_at_one_is_made_up_later_that_day() -> None:
    s = sched(begin_time=time(1))
    assert not s.is_due(dt("2024-05-01 00:59"))
    assert s.is_due(dt("2024-05-01 01:00"))
    assert s.is_due(dt("2024-05-01 23:00"))  # a missed start is made up in the open window
    assert s.next_run(dt("2024-05-01 00:00")) == dt("2024-05-01 01:00")
    lb = dt("2024-05-01 01:00")
    assert s.next_run(lb, lb, lb) is None


def test_last_day_of_month_at_nine() -> None:
    s = sched(days_repeat_period=1, day_in_month=-1, begin_time=time(9))
    assert s.is_due(dt("2024-02-29 09:00"))
    assert not s.is_due(dt("2024-02-28 09:00"))
    assert s.next_run(dt("2024-02-01 00:00")) == dt("2024-02-29 09:00")
    assert s.next_run(dt("2023-02-01 00:00")) == dt("2023-02-28 09:00")
    lb = dt("2024-04-30 09:00")
    assert s.next_run(lb, lb, lb) == dt("2024-05-31 09:00")


def test_fifth_of_month_at_nine() -> None:
    s = sched(days_repeat_period=1, day_in_month=5, begin_time=time(9))
    assert s.is_due(dt("2024-05-05 09:00"))
    assert not s.is_due(dt("2024-05-06 09:00"))
    lb = dt("2024-05-05 09:00")
    assert s.next_run(lb, lb, lb) == dt("2024-06-05 09:00")


def test_second_wednesday_at_nine() -> None:
    s = sched(days_repeat_period=1, week_day_in_month=2, week_days=[3], begin_time=time(9))
    assert not s.is_due(dt("2024-05-01 09:00"))  # first Wednesday
    assert s.is_due(dt("2024-05-08 09:00"))
    assert s.next_run(dt("2024-05-01 00:00")) == dt("2024-05-08 09:00")
    lb = dt("2024-05-08 09:00")
    assert s.next_run(lb, lb, lb) == dt("2024-06-12 09:00")


def test_bsp_night_window_runs_once_between_eight_pm_and_eight_am() -> None:
    s = sched(days_repeat_period=1, begin_time=time(20), end_time=time(8))
    assert s.is_due(dt("2024-05-02 07:59"))
    assert not s.is_due(dt("2024-05-02 12:00"))
    lb = dt("2024-05-01 23:00")
    assert not s.is_due(dt("2024-05-02 03:00"), lb, lb)  # same instance, already run
    assert s.next_run(lb, lb, lb) == dt("2024-05-02 20:00")


def test_bsp_period_with_pause_waits_for_both() -> None:
    s = sched(
        days_repeat_period=1,
        begin_time=time(1),
        end_time=time(6),
        repeat_period_in_day=900,
        repeat_pause=300,
    )
    lb = dt("2024-05-01 01:00")
    assert s.next_run(lb, lb, dt("2024-05-01 01:02")) == dt("2024-05-01 01:15")
    assert s.next_run(lb, lb, dt("2024-05-01 01:14")) == dt("2024-05-01 01:19")


def test_bsp_completion_at_four_sets_the_deadline() -> None:
    s = sched(days_repeat_period=1, begin_time=time(3), completion_time=time(4))
    assert s.deadline(dt("2024-05-01 03:00")) == dt("2024-05-01 04:00")
