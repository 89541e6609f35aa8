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

from jobengine import Engine  # noqa: E402
from jobengine.console.app import ConsoleApp  # noqa: E402
from tests.integration import console_demo  # noqa: E402

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
        await pilot.press(*press)

    return steps


def open_row(view: str, column: str, value: str, key: str) -> Steps:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press(view)
        await cursor_on(app, pilot, column, value)
        await pilot.press(key)

    return steps


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
}


async def shoot(engine: Engine, name: str, steps: Steps) -> None:
    app = ConsoleApp(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "textual-dark"
        await pilot.pause()
        await steps(app, pilot)
        for _ in range(3):  # the table lays its columns out when idle
            await pilot.pause(0.1)
        app.save_screenshot(f"{name}.svg", str(OUT))
    sys.stdout.write(f"docs/img/{name}.svg\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the demo store's URL is relative: the header shows no temp path
        clock = console_demo.build(Path(folder))
        engine = Engine(console_demo.URL, clock=clock)
        try:
            for name, steps in SCREENS.items():
                asyncio.run(shoot(engine, name, steps))
        finally:
            engine.close()


if __name__ == "__main__":
    main()
