"""A console demo store whose every shown value is fixed: a FakeClock, uuids counted from 1,
one host name, and worker reports written through the store as an engine would. The SVG
snapshot tests and docs/screenshots.py render the console over it."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from jobengine import Engine, codec
from jobengine.background import BackgroundJob
from jobengine.clock import to_ms
from jobengine.store import Batch, Finish
from jobengine.store.resources import Ask
from jobengine.testing import FakeClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
URL = "sqlite:///console-demo.db"  # relative: the header shows the same text everywhere
HOST = "host-a"
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
    schedule: {days_repeat_period: 1, begin_time: "02:00"}
  PriceUpload:
    method: tests.integration.jobs:nap
    description: Upload prices to the website
    key: prices
    predefined: true
    use: true
    schedule: {days_repeat_period: 1, begin_time: "05:00", end_time: "07:00"}
  MonthReport:
    method: tests.integration.jobs:noop
    description: Month report, last Friday
    predefined: true
    use: true
    schedule: {days_repeat_period: 1, week_days: [5], week_day_in_month: -1,
               begin_time: "18:00"}
  Adhoc:
    method: tests.integration.jobs:add
    description: An ad hoc sum
    use: false
    params: [1, 2]
    schedule: {days_repeat_period: 1, weeks_period: 2, week_days: [1, 3], begin_time: "03:00"}
"""
TRACEBACK = """Traceback (most recent call last):
  File "tests/integration/jobs.py", line 30, in fail
    raise ValueError(text)
ValueError: price list is empty
"""


@contextmanager
def fixed_identity() -> Iterator[None]:
    """uuids 00000000-...-000000000001 on, and one host and user, while the store is made."""
    counter = itertools.count(1)
    with ExitStack() as stack:
        stack.enter_context(mock.patch("uuid.uuid4", lambda: uuid.UUID(int=next(counter))))
        stack.enter_context(mock.patch("jobengine.store.eventlog.HOST", HOST))
        stack.enter_context(mock.patch("jobengine.scheduled.who", lambda: f"admin@{HOST}"))
        yield


def build(folder: Path) -> FakeClock:
    """Make the demo store in `folder` (the current directory must be `folder`, since the
    URL is relative); returns the clock the console must use."""
    (folder / "registry").mkdir(exist_ok=True)
    (folder / "registry" / "demo.yaml").write_text(REGISTRY)
    clock = FakeClock(NOW - timedelta(minutes=40))
    # Migrate first, outside the counted uuids: the runner's savepoints are named by uuid4,
    # so each new migration would otherwise shift every uuid the screens show.
    Engine(URL).close()
    with fixed_identity():
        engine = Engine(URL, registry=str(folder / "registry"), clock=clock)
        try:
            _fill(engine, clock)
        finally:
            engine.close()
    clock.set(NOW)
    return clock


def _fill(engine: Engine, clock: FakeClock) -> None:
    bg = engine.background
    adhoc = engine.scheduled.create("Adhoc")
    adhoc.save()
    jobs = {"sum": bg.execute("tests.integration.jobs:add", args=[2, 40], key="sum")}
    clock.advance(minutes=15)
    jobs["fail"] = bg.execute("tests.integration.jobs:fail", args=["price list is empty"])
    clock.advance(minutes=5)
    jobs["report"] = bg.execute("tests.integration.jobs:report_progress", description="Report")
    clock.advance(minutes=10)
    jobs["import"] = bg.execute(
        "tests.integration.jobs:progress_until_file", args=["/tmp/go"], description="Import"
    )
    clock.advance(minutes=5)
    engine.scheduled.named("PriceUpload").pause(
        datetime(2026, 3, 3, 6, tzinfo=UTC), "supplier outage"
    )
    started = engine.scheduler.run_due()  # Nightly, due since 02:00
    clock.advance(minutes=4)
    bg.execute("tests.integration.jobs:noop", description="Rebuild search index", queue="index")
    _run_on_host(engine, [*jobs.values(), *started], jobs)
    _fill_resources(engine, clock, jobs)


def _run_on_host(
    engine: Engine, claimed: list[BackgroundJob], jobs: dict[str, BackgroundJob]
) -> None:
    """Write what engine-1's workers would report: starts, progress, messages, outcomes."""
    store = engine.store
    at = to_ms(NOW) - 60_000
    store.engines.register("engine-1", HOST, 4242, to_ms(NOW - timedelta(hours=2)), workers=4)
    store.engines.register(
        "engine-2", "host-b", 5151, to_ms(NOW - timedelta(hours=1)), workers=2, queues=["index"]
    )
    assert len(store.jobs.claim("engine-1", 10, at, queues=["default"])) == len(claimed)
    batch = Batch(
        started={j.uuid: (to_ms(j.begin) + 1000, HOST, 4300 + i) for i, j in enumerate(claimed)},
        progress={
            jobs["report"].uuid: (100.0, "done"),
            jobs["import"].uuid: (40.0, "page 4 of 10"),
        },
        messages=[(jobs["report"].uuid, to_ms(jobs["report"].begin) + 2000, "hello from the job")],
        finishes=[
            Finish(jobs["sum"].uuid, "COMPLETED", to_ms(jobs["sum"].begin) + 1500, codec.dumps(42)),
            Finish(
                jobs["fail"].uuid,
                "FAILED",
                to_ms(jobs["fail"].begin) + 2250,
                error_type="ValueError",
                error_message="price list is empty",
                error_traceback=TRACEBACK,
            ),
            Finish(
                jobs["report"].uuid,
                "COMPLETED",
                to_ms(jobs["report"].begin) + 65_000,
                codec.dumps("done"),
            ),
        ],
    )
    store.jobs.record(batch)
    store.engines.heartbeat("engine-1", to_ms(NOW) - 2000)
    store.engines.heartbeat("engine-2", to_ms(NOW) - 47_000)


def _fill_resources(engine: Engine, clock: FakeClock, jobs: dict[str, BackgroundJob]) -> None:
    """Two resource queues: an item the running Import job locks, one with a dated lock its
    finished Report job left, one processed, and free ones."""
    invoices, mail = engine.resources.queue("invoices"), engine.resources.queue("mail")
    done = invoices.put({"n": 1040, "customer": "Globex"}, tags=["eu"], priority=1)
    invoices.finish(done.id)
    invoices.put({"n": 1041, "customer": "Acme", "lines": 12}, tags=["urgent", "eu"], priority=3)
    invoices.put({"n": 1042, "customer": "Initech"}, params={"source": "mail"}, priority=1)
    letter = mail.put({"to": "ann@example.com", "subject": "March prices"}, tags=["newsletter"])
    mail.put({"to": "bob@example.com", "subject": "Welcome"})
    store, now = engine.store.resources, to_ms(clock.now())
    import_job = Ask(jobs["import"].uuid, now)
    assert store.take("invoices", import_job, ["urgent"], "both", None) is not None
    report = Ask(jobs["report"].uuid, now)
    until = to_ms(NOW + timedelta(hours=2))
    assert store.get("mail", letter.id, report, "write", until).blocked is None
