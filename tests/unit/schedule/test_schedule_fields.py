"""Per-field behaviour of the due check and next run (spec sections 2, 3 and 9)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jobengine.schedule import Schedule


def sched(**fields: Any) -> Schedule:
    return Schedule(timezone="UTC", **fields)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def runs(s: Schedule, after: str, count: int) -> list[datetime]:
    """Return `count` successive starts, feeding each one back as the last start."""
    found: list[datetime] = []
    at, last = dt(after), None
    for _ in range(count):
        nxt = s.next_run(at, last, last)
        assert nxt is not None
        found.append(nxt)
        at = last = nxt
    return found


# month ends and leap years


def test_day_31_skips_short_months_without_clamping() -> None:
    s = sched(days_repeat_period=1, day_in_month=31)
    assert runs(s, "2024-04-01", 3) == [dt("2024-05-31"), dt("2024-07-31"), dt("2024-08-31")]


def test_day_30_skips_february() -> None:
    s = sched(days_repeat_period=1, day_in_month=30)
    assert s.next_run(dt("2024-02-01")) == dt("2024-03-30")


def test_february_29th_waits_for_a_leap_year() -> None:
    s = sched(days_repeat_period=1, months=[2], day_in_month=29)
    assert s.next_run(dt("2025-01-01")) == dt("2028-02-29")
    assert runs(s, "2096-03-01", 2) == [dt("2104-02-29"), dt("2108-02-29")]  # 2100 is not leap


def test_negative_day_in_month_counts_from_the_end() -> None:
    s = sched(days_repeat_period=1, day_in_month=-2)
    assert runs(s, "2023-02-01", 3) == [dt("2023-02-27"), dt("2023-03-30"), dt("2023-04-29")]
    assert s.next_run(dt("2024-02-01")) == dt("2024-02-28")


def test_day_minus_31_exists_only_in_long_months() -> None:
    s = sched(days_repeat_period=1, day_in_month=-31)
    assert runs(s, "2024-04-01", 2) == [dt("2024-05-01"), dt("2024-07-01")]


def test_last_week_of_month_is_the_last_seven_days() -> None:
    s = sched(days_repeat_period=1, week_day_in_month=-1)
    assert s.next_run(dt("2024-02-01")) == dt("2024-02-23")  # 29 - 6
    assert not s.is_due(dt("2024-02-22 12:00"))
    assert s.is_due(dt("2024-02-29 12:00"))


def test_last_friday_of_the_month() -> None:
    s = sched(days_repeat_period=1, week_day_in_month=-1, week_days=[5], begin_time=time(17))
    assert runs(s, "2024-05-01", 3) == [
        dt("2024-05-31 17:00"),
        dt("2024-06-28 17:00"),
        dt("2024-07-26 17:00"),
    ]


def test_fifth_week_block_is_missing_in_a_common_february() -> None:
    s = sched(days_repeat_period=1, week_day_in_month=5)
    assert s.next_run(dt("2023-02-01")) == dt("2023-03-29")
    assert s.next_run(dt("2024-02-01")) == dt("2024-02-29")


def test_months_filter_limits_to_listed_months() -> None:
    s = sched(days_repeat_period=1, months=[1, 7], day_in_month=1, begin_time=time(6))
    assert runs(s, "2024-02-01", 3) == [
        dt("2024-07-01 06:00"),
        dt("2025-01-01 06:00"),
        dt("2025-07-01 06:00"),
    ]


def test_filters_are_anded() -> None:
    s = sched(days_repeat_period=1, day_in_month=13, week_days=[5])  # Friday the 13th
    assert runs(s, "2024-01-01", 3) == [dt("2024-09-13"), dt("2024-12-13"), dt("2025-06-13")]


# repeat periods of days and weeks


def test_weeks_period_counts_from_begin_date() -> None:
    s = sched(days_repeat_period=1, weeks_period=2, begin_date=date(2024, 5, 8))  # a Wednesday
    assert not s.is_due(dt("2024-05-07 12:00"))  # before the begin date
    assert s.is_due(dt("2024-05-12 12:00"))  # week 0 (Monday 6 May)
    assert not s.is_due(dt("2024-05-13 12:00"))  # week 1
    assert s.is_due(dt("2024-05-20 00:00"))  # week 2
    last = dt("2024-05-12 00:00")
    assert s.next_run(last, last, last) == dt("2024-05-20 00:00")


def test_days_repeat_period_counts_from_begin_date() -> None:
    s = sched(days_repeat_period=3, begin_date=date(2024, 5, 1), begin_time=time(12))
    assert s.is_due(dt("2024-05-04 12:00"))
    assert not s.is_due(dt("2024-05-05 12:00"))
    assert runs(s, "2024-05-02", 3) == [
        dt("2024-05-04 12:00"),
        dt("2024-05-07 12:00"),
        dt("2024-05-10 12:00"),
    ]


def test_days_repeat_period_without_anchor_allows_any_first_day() -> None:
    s = sched(days_repeat_period=5)
    assert s.is_due(dt("2024-05-02 12:00"))
    assert s.is_due(dt("2024-05-03 12:00"))


# daily windows


def test_window_crossing_midnight_belongs_to_its_opening_day() -> None:
    s = sched(days_repeat_period=1, week_days=[5], begin_time=time(22), end_time=time(2))
    assert not s.is_due(dt("2024-05-03 21:59:59"))  # Friday before the window
    assert s.is_due(dt("2024-05-03 22:00"))
    assert s.is_due(dt("2024-05-04 01:00"))  # Saturday: tail of Friday's window
    assert s.is_due(dt("2024-05-04 02:00:00"))
    assert not s.is_due(dt("2024-05-04 02:00:01"))
    assert not s.is_due(dt("2024-05-04 22:00"))  # Saturday's own window is filtered out
    assert s.next_run(dt("2024-05-04 03:00")) == dt("2024-05-10 22:00")


def test_equal_begin_and_end_is_a_whole_day_window() -> None:
    s = sched(days_repeat_period=1, begin_time=time(6), end_time=time(6), repeat_period_in_day=3600)
    last = dt("2024-05-02 05:30")  # in the window opened on 1 May
    assert s.next_run(last, last, last) == dt("2024-05-02 06:00")  # new instance starts fresh


def test_a_new_instance_starts_fresh_after_midnight() -> None:
    s = sched(days_repeat_period=1, repeat_period_in_day=3600)
    last = dt("2024-05-01 23:30")
    assert s.next_run(last, last, last) == dt("2024-05-02 00:00")


def test_repeat_period_counts_from_the_real_last_start() -> None:
    s = sched(days_repeat_period=1, begin_time=time(1), end_time=time(7), repeat_period_in_day=3600)
    last = dt("2024-05-01 01:17")
    assert not s.is_due(dt("2024-05-01 02:00"), last, last)
    assert s.next_run(last, last, last) == dt("2024-05-01 02:17")


def test_pause_counts_from_the_last_end() -> None:
    s = sched(days_repeat_period=1, repeat_pause=600)
    last, end = dt("2024-05-01 10:00"), dt("2024-05-01 10:30")
    assert not s.is_due(dt("2024-05-01 10:39:59"), last, end)
    assert s.is_due(dt("2024-05-01 10:40"), last, end)
    assert s.next_run(end, last, end) == dt("2024-05-01 10:40")


def test_pause_without_an_end_counts_from_the_start() -> None:
    s = sched(days_repeat_period=1, repeat_pause=600)
    last = dt("2024-05-01 10:00")
    assert s.next_run(last, last, None) == dt("2024-05-01 10:10")
    older_end = dt("2024-05-01 09:00")  # the end of an earlier run is ignored
    assert s.next_run(last, last, older_end) == dt("2024-05-01 10:10")


def test_last_start_after_the_check_means_not_due() -> None:
    s = sched(days_repeat_period=1, repeat_period_in_day=60)
    last = dt("2024-05-01 12:00")
    assert not s.is_due(dt("2024-05-01 11:00"), last, last)
    assert s.next_run(dt("2024-05-01 11:00"), last, last) == dt("2024-05-01 12:01")


def test_detailed_daily_schedules_give_several_windows() -> None:
    s = sched(
        days_repeat_period=1,
        detailed_daily_schedules=[
            Schedule(begin_time=time(9), end_time=time(10)),
            Schedule(begin_time=time(18), end_time=time(19), repeat_period_in_day=1800),
        ],
    )
    assert not s.is_due(dt("2024-05-01 12:00"))
    assert runs(s, "2024-05-01 00:00", 5) == [
        dt("2024-05-01 09:00"),
        dt("2024-05-01 18:00"),
        dt("2024-05-01 18:30"),
        dt("2024-05-01 19:00"),
        dt("2024-05-02 09:00"),
    ]


def test_detailed_daily_schedules_replace_main_daily_fields() -> None:
    s = sched(
        days_repeat_period=1,
        begin_time=time(3),
        detailed_daily_schedules=[Schedule(begin_time=time(9))],
    )
    assert not s.is_due(dt("2024-05-01 04:00"))
    assert s.is_due(dt("2024-05-01 09:00"))


def test_a_start_in_overlapping_windows_counts_for_each() -> None:
    s = sched(
        days_repeat_period=1,
        detailed_daily_schedules=[
            Schedule(begin_time=time(9), end_time=time(12)),
            Schedule(begin_time=time(10), end_time=time(11)),
        ],
    )
    last = dt("2024-05-01 10:30")
    assert not s.is_due(dt("2024-05-01 10:45"), last, last)
    assert s.next_run(last, last, last) == dt("2024-05-02 09:00")


# begin and end dates


def test_begin_and_end_dates_are_inclusive() -> None:
    s = sched(
        days_repeat_period=1,
        begin_date=date(2024, 3, 10),
        end_date=date(2024, 3, 12),
        begin_time=time(10),
    )
    assert s.next_run(dt("2024-03-01")) == dt("2024-03-10 10:00")
    assert s.is_due(dt("2024-03-12 10:00"))
    assert not s.is_due(dt("2024-03-13 10:00"))
    last = dt("2024-03-12 10:00")
    assert s.next_run(last, last, last) is None
    assert s.next_run(dt("2024-03-13")) is None


def test_once_before_any_run_makes_up_a_missed_day() -> None:
    s = sched(begin_date=date(2024, 5, 1), begin_time=time(9))
    assert s.is_due(dt("2024-05-03 09:30"))  # no run yet: any eligible day qualifies


def test_impossible_schedule_answers_none_within_the_horizon() -> None:
    s = sched(days_repeat_period=1, months=[2], day_in_month=30)
    assert s.next_run(dt("2024-01-01")) is None


# deadline


def test_deadline_takes_the_earlier_of_completion_time_and_interval() -> None:
    s = sched(days_repeat_period=1, completion_time=time(4), completion_interval=600)
    assert s.deadline(dt("2024-05-01 03:00")) == dt("2024-05-01 03:10")
    assert s.deadline(dt("2024-05-01 03:55")) == dt("2024-05-01 04:00")
    assert s.deadline(dt("2024-05-01 05:00")) == dt("2024-05-01 05:10")


def test_deadline_completion_time_is_the_next_such_clock_time() -> None:
    s = sched(days_repeat_period=1, completion_time=time(4))
    assert s.deadline(dt("2024-05-01 05:00")) == dt("2024-05-02 04:00")


def test_deadline_is_none_without_completion_fields() -> None:
    assert sched(days_repeat_period=1).deadline(dt("2024-05-01 05:00")) is None


def test_deadline_uses_the_daily_schedule_holding_the_start() -> None:
    s = sched(
        days_repeat_period=1,
        detailed_daily_schedules=[
            Schedule(begin_time=time(9), end_time=time(10), completion_interval=60),
            Schedule(begin_time=time(18), end_time=time(19), completion_interval=3600),
        ],
    )
    assert s.deadline(dt("2024-05-01 18:00")) == dt("2024-05-01 19:00")
    assert s.deadline(dt("2024-05-01 09:00")) == dt("2024-05-01 09:01")


# kinds of datetimes


def test_naive_in_naive_out_aware_in_aware_out_same_tzinfo() -> None:
    s = Schedule(days_repeat_period=1, begin_time=time(9), timezone="Europe/Berlin")
    naive = s.next_run(dt("2024-05-01 08:00"))
    assert naive == dt("2024-05-01 09:00") and naive.tzinfo is None
    aware = s.next_run(datetime(2024, 5, 1, 6, tzinfo=UTC))  # 08:00 in Berlin (CEST)
    assert aware == datetime(2024, 5, 1, 7, tzinfo=UTC) and aware.tzinfo is UTC
    tokyo = ZoneInfo("Asia/Tokyo")
    other = s.next_run(datetime(2024, 5, 1, 14, tzinfo=tokyo))  # 07:00 in Berlin
    assert other is not None and other.tzinfo is tokyo
    assert other == datetime(2024, 5, 1, 16, tzinfo=tokyo)


def test_microseconds_are_kept_when_after_is_inside_an_open_window() -> None:
    s = sched(days_repeat_period=1)
    at = dt("2024-05-01 10:00:00.123456")
    assert s.next_run(at) == at
    last = dt("2024-05-01 10:00:00.5")
    p = sched(days_repeat_period=1, repeat_period_in_day=10)
    assert p.next_run(last, last, last) == last + timedelta(seconds=10)


def test_local_zone_is_the_default() -> None:
    s = Schedule(days_repeat_period=1, begin_time=time(9))
    assert s.timezone is None
    assert s.next_run(dt("2024-05-01 08:00")) == dt("2024-05-01 09:00")


@pytest.mark.parametrize("horizon_years", [1, 7])
def test_far_next_run_is_found(horizon_years: int) -> None:
    s = sched(days_repeat_period=1, begin_date=date(2024 + horizon_years, 1, 1))
    assert s.next_run(dt("2024-01-01")) == datetime(2024 + horizon_years, 1, 1)
