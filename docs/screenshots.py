"""Export SVG screenshots of every console screen into docs/img/, from the real app over the
demo store the snapshot tests use (fixed clock, uuids and hosts; TZ=UTC).

Run from the repository root: `python docs/screenshots.py`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["TZ"] = "UTC"
time.tzset()

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input  # noqa: E402

from jobengine import Engine  # noqa: E402
from jobengine.console.app import ConsoleApp  # noqa: E402
from tests.integration import console_demo  # noqa: E402
from tests.integration.console_support import SettledPilot, laid_out  # noqa: E402

OUT = ROOT / "docs" / "img"
SIZE = (200, 50)
Steps = Callable[[ConsoleApp, Pilot[None]], Awaitable[None]]


async def cursor_on(app: ConsoleApp, pilot: Pilot[None], column: str, value: str) -> None:
    index = list(app.view.columns).index(column)
    rows = [str(app.table.get_row_at(i)[index]) for i in range(app.table.row_count)]
    app.table.move_cursor(row=rows.index(value), animate=False)
    await pilot.pause()


def keys(*press: str) -> Steps:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        for key in press:  # each read shown and its rows measured before the next key
            await pilot.press(key)
            await laid_out(pilot)

    return steps


def open_row(view: str, column: str, value: str, key: str) -> Steps:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press(view)
        await laid_out(pilot)
        await cursor_on(app, pilot, column, value)
        await pilot.press(key)

    return steps


async def start_job(app: ConsoleApp, pilot: Pilot[None]) -> None:
    await keys("2", "n")(app, pilot)
    texts = {"method": "tests.integration.jobs:add", "args": "[2, 40]", "description": "A sum"}
    for name, text in texts.items():
        app.screen.query_one(f"#{name}", Input).value = text


SCREENS: dict[str, Steps] = {
    "console-scheduled": keys("1"),
    "console-background": keys("2"),
    "console-events": keys("3"),
    "console-resources": keys("4"),
    "console-engines": keys("5"),
    "console-job-detail": open_row("2", "state", "FAILED", "enter"),
    "console-why-not-running": open_row("1", "name", "PriceUpload", "enter"),
    "console-schedule-editor": open_row("1", "name", "Adhoc", "s"),
    "console-resource-detail": open_row("4", "tags", "urgent, eu", "enter"),
    "console-filters": keys("2", "f"),
    "console-add-scheduled": keys("1", "n"),
    "console-start-job": start_job,
}


async def shoot(engine: Engine, name: str, steps: Steps) -> None:
    app = ConsoleApp(engine)
    async with app.run_test(size=SIZE):
        pilot = SettledPilot(app)  # a key's read has shown when its press returns
        app.theme = "textual-dark"
        await pilot.pause()
        await steps(app, pilot)
        await laid_out(pilot)
        for _ in range(3):
            await pilot.pause(0.1)
        app.save_screenshot(f"{name}.svg", str(OUT))
    sys.stdout.write(f"docs/img/{name}.svg\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the demo store's URL is relative: the header shows no temp path
        clock = console_demo.build(Path(folder))
        # with its registry, as `jobengine console` opens it: `n` adds a job of an entry
        engine = Engine(console_demo.URL, registry=str(Path(folder) / "registry"), clock=clock)
        try:
            for name, steps in SCREENS.items():
                asyncio.run(shoot(engine, name, steps))
        finally:
            engine.close()


if __name__ == "__main__":
    main()
