"""The console at scale: how long each screen's data refresh takes, and how many queries it
runs, with many scheduled jobs, background jobs and events in an SQLite store.

    python bench/bench_console.py [--scheduled 10000] [--background 100000] [--events 50000]
                                  [--repeats 9] [--db PATH]

The store is filled through the API (`insert_many` for the scheduled jobs, `batch()` for the
background jobs: a backlog of ACTIVE jobs no engine takes), then each refresh below, a pure
data function of `jobengine.console.data` as the console's reading thread calls it, runs
`--repeats` times; the table gives the median and the slowest in ms, the queries one refresh
ran and the rows it returned (a page is 500 rows, read as 501 to learn whether more follow).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench.*` and `jobengine` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobengine import Engine
from jobengine.clock import to_ms
from jobengine.console import data
from jobengine.console.query import Query
from jobengine.store.records import Event
from jobengine.testing import counting_statements

PAGE = data.PAGE + 1  # what the console asks for: a page and one row to see if more follow
Refresh = Callable[[Engine], object]


def fill(engine: Engine, scheduled: int, background: int, events: int) -> None:
    """Scheduled jobs with varied schedules, a backlog of background jobs, an event log."""
    now = to_ms(engine.clock.now())
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "metadata": f"Job{i:05d}",
            "method": "tests.integration.jobs:add",
            "description": f"Scheduled job number {i}",
            "key": f"key-{i % 100}",
            "use": i % 3 != 0,
            "schedule": json.dumps(
                {"days_repeat_period": 1, "repeat_period_in_day": 60 + i % 3600}
            ),
            "due_from_ms": now,
            "created_ms": now,
            "changed_ms": now,
        }
        for i in range(scheduled)
    ]
    engine.store.scheduled.insert_many(rows)
    for start in range(0, background, 10_000):
        with engine.background.batch() as batch:
            for i in range(start, min(background, start + 10_000)):
                batch.execute("tests.integration.jobs:add", args=[i, 1], description=f"Run {i}")
    for start in range(0, events, 10_000):
        chunk = range(start, min(events, start + 10_000))
        engine.store.events.write([Event(now - i, "info", "job.started", f"e{i}") for i in chunk])


def refreshes(scheduled: int, background: int, events: int) -> dict[str, Refresh]:
    """Each screen's refresh: the first page, a late page, and a `/` filter that finds one
    row at the end of the table (every row is read: LIKE '%...%' uses no index)."""
    last_hour, any_time = Query(), Query(period="all")
    late_s = (scheduled - 1) // data.PAGE * data.PAGE
    mid_b = background // 2 // data.PAGE * data.PAGE
    s_text, b_text, e_text = f"Job{scheduled - 1:05d}", f"Run {background - 1}", f"e{events - 1}"
    return {
        "header (counts, lock)": data.header,
        "scheduled, page 1": lambda e: data.scheduled_rows(e, Query(), limit=PAGE),
        f"scheduled, rows from {late_s:,}": lambda e: data.scheduled_rows(
            e, Query(), "", late_s, PAGE
        ),
        f"scheduled, / {s_text}": lambda e: data.scheduled_rows(e, Query(), s_text, 0, PAGE),
        "background, page 1 (last hour)": lambda e: data.background_rows(e, last_hour, limit=PAGE),
        f"background, rows from {mid_b:,}": lambda e: data.background_rows(
            e, any_time, "", mid_b, PAGE
        ),
        f"background, / {b_text}": lambda e: data.background_rows(e, any_time, b_text, 0, PAGE),
        "event log, page 1": lambda e: data.event_rows(e, any_time, limit=PAGE),
        f"event log, / {e_text}": lambda e: data.event_rows(e, any_time, e_text, 0, PAGE),
        "engines": lambda e: data.engine_rows(e, Query()),
    }


def measure(
    engine: Engine, cases: dict[str, Refresh], repeats: int
) -> list[tuple[str, float, float, int, int]]:
    """(name, median ms, max ms, queries, rows) for each refresh."""
    out = []
    for name, refresh in cases.items():
        with counting_statements(engine) as seen:
            found = refresh(engine)
        rows = len(found) if isinstance(found, list) else 1
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            refresh(engine)
            times.append((time.perf_counter() - began) * 1000)
        out.append((name, statistics.median(times), max(times), len(seen), rows))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scheduled", type=int, default=10_000)
    p.add_argument("--background", type=int, default=100_000)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--db", help="SQLite file to fill (default: a temporary one)")
    args = p.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench-console-")
    path = args.db or os.path.join(folder, "console.db")
    engine = Engine(f"sqlite:///{path}")
    try:
        began = time.perf_counter()
        fill(engine, args.scheduled, args.background, args.events)
        print(
            f"filled {args.scheduled:,} scheduled jobs, {args.background:,} background jobs, "
            f"{args.events:,} events in {time.perf_counter() - began:.1f} s "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
        )
        print("| refresh | median ms | max ms | queries | rows |\n|---|---|---|---|---|")
        cases = refreshes(args.scheduled, args.background, args.events)
        for name, median, worst, queries, rows in measure(engine, cases, args.repeats):
            print(f"| {name} | {median:.1f} | {worst:.1f} | {queries} | {rows} |")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
