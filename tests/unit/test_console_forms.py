"""The console's pure helpers for the second slice: the schedule editor's texts, the pause
prompt's "until", select all, and the next runs with daylight-saving changes marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobengine import Schedule, ScheduleError
from jobengine.console import form, jobfields, runs
from jobengine.console.actions import parse_until
from jobengine.console.data import Row
from jobengine.console.query import Query
from jobengine.console.state import select_all
from jobengine.errors import JobEngineError

BERLIN = "Europe/Berlin"


def test_form_texts_read_back_to_the_same_schedule() -> None:
    schedule = Schedule.from_dict(
        {
            "days_repeat_period": 1,
            "begin_time": "01:00",
            "week_days": [1, 2],
            "detailed_daily_schedules": [{"begin_time": "02:00"}],
            "timezone": BERLIN,
        }
    )
    texts = form.texts(schedule)
    assert texts["week_days"] == "1, 2"
    assert texts["end_time"] == ""
    assert set(texts) == {name for name, _ in form.FIELDS}
    assert form.read(texts) == schedule


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("days_repeat_period", "two"),
        ("week_days", "1, 9"),
        ("begin_time", "25:00"),
        ("detailed_daily_schedules", "[{"),
        ("timezone", "Nowhere/Town"),
    ],
)
def test_form_refuses_a_bad_text_naming_its_field(name: str, text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        form.read({name: text})
    assert caught.value.field.startswith(name)


def test_pause_until_reads_spans_and_date_times() -> None:
    assert parse_until("") is None
    assert parse_until("30m") == timedelta(minutes=30)
    assert parse_until("1.5h") == timedelta(minutes=90)
    assert parse_until("2026-03-02T18:00+01:00") == datetime(2026, 3, 2, 17, tzinfo=UTC)
    with pytest.raises(JobEngineError, match="give a span"):
        parse_until("soon")


def test_select_all_selects_the_shown_rows_then_none() -> None:
    shown = [Row("a", ()), Row("b", ())]
    assert select_all({"z"}, shown) == {"a", "b", "z"}
    assert select_all({"a", "b", "z"}, shown) == {"z"}
    assert select_all(set(), []) == set()


def test_next_runs_mark_the_skipped_and_the_repeated_hour() -> None:
    zone = ZoneInfo(BERLIN)
    spring = Schedule.from_dict(
        {"days_repeat_period": 1, "begin_time": "02:30", "end_time": "03:00", "timezone": BERLIN}
    )
    lines = runs.lines(runs.upcoming(spring, datetime(2026, 3, 28, tzinfo=UTC), None, 3), zone)
    assert "clocks went forward" not in lines[0]
    assert "clocks went forward: an hour skipped" in lines[1]
    autumn = Schedule.from_dict(
        {
            "days_repeat_period": 1,
            "repeat_period_in_day": 1800,
            "begin_time": "01:30",
            "end_time": "03:30",
            "timezone": BERLIN,
        }
    )
    after = datetime(2026, 10, 24, 23, tzinfo=UTC)
    lines = runs.lines(runs.upcoming(autumn, after, None, 6), zone)
    assert lines[1].startswith("2026-10-25 02:00:00 CEST") and "repeated hour" in lines[1]
    assert "clocks went back" in lines[3] and "second pass" in lines[3]
    assert lines[5] == "2026-10-25 03:00:00 CET"


def test_upcoming_stops_when_the_schedule_ends() -> None:
    once = Schedule.from_dict({"begin_date": "2026-03-02", "end_date": "2026-03-02"})
    assert len(runs.upcoming(once, datetime(2026, 3, 1, tzinfo=UTC), None)) <= 1


def test_query_says_its_filters_and_its_period_start() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert Query().since(now) == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert Query(period="all").since(now) is None
    assert Query().describe("background") == "begun in the last hour"
    chosen = Query(period="24h", state="FAILED", scheduled_job="u", label="Nightly", queue="q")
    assert chosen.describe("background") == (
        "begun in the last 24 h, state FAILED, of Nightly, queue q"
    )
    assert Query(period="all").describe("events") == ""
    events = Query(period="1h", level="warning", event="job.failed", job="u", label="Nightly")
    assert events.describe("events") == (
        "level warning and worse, event job.failed, job Nightly, in the last hour"
    )


# -- the job forms' texts -------------------------------------------------------------------


def test_scheduled_fields_read_every_field_and_refuse_naming_the_field() -> None:
    texts = {
        "metadata": " Adhoc ",
        "description": "A sum",
        "key": " k ",
        "use": "yes",
        "user_name": "ann",
        "restart_count": "2",
        "restart_interval": "30",
        "params": '[1, {"$dt": "2026-03-02T09:30:00+00:00"}]',
    }
    fields = jobfields.read_scheduled(texts)
    assert (fields.metadata, fields.key, fields.use, fields.restart_interval) == (
        "Adhoc",
        "k",
        True,
        30,
    )
    assert fields.params == [1, datetime(2026, 3, 2, 9, 30, tzinfo=UTC)]  # tagged, as stored
    for name, bad in [
        ("restart_count", "-1"),
        ("restart_interval", "²"),
        ("params", "[1,"),
        ("params", '"text"'),
        ("use", "maybe"),
    ]:
        with pytest.raises(jobfields.FieldError) as caught:
            jobfields.read_scheduled({**texts, name: bad})
        assert caught.value.field == name


def test_start_fields_need_a_method_and_read_args_as_a_json_list() -> None:
    texts = {"method": "pkg.mod:f", "key": "", "description": "", "args": "", "queue": ""}
    fields = jobfields.read_start(texts)
    assert (fields.args, fields.queue) == ([], "default")
    with pytest.raises(jobfields.FieldError, match="method"):
        jobfields.read_start({**texts, "method": " "})
    with pytest.raises(jobfields.FieldError, match="args"):
        jobfields.read_start({**texts, "args": "{}"})


def test_json_text_shows_values_as_typed_json_back() -> None:
    values = [1, "ü", datetime(2026, 3, 2, tzinfo=UTC)]
    text = jobfields.json_text(values)
    assert text.startswith('[1, "ü", {"$dt": ')
    assert jobfields.json_list("params", text) == values
