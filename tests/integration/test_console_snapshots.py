"""SVG snapshots of every console screen, rendered from the demo store (console_demo): TZ
pinned to UTC, a FakeClock, fixed uuids and hosts, one theme, toasts hidden. Update them
after a deliberate change with `pytest tests/integration/test_console_snapshots.py
--snapshot-update`, and look at the SVGs before committing them."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from jobengine import Engine
from jobengine.console.app import ConsoleApp
from tests.integration import console_demo
from tests.integration.console_support import laid_out, settle

pytest.importorskip("pytest_textual_snapshot")
pytestmark = pytest.mark.timeout(120)
SIZE = (200, 50)
SnapCompare = Callable[..., bool]


class SnapshotConsole(ConsoleApp):
    """The console as it is, with toasts hidden and one theme, so only the screen counts."""

    CSS = ConsoleApp.CSS + "\nToastRack { display: none; }\n"

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        super().on_mount()


@pytest.fixture
def utc() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None) -> Iterator[Engine]:
    monkeypatch.chdir(tmp_path)
    clock = console_demo.build(tmp_path)
    engine = Engine(console_demo.URL, clock=clock)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def demo_registry(demo: Engine, tmp_path: Path) -> Iterator[Engine]:
    """The demo store through an engine with its registry, as `jobengine console` opens it
    (a new scheduled job is of a registry entry)."""
    engine = Engine(console_demo.URL, registry=str(tmp_path / "registry"), clock=demo.clock)
    try:
        yield engine
    finally:
        engine.close()


def snap(
    snap_compare: SnapCompare,
    engine: Engine,
    *press: str,
    then: Callable[[Pilot[None]], Awaitable[None]] | None = None,
) -> None:
    """Press `press`, run `then`, let the table lay out its columns, and compare."""

    async def steps(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*press)
        await settle(pilot)
        if then is not None:
            await then(pilot)
            await settle(pilot)
        await laid_out(pilot)

    assert snap_compare(SnapshotConsole(engine), terminal_size=SIZE, run_before=steps)


async def _cursor_on(pilot: Pilot[None], column: str, value: str) -> None:
    await settle(pilot)
    await laid_out(pilot)
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    index = list(app.view.columns).index(column)
    rows = [str(app.table.get_row_at(i)[index]) for i in range(app.table.row_count)]
    app.table.move_cursor(row=rows.index(value), animate=False)
    await pilot.pause()


def test_snapshot_scheduled_jobs(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo)


def test_snapshot_background_jobs(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo, "2")


def test_snapshot_event_log(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo, "3")


def test_snapshot_resource_queues(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo, "4")


def test_snapshot_resource_item_detail(snap_compare: SnapCompare, demo: Engine) -> None:
    async def locked(pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await _cursor_on(pilot, "tags", "urgent, eu")
        await pilot.press("enter")

    snap(snap_compare, demo, then=locked)


def test_snapshot_engines(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo, "5")


def test_snapshot_job_detail(snap_compare: SnapCompare, demo: Engine) -> None:
    async def failed(pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await _cursor_on(pilot, "state", "FAILED")
        await pilot.press("enter")

    snap(snap_compare, demo, then=failed)


def test_snapshot_why_not_running(snap_compare: SnapCompare, demo: Engine) -> None:
    async def price_upload(pilot: Pilot[None]) -> None:
        await _cursor_on(pilot, "name", "PriceUpload")
        await pilot.press("enter")

    snap(snap_compare, demo, then=price_upload)


def test_snapshot_schedule_editor(snap_compare: SnapCompare, demo: Engine) -> None:
    async def adhoc(pilot: Pilot[None]) -> None:
        await _cursor_on(pilot, "name", "Adhoc")
        await pilot.press("s")

    snap(snap_compare, demo, then=adhoc)


def test_snapshot_filters(snap_compare: SnapCompare, demo: Engine) -> None:
    snap(snap_compare, demo, "2", "f")


def test_snapshot_add_scheduled_job(snap_compare: SnapCompare, demo_registry: Engine) -> None:
    snap(snap_compare, demo_registry, "n")


def test_snapshot_start_job(snap_compare: SnapCompare, demo: Engine) -> None:
    async def fill(pilot: Pilot[None]) -> None:
        await pilot.press("2")
        await settle(pilot)
        await laid_out(pilot)  # the rows sized before the form covers them
        await pilot.press("n")
        for name, text in (("method", "tests.integration.jobs:add"), ("args", "[2, 40]")):
            box = pilot.app.screen.query_one(f"#{name}", Input)
            box.value = text
        pilot.app.screen.query_one("#description", Input).value = "A sum"

    snap(snap_compare, demo, then=fill)
