"""Two engines' schedulers on one store, each on its own fake clock a few seconds apart,
through two simulated days of a registry of twenty jobs: every occurrence starts once, no
scheduled job ever has two runs at once, and they start as many runs as one engine alone.

Time moves on a 10 s grid of true time, jumping to the next instant either engine wants to
look at or a run ends; at each instant both engines make a pass, in alternating order. Runs
end through the store (no workers); every third run of the `Flaky` job fails.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobengine import Engine
from jobengine.background import BackgroundJob
from jobengine.clock import from_ms, to_ms
from jobengine.testing import FakeClock

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
END = START + timedelta(days=2)
GRID_MS = 10_000
SKEW_S = 3  # the second engine's clock is this far ahead

# name: (schedule, run length in seconds)
JOBS: dict[str, tuple[str, int]] = {
    "HourlyAllDay": ("days_repeat_period: 1, repeat_period_in_day: 3600", 10),
    "HourlyWindow": (
        'days_repeat_period: 1, repeat_period_in_day: 3600, begin_time: "01:00", end_time: "06:30"',
        20,
    ),
    "Every90sWindow": (
        'days_repeat_period: 1, repeat_period_in_day: 90, begin_time: "10:00", '
        'end_time: "10:59:40"',
        10,
    ),
    "Every1200s": ("days_repeat_period: 1, repeat_period_in_day: 1200", 30),
    "Every120sWindow": (
        'days_repeat_period: 1, repeat_period_in_day: 120, begin_time: "08:00", '
        'end_time: "09:00:30"',
        10,
    ),
    "DailyOnce": ("days_repeat_period: 1", 10),
    "Daily0930": ('days_repeat_period: 1, begin_time: "09:30"', 10),
    "PauseOnly": (
        'days_repeat_period: 1, repeat_pause: 300, begin_time: "12:00", end_time: "18:00"',
        50,
    ),
    "PeriodAndPause": (
        "days_repeat_period: 1, repeat_period_in_day: 900, repeat_pause: 300, "
        'begin_time: "01:00", end_time: "06:10"',
        700,
    ),
    "Night": ('days_repeat_period: 1, begin_time: "20:00", end_time: "08:00"', 10),
    "Every30sWindow": (
        'days_repeat_period: 1, repeat_period_in_day: 30, begin_time: "14:00", '
        'end_time: "14:30:15"',
        10,
    ),
    "Weekdays": ('days_repeat_period: 1, week_days: [1, 2, 3, 4, 5], begin_time: "07:00"', 10),
    "EveryOtherDay": ('days_repeat_period: 2, begin_time: "05:00"', 10),
    "Every2h": (
        'days_repeat_period: 1, repeat_period_in_day: 7200, begin_time: "02:00", end_time: "22:15"',
        10,
    ),
    "PauseAllDay": ("days_repeat_period: 1, repeat_pause: 1200", 20),
    "Flaky": ("days_repeat_period: 1, repeat_period_in_day: 3600", 10),
    "Limited": (
        'days_repeat_period: 1, repeat_period_in_day: 3600, begin_time: "03:00", '
        'end_time: "05:30", completion_interval: 60',
        120,
    ),
    "Third": ('days_repeat_period: 1, day_in_month: 3, begin_time: "11:00"', 10),
    "OnceAt0100": ('begin_time: "01:00"', 10),
    "LastMinutes": (
        'days_repeat_period: 1, repeat_period_in_day: 60, begin_time: "23:50", '
        'end_time: "23:59:59"',
        10,
    ),
}


def registry(folder: Path) -> str:
    folder.mkdir(exist_ok=True)
    lines = ["scheduled_jobs:"]
    for name, (schedule, _) in JOBS.items():
        restart = "{count: 2, interval: 30}" if name == "Flaky" else "{count: 0, interval: 0}"
        lines += [
            f"  {name}:",
            "    method: tests.integration.jobs:noop",
            "    use: true",
            "    predefined: true",
            f"    restart_on_failure: {restart}",
            f"    schedule: {{{schedule}, timezone: UTC}}",
        ]
    (folder / "jobs.yaml").write_text("\n".join(lines) + "\n")
    return str(folder)


@dataclass
class Outcome:
    runs: Counter[str] = field(default_factory=Counter)  # job name -> runs started
    by_engine: Counter[int] = field(default_factory=Counter)


def passes_at_once(engines: list[Engine]) -> list[list[BackgroundJob]]:
    """One pass of each engine, all at the same moment, each in a thread of its own."""
    barrier = threading.Barrier(len(engines))
    results: list[list[BackgroundJob]] = [[] for _ in engines]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = engines[i].scheduler.run_due()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def make_passes(
    engines: list[Engine], turn: int, at_once: bool
) -> list[tuple[int, list[BackgroundJob]]]:
    """A pass of each engine: at the same moment, or one after another (alternating who is
    first); returns (engine index, runs started)."""
    if at_once:
        return list(enumerate(passes_at_once(engines)))
    order = list(range(len(engines)))
    if turn % 2:
        order.reverse()
    return [(i, engines[i].scheduler.run_due()) for i in order]


def simulate(
    engines: list[tuple[Engine, FakeClock, int]], until: datetime = END, at_once: bool = False
) -> Outcome:
    """Run the engines (each with its clock and skew in ms) from START to `until`; with
    `at_once` their passes at each instant run concurrently instead of one after another."""
    first = engines[0][0]
    names = {sj.uuid: sj.metadata for sj in first.scheduled.get()}
    assert sorted(names.values()) == sorted(JOBS)
    out = Outcome()
    pending: list[tuple[int, str, str]] = []  # (end ms, run, state)
    t = to_ms(START)
    end = to_ms(until)
    turn = 0
    while t < end:
        for _, clock, skew in engines:
            clock.set(from_ms(t + skew) or START)
        over = [p for p in pending if p[0] <= t]
        pending = [p for p in pending if p[0] > t]
        for _, run, state in over:
            error = ("", "") if state == "COMPLETED" else ("RuntimeError", "flaky")
            first.store.jobs.end_now([run], state, t, error)  # a canceled one is over
        passes = make_passes([e for e, _, _ in engines], turn, at_once)
        turn += 1
        for i, started in passes:
            for job in started:
                name = names[job.scheduled_job or ""]
                out.runs[name] += 1
                out.by_engine[i] += 1
                state = "FAILED" if name == "Flaky" and out.runs[name] % 3 == 0 else "COMPLETED"
                pending.append((t + JOBS[name][1] * 1000, job.uuid, state))
            if started:  # the only moment a second run could appear
                active = Counter(j.scheduled_job for j in first.background.get(state="ACTIVE"))
                assert all(n == 1 for n in active.values()), active
        wanted = [p[0] for p in pending]
        for e, _, skew in engines:
            wake = e.scheduler.next_wake_ms()
            if wake is not None:
                wanted.append(wake - skew)
        nxt = min([end, *wanted])
        t = max(t + GRID_MS, math.ceil(nxt / GRID_MS) * GRID_MS)
    return out


def check_occurrences(engine: Engine) -> None:
    """Each scheduler start has its own 'started' occurrence, and none has two."""
    for sj in engine.scheduled.get():
        runs = engine.background.get(scheduled_job=sj.uuid)
        started = {j.uuid for j in runs if j.attempt == 1}
        rows = [o for o in sj.occurrences(100_000) if o.decision == "started"]
        assert len({o.nominal_ms for o in rows}) == len(rows)
        assert sorted(o.job or "" for o in rows) == sorted(started), sj.metadata


_ALONE: dict[datetime, Outcome] = {}


def single_engine(tmp_path: Path, until: datetime = END) -> Outcome:
    """The reference: one engine alone on an SQLite file (worked out once per session)."""
    if until in _ALONE:
        return _ALONE[until]
    clock = FakeClock(START)
    folder = registry(tmp_path / "single-registry")
    engine = Engine(f"sqlite:///{tmp_path}/single.db", registry=folder, clock=clock)
    try:
        outcome = simulate([(engine, clock, 0)], until)
        check_occurrences(engine)
        _ALONE[until] = outcome
        return outcome
    finally:
        engine.close()


@pytest.fixture
def two_engines(store_url: str, tmp_path: Path) -> Iterator[list[tuple[Engine, FakeClock, int]]]:
    folder = registry(tmp_path / "registry")
    clocks = [FakeClock(START), FakeClock(START + timedelta(seconds=SKEW_S))]
    engines = [Engine(store_url, registry=folder, clock=c) for c in clocks]
    yield [(engines[0], clocks[0], 0), (engines[1], clocks[1], SKEW_S * 1000)]
    for e in engines:
        e.close()


def test_two_skewed_engines_start_each_occurrence_once(
    two_engines: list[tuple[Engine, FakeClock, int]], tmp_path: Path
) -> None:
    both = simulate(two_engines)
    engine = two_engines[0][0]
    check_occurrences(engine)
    assert len(engine.scheduled.get()) == len(JOBS)
    assert both.by_engine[0] > 0 and both.by_engine[1] > 0
    alone = single_engine(tmp_path)
    assert both.runs == alone.runs
    assert sum(both.runs.values()) == sum(alone.runs.values())
    assert alone.runs["OnceAt0100"] == 1 and alone.runs["Third"] == 1
    assert alone.runs["Flaky"] > 48  # restarts of the failed runs come on top


def test_two_skewed_engines_passing_at_the_same_moment_start_each_occurrence_once(
    two_engines: list[tuple[Engine, FakeClock, int]], tmp_path: Path
) -> None:
    until = START + timedelta(hours=12)
    both = simulate(two_engines, until, at_once=True)
    check_occurrences(two_engines[0][0])
    assert both.runs == single_engine(tmp_path, until).runs
