"""The console's second slice, driven by Pilot on a real client engine: restart a failed run
(R), the schedule editor (s), pause/resume (p), select all shown (a) and the filters (f)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from jobengine import Engine, JobState, Schedule
from jobengine.console.app import ConsoleApp
from jobengine.console.editor import FilterScreen, PauseScreen, ScheduleEditor
from jobengine.console.screens import ConfirmScreen
from tests.integration.conftest import MakeEngine
from tests.integration.console_support import column, drive, go_to

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def engine(console_engine: Engine) -> Engine:
    return console_engine


def notices(app: ConsoleApp) -> str:
    return "\n".join(n.message for n in app._notifications)


# -- R: restart a failed run ----------------------------------------------------------------


def test_capital_r_executes_a_failed_job_again_with_the_same_method_and_arguments(
    engine: Engine,
) -> None:
    failed = engine.background.get(state=JobState.FAILED)[0]

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await go_to(app, pilot, "FAILED", "state")
        await pilot.press("R")
        again = engine.background.get(method=failed.method, state=JobState.ACTIVE)
        assert len(again) == 1
        assert again[0].args == failed.args and again[0].queue == failed.queue
        assert again[0].scheduled_job is None
        assert f"executed {failed.method} again" in notices(app)
        assert column(app, "method").count(failed.method) == 2

    drive(engine, steps)


def test_capital_r_restarts_a_failed_run_of_a_scheduled_job_by_its_run_now(
    engine: Engine, console_template: Path, make_engine: MakeEngine
) -> None:
    client = make_engine(engine.url, start=False, registry=str(console_template / "registry"))
    broken = client.scheduled.create("Broken")
    broken.save()
    engine.background.cancel(engine.background.get(description="stuck")[0].uuid)  # frees a worker
    worker = make_engine(engine.url, workers=1)
    assert broken.run_now().wait(timeout=60)
    worker.close()

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Broken", "name")
        await pilot.press("R")
        last = broken.refresh().last_job
        assert last is not None and last.state is JobState.ACTIVE
        assert last.description == "Manual start: Always fails"
        assert "restarted Broken by its run now" in notices(app)

    drive(engine, steps)


def test_capital_r_on_a_run_that_did_not_fail_is_refused(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        before = len(engine.background.get())
        await pilot.press("2")
        await go_to(app, pilot, "COMPLETED", "state")
        await pilot.press("R")
        await pilot.press("1")
        await go_to(app, pilot, "Nightly", "name")  # its last run is ACTIVE
        await pilot.press("R")
        assert len(engine.background.get()) == before
        assert "nothing FAILED here" in notices(app)
        assert "its last run is ACTIVE, not FAILED" in notices(app)

    drive(engine, steps)


# -- s: the schedule editor -----------------------------------------------------------------


def field(app: ConsoleApp, name: str) -> Input:
    return app.screen.query_one(f"#f-{name}", Input)


def live(app: ConsoleApp, name: str) -> str:
    return str(app.screen.query_one(f"#{name}", Static).render())


def test_s_edits_the_schedule_checked_as_you_type_and_saving_writes_an_event(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        events = len(engine.log.get(event="scheduled.changed"))
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("s")
        assert isinstance(app.screen, ScheduleEditor)
        assert field(app, "begin_time").value == "03:00"
        assert field(app, "days_repeat_period").value == "1"
        assert len(live(app, "runs").splitlines()) == 10
        field(app, "begin_time").value = "25:00"
        await pilot.pause()
        assert "begin_time" in live(app, "error")
        assert field(app, "begin_time").has_class("-invalid-field")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ScheduleEditor)  # an invalid schedule is not saved
        field(app, "begin_time").value = "04:30"
        field(app, "week_days").value = "1, 3"
        await pilot.pause()
        assert not field(app, "begin_time").has_class("-invalid-field")
        assert "Monday, Wednesday" in live(app, "words")
        later = live(app, "runs").splitlines()[1:]  # the first may be now: its window is open
        assert later and all("04:30:00" in line for line in later)
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, ScheduleEditor)
        adhoc = engine.scheduled.named("Adhoc")
        assert adhoc.schedule.begin_time == time(4, 30)
        assert list(adhoc.schedule.week_days) == [1, 3]
        assert len(engine.log.get(event="scheduled.changed")) == events + 1
        assert str(adhoc.schedule) in column(app, "schedule")

    drive(engine, steps)


def test_escape_leaves_the_schedule_as_it_was(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        before = engine.scheduled.named("Adhoc").schedule
        events = len(engine.log.get(event="scheduled.changed"))
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("s")
        field(app, "begin_time").value = "05:00"
        await pilot.press("escape")
        assert not isinstance(app.screen, ScheduleEditor)
        assert engine.scheduled.named("Adhoc").schedule == before
        assert len(engine.log.get(event="scheduled.changed")) == events

    drive(engine, steps)


# -- p: pause and resume --------------------------------------------------------------------


def test_p_pauses_until_a_time_with_a_reason_and_p_again_resumes(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("p")
        assert isinstance(app.screen, PauseScreen)
        await pilot.press(*"2h", "enter", *"upgrade", "enter")
        nightly = engine.scheduled.named("Nightly")
        assert nightly.paused and nightly.pause_reason == "upgrade"
        assert nightly.paused_until is not None
        assert app.view_state.filter == ""  # the prompt's inputs are not the filter
        assert column(app, "paused until")[column(app, "name").index("Nightly")] != ""
        await pilot.press("p")
        assert not engine.scheduled.named("Nightly").paused
        assert "Nightly resumed" in notices(app)

    drive(engine, steps)


def test_a_pause_prompt_with_a_bad_until_refuses_and_escape_pauses_nothing(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("p", *"soon", "enter", "enter")
        assert not engine.scheduled.named("Nightly").paused
        assert "give a span" in notices(app)
        await pilot.press("p", "escape")
        assert not engine.scheduled.named("Nightly").paused

    drive(engine, steps)


# -- a: every row the filter shows ----------------------------------------------------------


def test_a_selects_every_row_the_filter_shows_and_an_action_applies_to_them(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2", "slash", *"completed", "enter", "a")
        assert len(app.view_state.selected) == 2
        await pilot.press("a")
        assert app.view_state.selected == set()
        await pilot.press("a", "d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete 2 finished" in app.screen.question
        await pilot.press("y")
        assert engine.background.get(state=JobState.COMPLETED) == []
        assert len(engine.background.get(state=JobState.ACTIVE)) == 2

    drive(engine, steps)


def test_read_only_refuses_restart_schedule_edit_and_pause(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("s", "p", "R")
        assert not isinstance(app.screen, ScheduleEditor | PauseScreen)
        await pilot.press("2")
        await go_to(app, pilot, "FAILED", "state")
        before = len(engine.background.get())
        await pilot.press("R")
        assert len(engine.background.get()) == before

    drive(engine, steps, read_only=True)


# -- f: the filters of the background jobs and the event log --------------------------------


def choose(app: ConsoleApp, name: str, value: str) -> None:
    widget = app.screen.query_one(f"#{name}")
    assert isinstance(widget, Select | Input)
    widget.value = value


def title(app: ConsoleApp) -> str:
    return str(app.query_one("#title", Static).render())


def test_f_filters_background_jobs_by_state_scheduled_job_queue_and_period(
    engine: Engine,
) -> None:
    nightly = engine.scheduled.named("Nightly")

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        assert "begun in the last hour" in title(app)
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        choose(app, "state", "FAILED")
        choose(app, "period", "24h")
        await pilot.press("ctrl+s")
        assert column(app, "state") == ["FAILED"]
        assert "state FAILED" in title(app) and "the last 24 h" in title(app)
        await pilot.press("f")
        choose(app, "state", "")
        choose(app, "scheduled_job", nightly.uuid)
        await pilot.press("ctrl+s")
        assert column(app, "method") == [nightly.method]
        assert "of Nightly" in title(app)
        await pilot.press("f")
        choose(app, "scheduled_job", "")
        choose(app, "queue", "nope")
        app.screen.query_one("#queue").focus()
        await pilot.press("enter")  # in a text field, enter applies
        assert column(app, "state") == []
        assert "queue nope" in title(app)
        await pilot.press("f", "escape")  # leaves the filters as they were
        assert "queue nope" in title(app)

    drive(engine, steps)


def test_f_filters_the_event_log_by_level_event_and_job(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("3", "f")
        choose(app, "level", "error")
        await pilot.press("ctrl+s")
        assert set(column(app, "level")) == {"error"}
        assert "level error and worse" in title(app)
        await pilot.press("f")
        choose(app, "level", "")
        choose(app, "event", "job.started")
        choose(app, "job", "Nightly")
        await pilot.press("ctrl+s")
        assert column(app, "event") == ["job.started"]
        assert "job Nightly" in title(app)
        await pilot.press("f")
        choose(app, "job", "no such job")
        await pilot.press("ctrl+s")
        assert "not a scheduled job's name" in notices(app)
        assert "job Nightly" in title(app)  # a bad job leaves the filters as they were

    drive(engine, steps)


# -- 5: the engines -------------------------------------------------------------------------


def test_5_lists_the_engines_with_host_pid_heartbeat_age_workers_and_queues(
    engine: Engine, make_engine: MakeEngine
) -> None:
    running = make_engine(engine.url, workers=2, queues=["idle", "spare"])  # claims no job
    [status] = engine.status.engines()
    assert (status.id, status.host, status.pid, status.busy) == (
        running.engine_id,
        socket.gethostname(),
        os.getpid(),
        0,
    )
    assert (status.workers, status.idle, status.queues) == (2, 2, ("idle", "spare"))

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("5")
        assert app.view_name == "engines"
        assert column(app, "host") == [socket.gethostname()]
        assert column(app, "pid") == [str(os.getpid())]
        assert column(app, "engine") == [running.engine_id]
        assert column(app, "heartbeat age")[0].endswith("s")
        assert (column(app, "workers"), column(app, "busy"), column(app, "idle")) == (
            ["2"],
            ["0"],
            ["2"],
        )
        assert column(app, "queues") == ["idle, spare"]
        await pilot.press("enter", "d", "f")  # nothing to act on here: no screen opens
        assert len(app.screen_stack) == 1

    drive(engine, steps)


# -- why not running ------------------------------------------------------------------------


def test_why_not_running_names_the_run_holding_its_key_and_when_its_window_opens(
    engine: Engine,
) -> None:
    adhoc = engine.scheduled.named("Adhoc")
    in_two_days = (datetime.now(UTC) + timedelta(days=2)).date()
    adhoc.key, adhoc.use = "sums", True
    adhoc.schedule = Schedule(days_repeat_period=1, begin_date=in_two_days, timezone="UTC")
    adhoc.save()
    holder = engine.background.execute("tests.integration.jobs:add", args=[1, 1], key="sums")

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("enter")
        text = app.screen.text()  # type: ignore[attr-defined]
        assert f"key 'sums' held by run {holder.uuid} queued" in text
        assert "outside its window: not due now; next run on" in text
        assert f"{in_two_days:%Y-%m-%d} 00:00:00 UTC (in 2 days)" in text
        assert "disabled" not in text

    drive(engine, steps)
