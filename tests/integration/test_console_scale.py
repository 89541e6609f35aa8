"""The console over a store larger than a page: each refresh is a bounded number of queries
(never one per row), reads one page, pages on past the last row, filters in the store, reads
off the UI thread and refreshes at once on the store's notifications."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from jobengine import Engine
from jobengine.clock import to_ms
from jobengine.console import app as console_app
from jobengine.console import data
from jobengine.console.app import ConsoleApp
from jobengine.console.query import Query
from jobengine.store.records import Event
from jobengine.testing import FakeClock, counting_statements
from tests.integration.console_support import column, drive, static_text

pytestmark = pytest.mark.timeout(180)
N = data.PAGE * 2 + 100  # three pages


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Engine]:
    """N scheduled jobs, N background jobs and N events."""
    engine = Engine(f"sqlite:///{tmp_path}/big.db")
    now = to_ms(engine.clock.now())
    engine.store.scheduled.insert_many(
        [
            {
                "uuid": str(uuid.uuid4()),
                "metadata": f"Job{i:05d}",
                "method": "tests.integration.jobs:add",
                "description": f"number {i}",
                "use": True,
                "schedule": '{"days_repeat_period": 1, "repeat_period_in_day": 3600}',
                "due_from_ms": now,
                "created_ms": now,
                "changed_ms": now,
            }
            for i in range(N)
        ]
    )
    with engine.background.batch() as batch:
        for i in range(N):
            batch.execute("tests.integration.jobs:add", args=[i, 1], description=f"Run {i}")
    engine.store.events.write([Event(now - i, "info", "job.started", f"e{i}") for i in range(N)])
    try:
        yield engine
    finally:
        engine.close()


def test_each_refresh_reads_one_page_in_a_bounded_number_of_queries(big: Engine) -> None:
    every = Query(period="all")
    loads = {
        "scheduled": lambda offset: data.scheduled_rows(big, Query(), "", offset),
        "background": lambda offset: data.background_rows(big, every, "", offset),
        "events": lambda offset: data.event_rows(big, every, "", offset),
    }
    for name, load in loads.items():
        with counting_statements(big) as seen:
            first = load(0)
        assert (name, len(first), len(seen)) == (name, data.PAGE, 1)
        last = load(2 * data.PAGE)
        assert len(last) == 100
        assert not {r.key for r in first} & {r.key for r in last}
    with counting_statements(big) as seen:
        data.header(big)
        data.engine_rows(big, Query())
    assert len(seen) == 4  # counts, lock; engines, their running jobs


def test_overview_next_run_and_last_state_agree_with_the_job_objects(big: Engine) -> None:
    frozen = Engine(big.url, clock=FakeClock(big.clock.now() + timedelta(minutes=90)))
    try:
        for o in frozen.scheduled.overview(limit=20):
            assert o.next_run is not None and o.next_run == o.job.next_run()
            assert o.last_state is None
    finally:
        frozen.close()


def test_past_the_last_row_loads_the_next_page_and_above_the_first_the_previous(
    big: Engine,
) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        assert column(app, "name")[0] == "Job00000"
        assert f"rows 1-{data.PAGE}, more below" in static_text(app, "#title")
        await pilot.press("ctrl+end", "down")
        assert column(app, "name")[0] == f"Job{data.PAGE:05d}"
        assert app.table.cursor_row == 0
        await pilot.press("up")
        assert column(app, "name")[0] == "Job00000"
        assert app.table.cursor_row == data.PAGE - 1
        await pilot.press("ctrl+end", "down", "ctrl+end", "pagedown")
        assert column(app, "name")[-1] == f"Job{N - 1:05d}"
        assert "more below" not in static_text(app, "#title")
        await pilot.press("ctrl+end", "down")  # no page after the last: the cursor stays
        assert column(app, "name")[-1] == f"Job{N - 1:05d}"

    drive(big, steps)


def test_slash_filters_in_the_store_beyond_the_rows_read(big: Engine) -> None:
    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("slash", *f"Job{N - 1:05d}", "enter")
        assert column(app, "name") == [f"Job{N - 1:05d}"]
        await pilot.press("2", "slash", *f"run {N - 2}", "enter")
        assert column(app, "description") == [f"Run {N - 2}"]

    drive(big, steps)


def test_a_slow_store_never_holds_the_keys_up(
    console_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = data.header

    def header(engine: Engine) -> data.Header:
        time.sleep(1.0)
        return slow(engine)

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        monkeypatch.setattr(data, "header", header)
        began = time.monotonic()
        await Pilot.press(pilot, "2")
        await Pilot.press(pilot, "3")
        assert app.view_name == "events"
        assert time.monotonic() - began < 0.9  # the keys went through while the store read
        assert app.is_reading

    drive(console_engine, steps)


def test_a_job_queued_elsewhere_shows_at_once_on_the_notification_keeping_the_cursor(
    console_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_app, "REFRESH_S", 3600.0)  # only a notification refreshes
    other = Engine(console_engine.url)

    async def steps(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        before = len(column(app, "state"))
        app.table.move_cursor(row=2, animate=False)
        await pilot.pause()
        cursor = app.table.cursor_key
        other.background.execute("tests.integration.jobs:noop", description="from elsewhere")
        deadline = time.monotonic() + 20
        while "from elsewhere" not in column(app, "description"):
            assert time.monotonic() < deadline, "no refresh on the notification"
            await asyncio.sleep(0.05)
            await pilot.pause()
        assert len(column(app, "state")) == before + 1
        assert app.table.cursor_key == cursor

    try:
        drive(console_engine, steps)
    finally:
        other.close()
