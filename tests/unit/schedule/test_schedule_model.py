"""The Schedule value: validation, equality, dict form and description (spec sections 2 and 4)."""

from __future__ import annotations

import pickle
from copy import deepcopy
from datetime import date, datetime, time
from typing import Any

import pytest

from jobengine.errors import ScheduleError
from jobengine.schedule import Schedule

# validation


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"week_days": [1, 8]}, "week_days", 8),
        ({"week_days": [0]}, "week_days", 0),
        ({"months": [13]}, "months", 13),
        ({"day_in_month": 32}, "day_in_month", 32),
        ({"day_in_month": -32}, "day_in_month", -32),
        ({"week_day_in_month": 6}, "week_day_in_month", 6),
        ({"week_day_in_month": -6}, "week_day_in_month", -6),
        ({"days_repeat_period": -1}, "days_repeat_period", -1),
        ({"repeat_period_in_day": -5}, "repeat_period_in_day", -5),
        ({"repeat_pause": -1}, "repeat_pause", -1),
        ({"completion_interval": -1}, "completion_interval", -1),
        ({"weeks_period": -2}, "weeks_period", -2),
        ({"days_repeat_period": True}, "days_repeat_period", True),
        ({"days_repeat_period": 1.5}, "days_repeat_period", 1.5),
        ({"begin_time": "09:00"}, "begin_time", "09:00"),
        ({"begin_date": datetime(2024, 1, 1)}, "begin_date", datetime(2024, 1, 1)),
        ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"detailed_daily_schedules": [{"begin_time": time(1)}]}, "detailed_daily_schedules", None),
    ],
)
def test_bad_values_raise_schedule_error_naming_field_and_value(
    fields: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule(**fields)
    assert info.value.field == field
    if value is not None:
        assert info.value.value == value
        assert repr(value) in str(info.value)


def test_end_date_before_begin_date_is_refused() -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule(begin_date=date(2024, 5, 2), end_date=date(2024, 5, 1))
    assert info.value.field == "end_date"
    assert info.value.value == date(2024, 5, 1)


def test_day_in_month_zero_and_limits_are_accepted() -> None:
    for value in (0, 31, -31):
        assert Schedule(day_in_month=value).day_in_month == value


def test_schedule_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Schedule(months=[0])


# equality


def test_xml_form_equals_empty_form() -> None:
    xml = Schedule(week_days=range(1, 8), months=range(1, 13), weeks_period=1, timezone="UTC")
    empty = Schedule(timezone="UTC")
    assert xml == empty
    assert hash(xml) == hash(empty)
    at = datetime(2024, 5, 1, 10)
    assert xml.is_due(at) == empty.is_due(at)
    assert xml.next_run(at) == empty.next_run(at)


def test_midnight_equals_unset_time() -> None:
    assert Schedule(begin_time=time(0), end_time=time(0)) == Schedule()


def test_lists_are_sorted_and_deduplicated() -> None:
    s = Schedule(week_days=[7, 6, 6], months=(3, 1))
    assert s.week_days == (6, 7)
    assert s.months == (1, 3)
    assert s == Schedule(week_days=[6, 7], months=[1, 3])


def test_different_schedules_differ() -> None:
    assert Schedule(begin_time=time(9)) != Schedule(begin_time=time(10))
    assert Schedule(timezone="UTC") != Schedule(timezone="Europe/Berlin")
    assert Schedule() != "Schedule()"


def test_schedule_is_immutable() -> None:
    s = Schedule()
    with pytest.raises(AttributeError):
        s.begin_time = time(1)  # type: ignore[misc]


# dict form


def test_from_dict_reads_times_and_dates() -> None:
    s = Schedule.from_dict(
        {
            "days_repeat_period": 1,
            "begin_time": "01:00",
            "end_time": "07:00:30",
            "begin_date": "2024-03-10",
            "week_days": [1, 5],
            "detailed_daily_schedules": [{"begin_time": "9:15"}],
            "timezone": "Europe/Berlin",
        }
    )
    assert s.begin_time == time(1)
    assert s.end_time == time(7, 0, 30)
    assert s.begin_date == date(2024, 3, 10)
    assert s.week_days == (1, 5)
    assert s.detailed_daily_schedules == (Schedule(begin_time=time(9, 15)),)


def test_dict_form_round_trips() -> None:
    s = Schedule(
        days_repeat_period=2,
        begin_date=date(2024, 1, 1),
        end_date=date(2025, 1, 1),
        begin_time=time(22),
        end_time=time(2, 30, 15),
        completion_time=time(3),
        completion_interval=900,
        repeat_period_in_day=600,
        repeat_pause=60,
        week_days=[1, 2],
        weeks_period=3,
        months=[5],
        day_in_month=-1,
        week_day_in_month=-1,
        detailed_daily_schedules=[Schedule(begin_time=time(1), repeat_pause=5)],
        timezone="America/New_York",
    )
    data = s.to_dict()
    assert data["end_time"] == "02:30:15"
    assert data["begin_date"] == "2024-01-01"
    assert data["detailed_daily_schedules"] == [{"begin_time": "01:00", "repeat_pause": 5}]
    assert Schedule.from_dict(data) == s


def test_to_dict_omits_defaults() -> None:
    assert Schedule().to_dict() == {}
    assert Schedule(days_repeat_period=1, begin_time=time(5)).to_dict() == {
        "begin_time": "05:00",
        "days_repeat_period": 1,
    }


def test_from_dict_refuses_unknown_key_naming_it() -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule.from_dict({"days_repeat_period": 1, "every": "hour"})
    assert info.value.field == "every"


@pytest.mark.parametrize("text", ["25:00", "12:60", "9", "noon", "12:00:61"])
def test_from_dict_refuses_bad_times(text: str) -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule.from_dict({"begin_time": text})
    assert info.value.field == "begin_time"
    assert info.value.value == text


def test_from_dict_refuses_yaml_sexagesimal_number_for_time() -> None:
    with pytest.raises(ScheduleError, match="quoted"):
        Schedule.from_dict({"end_time": 300})


def test_from_dict_refuses_bad_date_and_non_mapping() -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule.from_dict({"end_date": "2024-13-01"})
    assert info.value.field == "end_date"
    with pytest.raises(ScheduleError):
        Schedule.from_dict(["begin_time"])  # type: ignore[arg-type]


# description (spec section 4, verbatim)


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (
            Schedule(days_repeat_period=1, repeat_period_in_day=1800),
            "Every day; every 1800 seconds",
        ),
        (
            Schedule(days_repeat_period=1, week_days=[6, 7], begin_time=time(9)),
            "Every day; on Saturday, Sunday; from 9:00:00 once a day",
        ),
        (
            Schedule(days_repeat_period=1, week_days=[3], week_day_in_month=2, begin_time=time(9)),
            "Every day; on Wednesday; in week 2 of the month; from 9:00:00 once a day",
        ),
        (
            Schedule(
                begin_date=date(2024, 3, 10),
                end_date=date(2024, 3, 12),
                days_repeat_period=1,
                begin_time=time(10),
            ),
            "From 10.03.2024 to 12.03.2024 every day; from 10:00:00 once a day",
        ),
        (Schedule(), "Once"),
        (
            Schedule(
                days_repeat_period=1,
                begin_time=time(1),
                end_time=time(7),
                repeat_period_in_day=3600,
            ),
            "Every day; from 1:00:00 to 7:00:00 every 3600 seconds",
        ),
        (
            Schedule(days_repeat_period=1, day_in_month=-1, begin_time=time(9)),
            "Every day; on the last day of the month; from 9:00:00 once a day",
        ),
    ],
)
def test_str_matches_the_spec_examples(schedule: Schedule, text: str) -> None:
    assert str(schedule) == text


def test_str_covers_every_field_in_order() -> None:
    s = Schedule(
        days_repeat_period=3,
        weeks_period=2,
        week_days=[1, 5],
        months=[1, 4],
        day_in_month=-3,
        week_day_in_month=-2,
        begin_time=time(7),
        end_time=time(18),
        repeat_period_in_day=600,
        repeat_pause=60,
        completion_time=time(18, 30),
        completion_interval=120,
    )
    assert str(s) == (
        "Every 3 days; every 2 weeks on Monday, Friday; in January, April; "
        "on day 3 from the end of the month, in week 2 from the end of the month; "
        "from 7:00:00 to 18:00:00 every 600 seconds, pause 60 seconds, "
        "finish after 18:30:00, finish in 120 seconds"
    )


def test_str_of_pause_only_and_detailed_schedules() -> None:
    s = Schedule(
        days_repeat_period=1,
        day_in_month=5,
        detailed_daily_schedules=[
            Schedule(end_time=time(6), repeat_pause=300),
            Schedule(begin_time=time(20)),
        ],
    )
    assert str(s) == (
        "Every day; on day 5 of the month; to 6:00:00 repeat with pause 300 seconds; "
        "from 20:00:00 once a day"
    )


def test_str_omits_all_days_and_all_months() -> None:
    s = Schedule(days_repeat_period=1, week_days=range(1, 8), months=range(1, 13))
    assert str(s) == "Every day"
    assert str(Schedule(day_in_month=-1, week_day_in_month=-1)) == (
        "Once; on the last day of the month, in the last week of the month"
    )


def test_schedule_survives_pickle_and_deepcopy() -> None:
    s = Schedule(days_repeat_period=1, begin_time=time(9), timezone="Europe/Berlin")
    at = datetime(2024, 5, 1, 10)
    for copy in (pickle.loads(pickle.dumps(s)), deepcopy(s)):
        assert copy == s
        assert copy.next_run(at) == s.next_run(at)


def test_str_with_detailed_schedules_leaves_out_the_main_daily_fields() -> None:
    s = Schedule(
        days_repeat_period=1,
        begin_time=time(5),
        repeat_period_in_day=60,
        detailed_daily_schedules=[Schedule(begin_time=time(9), end_time=time(10))],
    )
    assert str(s) == "Every day; from 9:00:00 to 10:00:00 once a day"
