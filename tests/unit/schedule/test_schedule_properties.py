"""Property tests: random schedules and instants against the spec transcription in `reference`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobengine.schedule import Schedule
from tests.unit.schedule import reference

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")

clock = st.one_of(
    st.none(),
    st.builds(
        time,
        st.integers(0, 23),
        st.sampled_from([0, 15, 30, 59]),
        st.sampled_from([0, 30, 59]),
    ),
)
daily: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "begin_time": clock,
        "end_time": clock,
        "repeat_period_in_day": st.sampled_from([0, 0, 60, 900, 3600, 7200, 86400]),
        "repeat_pause": st.sampled_from([0, 0, 0, 300, 5400]),
    }
)
day_sets = st.lists(st.integers(1, 7), max_size=3)
month_sets: st.SearchStrategy[list[int]] = st.one_of(
    st.just([]), st.lists(st.integers(1, 12), min_size=1, max_size=4)
)


@st.composite
def schedules(draw: st.DrawFn, zones: tuple[str, ...] = ("UTC",)) -> Schedule:
    begin = draw(st.one_of(st.none(), st.dates(date(2023, 6, 1), date(2025, 6, 1))))
    end = None
    if draw(st.booleans()) and draw(st.booleans()):
        end = (begin or date(2024, 1, 1)) + timedelta(days=draw(st.integers(0, 400)))
    details = draw(st.lists(daily, max_size=2)) if draw(st.booleans()) else []
    return Schedule(
        begin_date=begin,
        end_date=end,
        days_repeat_period=draw(st.integers(0, 3)),
        weeks_period=draw(st.sampled_from([0, 0, 1, 2, 3])),
        week_days=draw(day_sets),
        months=draw(month_sets),
        day_in_month=draw(st.one_of(st.just(0), st.just(0), st.integers(-31, 31))),
        week_day_in_month=draw(st.one_of(st.just(0), st.just(0), st.integers(-5, 5))),
        detailed_daily_schedules=[Schedule(**d) for d in details],
        timezone=draw(st.sampled_from(zones)),
        **draw(daily),
    )


instants = st.datetimes(datetime(2023, 1, 1), datetime(2026, 1, 1)).map(
    lambda at: at.replace(microsecond=0)
)


@st.composite
def history(draw: st.DrawFn, at: datetime) -> tuple[datetime | None, datetime | None]:
    """Draw a last start at or before `at` (or none) and a last end (or none)."""
    if draw(st.booleans()):
        return None, None
    lb = at - timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    le = None
    if draw(st.booleans()):
        le = lb + timedelta(seconds=draw(st.integers(0, 4 * 3600)))
    return lb, le


@SETTINGS
@given(schedules(), instants, st.data())
def test_is_due_matches_the_spec_transcription(
    s: Schedule, at: datetime, data: st.DataObject
) -> None:
    lb, le = data.draw(history(at))
    assert s.is_due(at, lb, le) == reference.is_due(s, at, lb, le)


@SETTINGS
@given(schedules(), instants, st.data())
def test_next_run_is_the_earliest_due_instant(
    s: Schedule, at: datetime, data: st.DataObject
) -> None:
    lb, le = data.draw(history(at))
    found = s.next_run(at, lb, le)
    until = at + timedelta(days=400) if found is None else min(found, at + timedelta(days=400))
    if found is not None:
        assert found >= at
        assert reference.is_due(s, found, lb, le)
    for point in reference.candidates(s, at, until, lb, le):
        assert not reference.is_due(s, point, lb, le), point


@SETTINGS
@given(schedules(ZONES), instants, st.data())
def test_next_run_is_due_in_every_zone(s: Schedule, at: datetime, data: st.DataObject) -> None:
    lb, le = data.draw(history(at))
    found = s.next_run(at, lb, le)
    if found is None:
        return
    assert s.is_due(found, lb, le)
    step = (found - at) / 40
    if step > timedelta(0):
        for i in range(40):  # a sample of instants before it: none is due
            assert not s.is_due(at + step * i, lb, le)
