"""Console test helpers: a template store made through the API (finished runs by real
workers, an active run, scheduled jobs), copied fresh for each test, and Pilot helpers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from jobengine import Engine
from jobengine.console.app import ConsoleApp
from jobengine.testing import FakeClock

REGISTRY = """
allowed_modules: [tests.integration.jobs]
scheduled_jobs:
  Nightly:
    method: tests.integration.jobs:noop
    description: Nightly cleanup
    key: nightly
    predefined: true
    use: true
    restart_on_failure: {count: 2, interval: 60}
    schedule: {days_repeat_period: 1}
  Adhoc:
    method: tests.integration.jobs:add
    description: An ad hoc sum
    use: false
    params: [1, 2]
    schedule: {days_repeat_period: 1, begin_time: "03:00"}
  Broken:
    method: tests.integration.jobs:fail
    description: Always fails
    use: false
    params: ["scheduled boom"]
    schedule: {days_repeat_period: 1, begin_time: "23:00"}
"""
SIZE = (220, 50)


def build_template(folder: Path) -> Path:
    """A store with finished runs (real workers), an active one, and scheduled runs."""
    (folder / "registry").mkdir()
    (folder / "registry" / "jobs.yaml").write_text(REGISTRY)
    url = f"sqlite:///{folder}/jobs.db"
    with Engine(url, workers=1, grace=1.0) as engine:  # no registry: no scheduler starts
        done = [
            engine.background.execute("tests.integration.jobs:add", args=[2, 40], key="sum"),
            engine.background.execute("tests.integration.jobs:fail", args=["boom\nline two"]),
            engine.background.execute("tests.integration.jobs:report_progress"),
        ]
        assert engine.background.wait(done, timeout=60)
    client = Engine(url, registry=str(folder / "registry"), clock=FakeClock(datetime.now(UTC)))
    try:
        adhoc = client.scheduled.create("Adhoc")
        adhoc.save()
        assert [r.method for r in client.scheduler.run_due()] == ["tests.integration.jobs:noop"]
        client.background.execute("tests.integration.jobs:sleep_forever", description="stuck")
    finally:
        client.close()
    return folder


@contextmanager
def copied(template: Path, folder: Path) -> Iterator[Engine]:
    """A client engine on a fresh copy of the template store (no registry: as the CLI)."""
    for f in template.iterdir():
        if f.name.startswith("jobs.db"):
            shutil.copy(f, folder / f.name)
    client = Engine(f"sqlite:///{folder}/jobs.db")
    try:
        yield client
    finally:
        client.close()


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the console's reads (on worker threads) have ended and their rows show."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    for _ in range(200):
        await app.workers.wait_for_complete()
        await Pilot.pause(pilot)
        if not app.is_reading:
            return
    raise AssertionError("the console kept reading")


async def laid_out(pilot: Pilot[None]) -> None:
    """Wait until two screenshots 0.1 s apart are equal and no table has columns left to size
    (see `_sizing_pending`). DataTable sizes its columns when
    idle, after the rows arrive, and later still on a loaded machine: a screenshot taken before
    shows every column at its header's width (a fixed pause once was too short). Input cursors
    stop blinking, shown, or the wait itself could catch one hidden."""
    for screen in pilot.app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
    last = ""
    for _ in range(100):
        await Pilot.pause(pilot, 0.1)  # not a SettledPilot's pause: no reads are waited for
        shot = pilot.app.export_screenshot()
        if shot == last and not _sizing_pending(pilot):
            return
        last = shot
    raise AssertionError("the console's screen never settled")


def _sizing_pending(pilot: Pilot[None]) -> bool:
    """Whether a table of the screen has rows it has not sized its columns for yet.

    Two equal screenshots alone were once both taken before that, on a machine loaded enough
    to hold the table's idle turn back 0.1 s. DataTable keeps this in a private flag; should a
    later Textual drop it, the screenshots alone decide again.
    """
    tables = pilot.app.screen.query(DataTable)
    return any(getattr(t, "_require_update_dimensions", False) for t in tables)


class SettledPilot(Pilot[None]):
    """A Pilot whose presses and pauses return once the reads they caused have shown."""

    async def press(self, *keys: str) -> None:
        await super().press(*keys)
        await settle(self)

    async def pause(self, delay: float | None = None) -> None:
        await super().pause(delay)
        await settle(self)


def drive(
    engine: Engine, steps: Callable[[ConsoleApp, Pilot[None]], Awaitable[None]], **kw: bool
) -> None:
    async def main() -> None:
        app = ConsoleApp(engine, **kw)
        async with app.run_test(size=SIZE):
            pilot = SettledPilot(app)
            await pilot.pause()
            await steps(app, pilot)

    asyncio.run(main())


def cells(app: ConsoleApp) -> list[list[str]]:
    table = app.table
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def column(app: ConsoleApp, name: str) -> list[str]:
    index = list(app.view.columns).index(name)
    return [row[index] for row in cells(app)]


def static_text(app: ConsoleApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def go_to(app: ConsoleApp, pilot: Pilot[None], value: str, name: str) -> None:
    """Put the cursor on the row whose column `name` is `value`."""
    row = column(app, name).index(value)
    app.table.move_cursor(row=row, animate=False)
    await pilot.pause()
