"""The job console driven by Textual's Pilot against a real client engine on an SQLite file:
every screen and every action of this slice, with the data made through the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from jobengine import Engine, JobState
from jobengine.clock import to_ms
from jobengine.console.app import ConsoleApp
from jobengine.console.screens import ConfirmScreen, DetailScreen
from jobengine.store.records import Batch, Finish
from tests.integration.console_support import (
    REGISTRY,
    cells,
    column,
    drive,
    go_to,
    static_text,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def engine(console_engine: Engine) -> Engine:
    return console_engine


# -- screens --------------------------------------------------------------------------------


def test_scheduled_screen_lists_jobs_with_schedule_in_words_and_last_state(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        assert app.view_name == "scheduled"
        assert column(app, "name") == ["Adhoc", "Nightly"]
        nightly = cells(app)[1]
        cols = list(app.view.columns)
        assert nightly[cols.index("use")] == "yes"
        assert nightly[cols.index("schedule")] == str(engine.scheduled.named("Nightly").schedule)
        assert nightly[cols.index("last state")] == "ACTIVE"
        assert nightly[cols.index("predefined")] == "yes"
        assert nightly[cols.index("restart")] == "2 x 60s"
        assert nightly[cols.index("key")] == "nightly"
        header = static_text(app, "#header")
        assert "jobs.db" in header
        assert "active 2" in header
        assert "failed 1" in header
        assert not app.query_one("#banner").display

    drive(engine, steps)


def test_background_screen_shows_runs_of_the_last_hour_with_error_and_progress(
    engine: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        assert app.view_name == "background"
        states = column(app, "state")
        assert sorted(states) == ["ACTIVE", "ACTIVE", "COMPLETED", "COMPLETED", "FAILED"]
        errors = column(app, "error")
        assert "boom" in errors  # the first line only
        assert not any("line two" in e for e in errors)
        assert any(p.startswith("100%") for p in column(app, "progress"))
        assert "Manual start" not in " ".join(column(app, "description"))

    drive(engine, steps)


def test_scheduled_screen_shows_how_long_the_last_run_took_or_has_been_running(
    engine: Engine,
) -> None:
    nightly = engine.scheduled.named("Nightly").last_job
    adhoc = engine.scheduled.named("Adhoc").run_now()
    assert nightly is not None
    now = to_ms(engine.clock.now())
    store = engine.store  # what a worker would report: a start, and for Adhoc its end
    store.jobs.claim("e1", 10, now, ["default"])
    started = {nightly.uuid: (now - 3_600_000, "h", 1), adhoc.uuid: (now - 10_000, "h", 2)}
    store.jobs.record(Batch(started=started))
    store.jobs.record(Batch(finishes=[Finish(adhoc.uuid, "COMPLETED", now - 7_500)]))

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        assert column(app, "name") == ["Adhoc", "Nightly"]
        took = column(app, "last duration")
        assert took[0] == "2.5s"
        assert took[1] == "1h00m"  # ACTIVE: its running time so far

    drive(engine, steps)


def test_background_screen_counts_each_jobs_messages(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        by_method = dict(zip(column(app, "method"), column(app, "messages"), strict=True))
        assert by_method["tests.integration.jobs:report_progress"] == "1"
        assert by_method["tests.integration.jobs:add"] == ""

    drive(engine, steps)


def test_event_log_screen_lists_events_newest_first(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("3")
        events = column(app, "event")
        assert "job.failed" in events
        assert "registry.synced" in events or "scheduled.changed" in events
        assert set(column(app, "level")) <= {"info", "warning", "error"}

    drive(engine, steps)


def test_filter_narrows_rows_as_you_type_and_keeps_them_after_refresh(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2", "slash", *"boom")
        assert column(app, "state") == ["FAILED"]
        await pilot.press("enter")
        assert app.table.has_focus
        app.refresh_rows()
        await pilot.pause()
        assert column(app, "state") == ["FAILED"]
        await pilot.press("slash", *["backspace"] * 4, "escape")
        assert len(column(app, "state")) == 5

    drive(engine, steps)


def test_enter_on_a_background_job_shows_its_detail_with_traceback(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await go_to(app, pilot, "FAILED", "state")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        text = screen.text()
        assert "Traceback" in text
        assert "JobError" in text
        assert "boom" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
        await go_to(app, pilot, "tests.integration.jobs:report_progress", "method")
        await pilot.press("enter")
        text = app.screen.text()  # type: ignore[attr-defined]
        assert "hello from the job" in text
        assert '"done"' in text

    drive(engine, steps)


def test_enter_on_a_scheduled_job_says_why_it_is_not_running(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("enter")
        text = app.screen.text()  # type: ignore[attr-defined]
        assert "previous run" in text and "still active" in text
        assert "Next 10 runs" in text
        assert "started" in text  # its occurrence's decision
        await pilot.press("r", "2")  # the listing's keys do nothing over a detail page
        assert app.view_name == "scheduled"
        assert len(engine.background.get(scheduled_job=engine.scheduled.named("Nightly"))) == 1
        await pilot.press("escape")
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("enter")
        assert "disabled" in app.screen.text()  # type: ignore[attr-defined]
        await pilot.press("r")
        assert engine.scheduled.named("Adhoc").last_job is None

    drive(engine, steps)


# -- actions --------------------------------------------------------------------------------


def test_e_enables_and_disables_the_scheduled_job_at_the_cursor(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("e")
        assert engine.scheduled.named("Adhoc").use
        assert column(app, "use")[0] == "yes"
        assert app.table.cursor_key == engine.scheduled.named("Adhoc").uuid
        await pilot.press("e")
        assert not engine.scheduled.named("Adhoc").use

    drive(engine, steps)


def test_r_runs_the_selected_scheduled_jobs_now(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("space")
        assert app.view_state.selected == {engine.scheduled.named("Adhoc").uuid}
        await pilot.press("r")
        last = engine.scheduled.named("Adhoc").last_job
        assert last is not None and last.description == "Manual start: An ad hoc sum"
        await pilot.press("2")
        assert "Manual start: An ad hoc sum" in column(app, "description")

    drive(engine, steps)


def test_r_on_a_job_whose_run_is_active_is_refused_with_a_notice(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        nightly = engine.scheduled.named("Nightly")
        before = nightly.last_job
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("r")
        assert engine.scheduled.named("Nightly").last_job == before
        assert any(n.severity == "error" for n in app._notifications)

    drive(engine, steps)


def test_c_cancels_an_active_job_after_y(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await go_to(app, pilot, "stuck", "description")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        stuck = engine.background.get(description="stuck")[0]
        assert stuck.state is JobState.ACTIVE
        await pilot.press("c", "y")
        assert stuck.refresh().state is JobState.CANCELED
        await pilot.pause()
        assert "CANCELED" in column(app, "state")

    drive(engine, steps)


def test_c_on_a_scheduled_job_cancels_its_active_run(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("c", "y")
        last = engine.scheduled.named("Nightly").last_job
        assert last is not None and last.state is JobState.CANCELED

    drive(engine, steps)


def test_d_deletes_selected_finished_runs_and_keeps_active_ones(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        for state in ("FAILED", "ACTIVE"):
            await go_to(app, pilot, state, "state")
            await pilot.press("space")
        await pilot.press("d")
        assert "Delete 1 finished" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        assert engine.background.get(state=JobState.FAILED) == []
        assert len(engine.background.get(state=JobState.ACTIVE)) == 2
        assert "FAILED" not in column(app, "state")
        assert app.view_state.selected == set()

    drive(engine, steps)


def test_d_deletes_a_scheduled_job_but_not_a_predefined_one(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Nightly", "name")
        await pilot.press("d")
        assert not isinstance(app.screen, ConfirmScreen)  # nothing deletable
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("d", "y")
        assert engine.scheduled.get(metadata="Adhoc") == []
        assert column(app, "name") == ["Nightly"]

    drive(engine, steps)


def test_capital_l_locks_and_unlocks_with_a_banner(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("L")
        assert engine.scheduled.locked
        assert app.query_one("#banner").display
        assert "LOCKED" in static_text(app, "#banner")
        await pilot.press("L")
        assert not engine.scheduled.locked
        assert not app.query_one("#banner").display

    drive(engine, steps)


def test_read_only_console_refuses_every_action(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await go_to(app, pilot, "Adhoc", "name")
        await pilot.press("e", "r", "d", "L")
        adhoc = engine.scheduled.named("Adhoc")
        assert not adhoc.use and adhoc.last_job is None
        assert not engine.scheduled.locked
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("2", "c")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "read-only" in static_text(app, "#header")

    drive(engine, steps, read_only=True)


def test_refresh_updates_rows_in_place_keeping_cursor_and_selection(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await go_to(app, pilot, "stuck", "description")
        stuck = app.table.cursor_key
        await pilot.press("space")
        engine.background.execute("tests.integration.jobs:noop", description="newcomer")
        app.refresh_rows()
        await pilot.pause()
        assert "newcomer" in column(app, "description")
        assert app.table.cursor_key == stuck
        assert app.view_state.selected == {stuck}
        assert engine.background.cancel(stuck or "") is None
        app.refresh_rows()
        await pilot.pause()
        assert app.table.cursor_key == stuck
        row = cells(app)[app.table.cursor_row]
        assert row[0] == "●" and "CANCELED" in row

    drive(engine, steps)


def test_the_listing_refreshes_itself_every_two_seconds(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        engine.background.execute("tests.integration.jobs:noop", description="arrived")
        for _ in range(40):  # the 2 s timer, with room for a busy machine
            await pilot.pause(0.1)
            if "arrived" in column(app, "description"):
                break
        assert "arrived" in column(app, "description")

    drive(engine, steps)


def test_q_quits(engine: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("q")
        assert not app.is_running

    drive(engine, steps)


def test_console_command_opens_a_client_engine_and_runs_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from jobengine.cli import cli

    seen: list[tuple[bool, bool, str]] = []

    def run(app: ConsoleApp) -> None:
        seen.append((app.read_only, app.engine.started, app.engine.url))

    monkeypatch.setattr(ConsoleApp, "run", run)
    url = f"sqlite:///{tmp_path}/jobs.db"
    result = CliRunner().invoke(cli, ["console", "--db", url, "--read-only"])
    assert result.exit_code == 0, result.output
    assert seen == [(True, False, url)]


def test_console_loads_the_registry_unless_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from jobengine.cli import cli

    seen: list[bool] = []
    monkeypatch.setattr(ConsoleApp, "run", lambda app: seen.append(app.engine.registry is None))
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "jobs.yaml").write_text(REGISTRY)
    url = f"sqlite:///{tmp_path}/jobs.db"
    args = ["console", "--db", url, "--registry", str(tmp_path / "registry")]
    for extra in ([], ["--read-only"]):
        result = CliRunner().invoke(cli, [*args, *extra])
        assert result.exit_code == 0, result.output
    assert seen == [False, True]
