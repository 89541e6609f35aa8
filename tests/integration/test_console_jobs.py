"""The console's job forms and runs, driven by Pilot on a real client engine: add (n), copy (C)
and edit (E) scheduled jobs, delete one that is not predefined (d), run one in the console's
process (x), start (n) and copy (C) background jobs, and --read-only refusing all of them."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from jobengine import Engine, JobState
from jobengine.clock import to_ms
from jobengine.console.app import ConsoleApp
from jobengine.console.job_screens import ScheduledJobForm, StartJobForm
from jobengine.console.screens import ConfirmScreen
from tests.integration.conftest import MakeEngine
from tests.integration.console_support import column, drive, go_to

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def engine(console_engine: Engine) -> Engine:
    return console_engine


@pytest.fixture
def client(engine: Engine, console_template: Path, make_engine: MakeEngine) -> Engine:
    """A client engine on the same store with the registry (as `jobengine console` loads it)."""
    return make_engine(engine.url, start=False, registry=str(console_template / "registry"))


def notices(app: ConsoleApp) -> str:
    return "\n".join(n.message for n in app._notifications)


def put(app: ConsoleApp, **texts: str) -> None:
    """Type into the form's fields (an input's text or a select's value)."""
    for name, text in texts.items():
        widget = app.screen.query_one(f"#{name}")
        assert isinstance(widget, Input | Select)
        widget.value = text


def value(app: ConsoleApp, name: str) -> str:
    widget = app.screen.query_one(f"#{name}")
    assert isinstance(widget, Input | Select)
    return str(widget.value)


def form_error(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#error", Static).render())


def footer_keys(app: ConsoleApp) -> dict[str, str]:
    return {k: b.binding.description for k, b in app.screen.active_bindings.items() if b.enabled}


async def wait_for_notice(app: ConsoleApp, pilot: Pilot[None], text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in notices(app):
        assert time.monotonic() < deadline, notices(app)
        await pilot.pause(0.05)


def created_events(engine: Engine) -> int:
    return sum("created by" in e.message for e in engine.log.get(event="scheduled.changed"))


# -- the footer -----------------------------------------------------------------------------


def test_the_new_keys_show_only_on_the_screens_where_they_apply_and_f_too(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        keys = footer_keys(app)
        assert (keys["n"], keys["C"], keys["E"], keys["x"]) == ("Add", "Copy", "Fields", "Run here")
        await pilot.press("2")
        keys = footer_keys(app)
        assert (keys["n"], keys["C"]) == ("Start", "Copy")
        assert "E" not in keys and "x" not in keys
        for view in "345":
            await pilot.press(view)
            assert not {"n", "C", "E", "x"} & set(footer_keys(app)), view
        await pilot.press("5")
        assert "f" not in footer_keys(app)  # no filters form here (nor on 1): / filters
        await pilot.press("1")
        assert "f" not in footer_keys(app)

    drive(engine, steps)


# -- n, C, E, d on scheduled jobs -----------------------------------------------------------


def test_n_adds_a_job_of_a_registry_entry_and_the_event_log_records_it(client: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        before = created_events(client)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, ScheduledJobForm)
        assert list(form.entries or {}) == ["Adhoc", "Broken"]  # not the predefined Nightly
        assert value(app, "description") == "An ad hoc sum"
        put(app, metadata="Broken")
        await pilot.pause()
        assert value(app, "description") == "Always fails"  # the entry's values
        assert value(app, "params") == '["scheduled boom"]'
        put(app, key="k1", use="yes", user_name="ann", restart_count="0", restart_interval="5")
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, ScheduledJobForm)
        [broken] = client.scheduled.get(metadata="Broken")
        assert (broken.key, broken.use, broken.user_name) == ("k1", True, "ann")
        assert (broken.restart_count, broken.restart_interval) == (0, 5)
        assert broken.params == ["scheduled boom"]
        assert broken.schedule == client.registry.jobs["Broken"].schedule  # type: ignore[union-attr]
        assert created_events(client) == before + 1
        assert "Broken added" in notices(app)
        assert column(app, "name") == ["Adhoc", "Broken", "Nightly"]

    drive(client, steps)


def test_a_form_shows_bad_json_a_negative_number_and_the_engines_refusal_and_stays_open(
    client: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("n")
        put(app, params="[1, 2")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ScheduledJobForm)
        assert "params '[1, 2': not JSON" in form_error(app)
        assert app.screen.query_one("#params").has_class("-invalid-field")
        put(app, params='{"a": 1}')
        await pilot.press("ctrl+s")
        assert "expected a JSON list" in form_error(app)
        put(app, params="[1, 2]", restart_count="-1")
        await pilot.press("ctrl+s")
        assert "restart_count '-1': expected a whole number >= 0" in form_error(app)
        assert not app.screen.query_one("#params").has_class("-invalid-field")
        put(app, restart_count="1", params="[1, 2, 3]")  # add(a, b) takes two
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ScheduledJobForm)  # save() refused: shown, not a crash
        assert "arguments do not match" in form_error(app)
        await pilot.press("escape")
        assert len(client.scheduled.get(metadata="Adhoc")) == 1

    drive(client, steps)


def test_n_without_a_registry_says_how_to_load_one(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("n")
        assert len(app.screen_stack) == 1
        assert "--registry" in notices(app)

    drive(engine, steps)


def test_capital_c_copies_a_scheduled_job_with_its_fields_and_schedule(client: Engine) -> None:
    adhoc = client.scheduled.named("Adhoc")
    adhoc.user_name = "bob"
    adhoc.save()

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("C")
        assert isinstance(app.screen, ScheduledJobForm)
        assert app.screen.heading == "Copy of Adhoc"
        assert (value(app, "params"), value(app, "user_name")) == ("[1, 2]", "bob")
        put(app, description="A copy", params="[5, 6]")
        await pilot.press("ctrl+s")
        copies = [j for j in client.scheduled.get(metadata="Adhoc") if j.uuid != adhoc.uuid]
        assert len(copies) == 1
        copy = copies[0]
        assert (copy.description, copy.params, copy.user_name) == ("A copy", [5, 6], "bob")
        assert copy.schedule == adhoc.schedule
        assert client.scheduled.named(adhoc.uuid).description == "An ad hoc sum"
        assert column(app, "name").count("Adhoc") == 2

    drive(client, steps)


def test_capital_c_on_a_predefined_job_is_refused(client: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("C")
        assert len(app.screen_stack) == 1
        assert "Nightly is predefined" in notices(app)
        assert len(client.scheduled.get(metadata="Nightly")) == 1

    drive(client, steps)


def test_capital_e_edits_a_jobs_own_fields_and_the_event_log_records_it(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        events = len(engine.log.get(event="scheduled.changed"))
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("E")
        form = app.screen
        assert isinstance(form, ScheduledJobForm)
        assert (value(app, "use"), value(app, "restart_count")) == ("no", "3")
        put(
            app,
            description="Sums",
            key="sums",
            use="yes",
            user_name="ann",
            restart_count="5",
            restart_interval="30",
            params="[3, 4]",
        )
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, ScheduledJobForm)
        adhoc = engine.scheduled.named("Adhoc")
        assert (adhoc.description, adhoc.key, adhoc.use, adhoc.user_name) == (
            "Sums",
            "sums",
            True,
            "ann",
        )
        assert (adhoc.restart_count, adhoc.restart_interval, adhoc.params) == (5, 30, [3, 4])
        assert len(engine.log.get(event="scheduled.changed")) == events + 1
        assert "Adhoc saved" in notices(app)
        assert "Sums" in column(app, "description")

    drive(engine, steps)


def test_capital_e_on_a_predefined_job_refuses_params_in_the_form(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("E")
        put(app, params="[1]")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ScheduledJobForm)
        assert "a predefined job takes no params" in form_error(app)
        put(app, params="[]", description="Cleanup")
        await pilot.press("ctrl+s")
        assert engine.scheduled.named("Nightly").description == "Cleanup"

    drive(engine, steps)


def test_d_deletes_a_job_that_is_not_predefined_and_says_why_it_keeps_a_predefined_one(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("d")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "Nightly: predefined, not deleted" in notices(app)
        await pilot.press("a", "d")  # both: the predefined one is kept, the other asked for
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Delete 1 scheduled job(s)?"
        await pilot.press("y")
        assert engine.scheduled.get(metadata="Adhoc") == []
        assert len(engine.scheduled.get(metadata="Nightly")) == 1
        assert column(app, "name") == ["Nightly"]

    drive(engine, steps)


# -- x: run in the console's process --------------------------------------------------------


def test_x_runs_the_method_in_the_console_process_off_the_ui_thread(
    engine: Engine, tmp_path: Path, make_engine: MakeEngine
) -> None:
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "jobs.yaml").write_text(
        "allowed_modules: [tests.integration.jobs]\n"
        "scheduled_jobs:\n"
        "  Where:\n"
        "    method: tests.integration.jobs:thread_name\n"
        "    schedule: {days_repeat_period: 1}\n"
    )
    client = make_engine(engine.url, start=False, registry=str(tmp_path / "registry"))
    client.scheduled.create("Where").save()

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        jobs = len(client.background.get())
        await go_to(app, pilot, "Where", "name")
        await pilot.press("x")
        await wait_for_notice(app, pilot, "Where ran in the console: 'console-run'")
        await go_to(app, pilot, "Adhoc", "name")  # add(1, 2), its params
        await pilot.press("x")
        await wait_for_notice(app, pilot, "Adhoc ran in the console: 3")
        assert len(client.background.get()) == jobs  # no background job

    drive(client, steps)


def test_x_shows_the_first_line_of_an_error_and_refuses_a_method_not_allowed(
    engine: Engine, client: Engine
) -> None:
    client.scheduled.create("Broken").save()
    now = to_ms(client.clock.now())
    client.store.scheduled.insert_many(  # a job the registry would not have: os:getcwd
        [
            {
                "uuid": str(uuid.uuid4()),
                "metadata": "Outside",
                "method": "os:getcwd",
                "schedule": "{}",
                "due_from_ms": now,
                "created_ms": now,
                "changed_ms": now,
            }
        ]
    )

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Broken", "name")
        await pilot.press("x")
        await wait_for_notice(app, pilot, "Broken failed in the console: JobError: scheduled boom")
        assert any(n.severity == "error" for n in app._notifications)
        await go_to(app, pilot, "Outside", "name")
        await pilot.press("x")
        await wait_for_notice(app, pilot, "not run in the console: method 'os:getcwd'")
        assert "not in allowed_modules" in notices(app)

    drive(client, steps)


# -- n, C on background jobs ----------------------------------------------------------------


def test_n_on_background_jobs_starts_a_job_with_method_key_description_args_and_queue(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2", "n")
        assert isinstance(app.screen, StartJobForm)
        put(app, method="tests.integration.jobs:add", args="[2, 3]", key="k7")
        put(app, description="A sum", queue="sums")
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, StartJobForm)
        [job] = engine.background.get(key="k7")
        assert (job.method, job.args, job.description, job.queue) == (
            "tests.integration.jobs:add",
            [2, 3],
            "A sum",
            "sums",
        )
        assert job.state is JobState.ACTIVE
        assert "tests.integration.jobs:add started" in notices(app)
        assert "A sum" in column(app, "description")

    drive(engine, steps)


def test_the_start_form_shows_bad_args_and_a_refused_method_in_the_form(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        jobs = len(engine.background.get())
        await pilot.press("2", "n", "ctrl+s")
        assert "give the method" in form_error(app)
        put(app, method="tests.integration.jobs:add", args="[2,")
        await pilot.press("ctrl+s")
        assert "args '[2,': not JSON" in form_error(app)
        assert app.screen.query_one("#args").has_class("-invalid-field")
        put(app, method="os:getcwd", args="[]")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, StartJobForm)
        assert "os:getcwd" in form_error(app)
        await pilot.press("escape")
        assert len(engine.background.get()) == jobs

    drive(engine, steps)


def test_capital_c_on_background_jobs_copies_a_job(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await go_to(app, pilot, "sum", "key")
        await pilot.press("C")
        assert isinstance(app.screen, StartJobForm)
        assert (value(app, "method"), value(app, "key")) == ("tests.integration.jobs:add", "sum")
        assert (value(app, "args"), value(app, "queue")) == ("[2, 40]", "default")
        await pilot.press("ctrl+s")
        again = engine.background.get(key="sum", state=JobState.ACTIVE)
        assert len(again) == 1 and again[0].args == [2, 40]
        assert column(app, "key").count("sum") == 2

    drive(engine, steps)


# -- --read-only ----------------------------------------------------------------------------


def test_read_only_refuses_add_copy_edit_run_here_and_start(client: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        scheduled, jobs = len(client.scheduled.get()), len(client.background.get())
        await go_to(app, pilot, "Adhoc", "name")
        for key in ("n", "C", "E", "x"):
            await pilot.press(key)
            assert len(app.screen_stack) == 1, key
        await pilot.press("2")
        await go_to(app, pilot, "sum", "key")
        for key in ("n", "C"):
            await pilot.press(key)
            assert len(app.screen_stack) == 1, key
        await pilot.pause(0.2)
        assert "ran in the console" not in notices(app)
        assert (len(client.scheduled.get()), len(client.background.get())) == (scheduled, jobs)
        assert not footer_keys(app).get("n")

    drive(client, steps, read_only=True)
