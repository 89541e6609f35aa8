"""The scheduler against spec sections 2, 3, 5, 7 and 9, on a fake clock and a real SQLite file.

No worker runs: `run_due()` starts runs (they stay ACTIVE) and the test ends each one through
the store, the path the dispatcher takes. Expected start instants are worked out by hand from
the 1C rules, never by asking the schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobengine import Engine
from jobengine.clock import from_ms, to_ms
from jobengine.errors import JobEngineError, RegistryError
from jobengine.schedule import Schedule
from jobengine.scheduled import ScheduledJob
from jobengine.testing import FakeClock

START = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday
MONTH_END = datetime(2026, 4, 1, tzinfo=UTC)

REGISTRY = """\
scheduled_jobs:
  Plain:
    method: tests.integration.jobs:noop
    use: false
    restart_on_failure: {count: 0, interval: 0}
    schedule: {days_repeat_period: 1}
"""

PREDEFINED = """\
scheduled_jobs:
  Pre:
    method: tests.integration.jobs:noop
    description: a predefined job
    use: true
    predefined: true
    restart_on_failure: {count: 3, interval: 10}
    schedule: {days_repeat_period: 1, repeat_period_in_day: 3600, timezone: UTC}
"""


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class Rig:
    """An engine on a fake clock, and the runs it started that the test has not ended."""

    def __init__(self, url: str, registry: Path, clock: FakeClock) -> None:
        self.url = url
        self.registry = registry
        self.clock = clock
        self.engine = Engine(url, registry=str(registry), clock=clock)
        self.engines = [self.engine]
        self.pending: list[tuple[int, str, str]] = []  # (end ms, run uuid, outcome)

    def reopen(self) -> Engine:
        """A new engine on the same file and registry (a restart of the process)."""
        self.engine = Engine(self.url, registry=str(self.registry), clock=self.clock)
        self.engines.append(self.engine)
        return self.engine

    def close(self) -> None:
        for e in self.engines:
            e.close()

    @property
    def now_ms(self) -> int:
        return to_ms(self.clock.now())

    def go(self, when: datetime) -> None:
        self.clock.set(when)

    def job(self, schedule: Schedule, **fields: Any) -> ScheduledJob:
        sj = self.engine.scheduled.create("Plain")
        sj.schedule = schedule
        sj.use = True
        for name, value in fields.items():
            setattr(sj, name, value)
        return sj.save()

    def due(self) -> list[str]:
        """One pass now; returns the uuids of the runs it started."""
        return [j.uuid for j in self.engine.scheduler.run_due()]

    def end(self, run: str, state: str = "COMPLETED") -> None:
        error = ("", "") if state == "COMPLETED" else ("RuntimeError", "it broke")
        assert self.engine.store.jobs.end_now([run], state, self.now_ms, error) == [run]

    def state(self, run: str) -> str:
        rec = self.engine.store.jobs.find(run)
        assert rec is not None
        return rec.state

    def simulate(
        self, until: datetime, duration_s: float = 5, step_s: float | None = None
    ) -> list[datetime]:
        """Run the scheduler up to `until` (exclusive), jumping to each wake instant (or
        every `step_s`); each run completes `duration_s` after its start. Returns the
        start instants."""
        end = to_ms(until)
        starts: list[datetime] = []
        for _ in range(200_000):
            now = self.now_ms
            over = [p for p in self.pending if p[0] <= now]
            self.pending = [p for p in self.pending if p[0] > now]
            for _, run, state in over:
                self.end(run, state)
            for job in self.engine.scheduler.run_due():
                starts.append(job.begin)
                self.pending.append((now + int(duration_s * 1000), job.uuid, "COMPLETED"))
            times = [end, *(p[0] for p in self.pending)]
            wake = self.engine.scheduler.next_wake_ms()
            if wake is not None:
                times.append(wake)
            if step_s is not None:
                times.append(now + int(step_s * 1000))
            nxt = max(min(times), now + 1)
            if nxt >= end:
                self.go(until)
                return starts
            self.clock.set(from_ms(nxt) or until)
        raise AssertionError("the simulation did not reach its end")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(REGISTRY)
    r = Rig(f"sqlite:///{tmp_path}/jobs.db", folder, FakeClock(START))
    yield r
    r.close()


def utc(**fields: Any) -> Schedule:
    return Schedule(timezone="UTC", **fields)


def days(*numbers: int, hour: int = 0, minute: int = 0) -> list[datetime]:
    return [at(d, hour, minute) for d in numbers]


MARCH = range(1, 32)

# Spec section 2, "Documented examples (S1)", then the BSP predefined schedules; March 2026
# from Sunday the 1st, each run lasting 5 s. Worked out by hand from the rules.
EXAMPLES: list[tuple[str, Schedule, list[datetime]]] = [
    # d=0, p=3600: the first day only, every hour of it
    (
        "every hour on one day",
        utc(repeat_period_in_day=3600),
        [at(1, h) for h in range(24)],
    ),
    ("every day once", utc(days_repeat_period=1), days(*MARCH)),
    ("one day once", utc(), days(1)),
    # anchored on the first run's day (P1)
    ("every other day", utc(days_repeat_period=2), days(*range(1, 32, 2))),
    (
        "hourly 01:00-07:00",
        utc(
            days_repeat_period=1,
            repeat_period_in_day=3600,
            begin_time=time(1),
            end_time=time(7),
        ),
        [at(d, h) for d in MARCH for h in range(1, 8)],  # 07:00 is inclusive (P5)
    ),
    (
        "Saturday and Sunday at 09:00",
        utc(days_repeat_period=1, week_days=[6, 7], begin_time=time(9)),
        days(1, 7, 8, 14, 15, 21, 22, 28, 29, hour=9),
    ),
    # weeks counted from the Monday of the first run's week (Feb 23): on, off, on, off...
    (
        "a week on, a week off",
        utc(days_repeat_period=1, weeks_period=2),
        days(1, *range(9, 16), *range(23, 30)),
    ),
    ("once at 01:00", utc(begin_time=time(1)), days(1, hour=1)),
    (
        "last day of the month at 09:00",
        utc(days_repeat_period=1, day_in_month=-1, begin_time=time(9)),
        days(31, hour=9),
    ),
    (
        "the 5th at 09:00",
        utc(days_repeat_period=1, day_in_month=5, begin_time=time(9)),
        days(5, hour=9),
    ),
    (
        "the second Wednesday at 09:00",
        utc(days_repeat_period=1, week_day_in_month=2, week_days=[3], begin_time=time(9)),
        days(11, hour=9),
    ),
    # BSP: 20:00-08:00 once a day; the window opened on Feb 28 is still open at the start
    (
        "20:00-08:00 once a day",
        utc(days_repeat_period=1, begin_time=time(20), end_time=time(8)),
        [at(1), *days(*MARCH, hour=20)],
    ),
    (
        "01:00-06:00 every 900 s",
        utc(
            days_repeat_period=1,
            begin_time=time(1),
            end_time=time(6),
            repeat_period_in_day=900,
            repeat_pause=300,
        ),
        [at(d, 1) + timedelta(minutes=15 * k) for d in MARCH for k in range(21)],
    ),
    (
        "03:00 with completion at 04:00",
        utc(days_repeat_period=1, begin_time=time(3), completion_time=time(4)),
        days(*MARCH, hour=3),
    ),
]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in EXAMPLES],
)
def test_documented_example_over_a_month(
    rig: Rig, schedule: Schedule, expected: list[datetime]
) -> None:
    rig.job(schedule)
    assert rig.simulate(MONTH_END) == expected


def test_repeat_pause_from_the_last_end_makes_starts_drift(rig: Rig) -> None:
    # BSP's 01:00-06:00, period 900, pause 300, with runs of 700 s: each next start is
    # 700 + 300 s after the last, later than the period (P2): 01:00 + k * 1000 s, <= 06:00
    rig.job(
        utc(
            days_repeat_period=1,
            begin_time=time(1),
            end_time=time(6),
            repeat_period_in_day=900,
            repeat_pause=300,
        )
    )
    expected = [at(d, 1) + timedelta(seconds=1000 * k) for d in (1, 2, 3) for k in range(19)]
    assert rig.simulate(at(4), duration_s=700) == expected


def test_stepping_every_minute_gives_the_same_starts(rig: Rig) -> None:
    rig.job(
        utc(
            days_repeat_period=1,
            repeat_period_in_day=3600,
            begin_time=time(1),
            end_time=time(7),
        )
    )
    starts = rig.simulate(at(3), step_s=60)
    assert starts == [at(d, h) for d in (1, 2) for h in range(1, 8)]


def decisions(sj: ScheduledJob) -> dict[datetime, str]:
    return {from_ms(o.nominal_ms) or START: o.decision for o in sj.occurrences(100)}


def events(rig: Rig, name: str, sj: ScheduledJob | None = None) -> list[str]:
    return [e.message for e in rig.engine.log.get(event=name, scheduled_job=sj)]


# -- overlap ------------------------------------------------------------------------------


def test_an_active_run_skips_the_occurrence_and_never_overlaps(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, repeat_period_in_day=60))
    (first,) = rig.due()
    rig.go(at(1, 0, 1))
    assert rig.due() == []
    assert decisions(sj) == {at(1): "started", at(1, 0, 1): "skipped_active"}
    rig.go(at(1, 0, 1, 30))
    assert rig.due() == []
    assert [j.uuid for j in rig.engine.background.get(state="ACTIVE")] == [first]
    # once it ended, the blocked occurrence may still start in its window
    rig.end(first)
    (second,) = rig.due()
    assert second != first
    assert decisions(sj)[at(1, 0, 1)] == "started"


# -- restarts -----------------------------------------------------------------------------


def test_a_failed_run_is_restarted_restart_count_times_interval_apart(rig: Rig) -> None:
    sj = rig.job(
        utc(days_repeat_period=1, begin_time=time(1), end_time=time(2)),
        restart_count=2,
        restart_interval=30,
    )
    rig.go(at(1, 1))
    (run,) = rig.due()
    attempts = [rig.engine.background.find(run).attempt]  # type: ignore[union-attr]
    for _ in range(2):
        rig.clock.advance(10)
        rig.end(run, "FAILED")
        rig.clock.advance(29)
        assert rig.due() == []
        rig.clock.advance(1)
        (run,) = rig.due()
        attempts.append(rig.engine.background.find(run).attempt)  # type: ignore[union-attr]
    assert attempts == [1, 2, 3]
    assert rig.clock.now() == at(1, 1, 1, 20)
    rig.clock.advance(10)
    rig.end(run, "FAILED")
    # no third restart, not even past the window, and no new start before tomorrow's
    for when in (at(1, 1, 2), at(1, 1, 30), at(1, 3), at(2, 0, 59, 59)):
        rig.go(when)
        assert rig.due() == []
    assert len(events(rig, "job.restart", sj)) == 2
    # a normal start resets the count: its failure is restarted again
    rig.go(at(2, 1))
    (run,) = rig.due()
    assert rig.engine.background.find(run).attempt == 1  # type: ignore[union-attr]
    rig.end(run, "FAILED")
    rig.clock.advance(30)
    (again,) = rig.due()
    assert rig.engine.background.find(again).attempt == 2  # type: ignore[union-attr]
    assert sj.refresh().last_begin == at(2, 1)  # restarts do not move the schedule's start


def test_restarts_ignore_the_window_but_respect_the_lock(rig: Rig) -> None:
    rig.job(
        utc(days_repeat_period=1, begin_time=time(1), end_time=time(1, 0, 30)),
        restart_count=1,
        restart_interval=60,
    )
    rig.go(at(1, 1))
    (run,) = rig.due()
    rig.clock.advance(5)
    rig.end(run, "FAILED")
    rig.engine.scheduled.lock()
    rig.go(at(1, 1, 2))
    assert rig.due() == []
    rig.engine.scheduled.unlock()
    rig.go(at(1, 1, 3))  # the window closed at 01:00:30
    (restart,) = rig.due()
    assert rig.engine.background.find(restart).attempt == 2  # type: ignore[union-attr]


def test_a_completed_or_canceled_run_is_not_restarted(rig: Rig) -> None:
    rig.job(utc(days_repeat_period=1, begin_time=time(1)), restart_count=3, restart_interval=10)
    rig.go(at(1, 1))
    (run,) = rig.due()
    rig.end(run, "CANCELED")
    rig.go(at(1, 2))
    assert rig.due() == []
    rig.go(at(2, 1))
    (run,) = rig.due()
    rig.end(run)
    rig.go(at(2, 2))
    assert rig.due() == []


# -- completion time and interval ---------------------------------------------------------


def test_a_run_past_its_completion_time_is_stopped_and_not_restarted(rig: Rig) -> None:
    sj = rig.job(
        utc(days_repeat_period=1, begin_time=time(3), completion_time=time(4)),
        restart_count=3,
        restart_interval=10,
    )
    rig.go(at(1, 3))
    (run,) = rig.due()
    rig.go(at(1, 3, 59, 59))
    rig.due()
    found = rig.engine.store.jobs.find(run)
    assert found is not None and not found.cancel_requested
    rig.go(at(1, 4))
    rig.due()
    found = rig.engine.store.jobs.find(run)
    assert found is not None and found.cancel_requested
    assert len(events(rig, "job.deadline", sj)) == 1
    rig.end(run, "CANCELED") if rig.state(run) == "ACTIVE" else None
    assert rig.state(run) == "CANCELED"
    for when in (at(1, 4, 0, 10), at(1, 5), at(2, 2, 59)):
        rig.go(when)
        assert rig.due() == []
    rig.go(at(2, 3))
    assert len(rig.due()) == 1


def test_a_run_longer_than_the_completion_interval_is_stopped(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), completion_interval=600))
    rig.go(at(1, 1, 0, 7))
    (run,) = rig.due()
    rig.go(at(1, 1, 10, 6))
    rig.due()
    assert not rig.engine.store.jobs.find(run).cancel_requested  # type: ignore[union-attr]
    assert events(rig, "job.deadline", sj) == []
    rig.go(at(1, 1, 10, 7))
    rig.due()
    assert rig.engine.store.jobs.find(run).cancel_requested  # type: ignore[union-attr]
    assert len(events(rig, "job.deadline", sj)) == 1


def test_a_new_engine_still_enforces_the_deadline_of_a_run_started_before(rig: Rig) -> None:
    rig.job(utc(days_repeat_period=1, begin_time=time(1), completion_interval=600))
    rig.go(at(1, 1))
    (run,) = rig.due()
    rig.reopen()
    rig.go(at(1, 1, 10))
    rig.due()
    assert rig.engine.store.jobs.find(run).cancel_requested  # type: ignore[union-attr]


# -- downtime -----------------------------------------------------------------------------


def test_downtime_gives_one_run_and_records_the_missed_occurrences(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, repeat_period_in_day=3600))
    (run,) = rig.due()
    rig.clock.advance(5)
    rig.end(run)
    rig.go(at(1, 5, 30))  # no scheduler ran from 00:00:05 to 05:30
    (late,) = rig.due()
    assert rig.engine.background.find(late).begin == at(1, 5, 30)  # type: ignore[union-attr]
    assert decisions(sj) == {
        at(1): "started",
        at(1, 1): "missed",
        at(1, 2): "missed",
        at(1, 3): "missed",
        at(1, 4): "missed",
        at(1, 5): "started",
    }
    assert len(events(rig, "schedule.missed", sj)) == 4
    started = rig.engine.log.get(event="job.started", job=late)
    assert [e.level for e in started] == ["warning"]  # late: no scheduler was running
    # the period counts from the real start (P2)
    rig.end(late)
    rig.go(at(1, 6, 29, 59))
    assert rig.due() == []
    rig.go(at(1, 6, 30))
    assert len(rig.due()) == 1


def test_a_window_that_closed_during_downtime_gives_no_run(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), end_time=time(2)))
    rig.go(at(1, 3))
    assert rig.due() == []
    assert decisions(sj) == {at(1, 1): "missed"}
    assert len(events(rig, "schedule.missed", sj)) == 1
    rig.go(at(1, 23, 59))
    assert rig.due() == []
    rig.go(at(2, 1))
    assert len(rig.due()) == 1


def test_downtime_over_several_days_misses_each_closed_window(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), end_time=time(2)))
    rig.go(at(4, 1, 30))
    assert len(rig.due()) == 1
    assert decisions(sj) == {
        at(1, 1): "missed",
        at(2, 1): "missed",
        at(3, 1): "missed",
        at(4, 1): "started",
    }


# -- the lock and pauses ------------------------------------------------------------------


def test_the_lock_blocks_starts_and_unlocking_in_the_window_starts_it(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), end_time=time(2)))
    rig.go(at(1, 0, 30))
    rig.engine.scheduled.lock()
    assert rig.engine.scheduled.locked
    rig.go(at(1, 1))
    assert rig.due() == []
    assert decisions(sj) == {at(1, 1): "locked"}
    rig.go(at(1, 1, 30))
    assert rig.due() == []
    rig.engine.scheduled.unlock()
    (run,) = rig.due()
    assert decisions(sj) == {at(1, 1): "started"}
    rig.end(run)
    # locked through the next window: no run, and none after unlocking once it closed
    rig.engine.scheduled.lock()
    rig.go(at(2, 1, 15))
    assert rig.due() == []
    rig.go(at(2, 2, 30))
    rig.engine.scheduled.unlock()
    assert rig.due() == []
    rig.go(at(3, 1))
    assert len(rig.due()) == 1
    assert [e.event for e in rig.engine.log.get(event="lock.on")] == ["lock.on"] * 2


def test_a_background_job_still_runs_under_the_lock(rig: Rig) -> None:
    rig.engine.scheduled.lock()
    job = rig.engine.background.execute("tests.integration.jobs:noop")
    assert job.state.value == "ACTIVE"


def test_pause_until_skips_then_runs_again(rig: Rig) -> None:
    sj = rig.job(
        utc(
            days_repeat_period=1,
            begin_time=time(1),
            end_time=time(5),
            repeat_period_in_day=3600,
        )
    )
    rig.go(at(1, 0, 30))
    sj.pause(until=at(1, 1, 30), reason="maintenance")
    assert sj.paused and sj.paused_until == at(1, 1, 30)
    rig.go(at(1, 1))
    assert rig.due() == []
    assert decisions(sj) == {at(1, 1): "paused"}
    rig.go(at(1, 1, 29, 59))
    assert rig.due() == []
    rig.go(at(1, 1, 30))
    (run,) = rig.due()
    rig.end(run)
    assert not sj.refresh().paused
    rig.go(at(1, 2, 30))
    assert len(rig.due()) == 1


def test_a_pause_survives_a_new_engine_and_a_registry_resync(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(PREDEFINED)
    rig = Rig(f"sqlite:///{tmp_path}/jobs.db", folder, FakeClock(START))
    try:
        (sj,) = rig.engine.scheduled.get(metadata="Pre")
        sj.pause(reason="hold")
        rig.reopen()
        assert rig.engine.scheduled.sync(rig.engine.registry) == ([], [])  # type: ignore[arg-type]
        sj = rig.engine.scheduled.named("Pre")
        assert sj.paused and sj.pause_reason == "hold"
        assert sj.next_run() is None
        for hour in range(6):
            rig.go(at(1, hour))
            assert rig.due() == []
        assert set(decisions(sj).values()) == {"paused"}
        sj.resume()
        assert len(rig.due()) == 1
    finally:
        rig.close()


# -- enabling and editing -----------------------------------------------------------------


def test_enabling_inside_an_open_window_runs_now(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), end_time=time(5)), use=False)
    rig.go(at(1, 2))
    assert rig.due() == []
    sj.use = True
    sj.save()
    (run,) = rig.due()
    assert rig.engine.background.find(run).begin == at(1, 2)  # type: ignore[union-attr]
    assert rig.engine.log.get(event="schedule.missed") == []


def test_enabling_after_the_window_closed_waits_for_the_next(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(1), end_time=time(5)), use=False)
    rig.go(at(1, 6))
    sj.use = True
    sj.save()
    assert rig.due() == []
    assert sj.next_run() == at(2, 1)
    rig.go(at(2, 0, 59, 59))
    assert rig.due() == []
    rig.go(at(2, 1))
    assert len(rig.due()) == 1
    assert rig.engine.log.get(event="schedule.missed") == []


def test_editing_the_schedule_into_an_open_window_runs_now(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(10), end_time=time(12)))
    rig.go(at(1, 2))
    assert rig.due() == []
    sj.schedule = utc(days_repeat_period=1, begin_time=time(1), end_time=time(5))
    sj.save()
    (run,) = rig.due()
    assert rig.engine.background.find(run).begin == at(1, 2)  # type: ignore[union-attr]


def test_editing_the_schedule_after_its_window_closed_waits(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, begin_time=time(10), end_time=time(12)))
    rig.go(at(1, 6))
    sj.schedule = utc(days_repeat_period=1, begin_time=time(1), end_time=time(5))
    sj.save()
    assert rig.due() == []
    rig.go(at(1, 10, 30))
    assert rig.due() == []
    rig.go(at(2, 1))
    assert len(rig.due()) == 1


# -- run now ------------------------------------------------------------------------------


def test_run_now_leaves_the_schedule_alone(rig: Rig) -> None:
    sj = rig.job(utc(days_repeat_period=1, repeat_period_in_day=3600))
    (run,) = rig.due()
    rig.clock.advance(5)
    rig.end(run)
    rig.go(at(1, 0, 20))
    assert sj.refresh().next_run() == at(1, 1)
    manual = sj.run_now()
    assert manual.description.startswith("Manual start: ")
    sj.refresh()
    assert sj.last_begin == at(1)
    assert sj.last_job is not None and sj.last_job.uuid == manual.uuid
    assert sj.next_run() == at(1, 1)
    with pytest.raises(JobEngineError):
        sj.run_now()  # refused while a run of it is active
    rig.clock.advance(5)
    rig.end(manual.uuid)
    rig.go(at(1, 0, 59, 59))
    assert rig.due() == []
    rig.go(at(1, 1))
    (scheduled,) = rig.due()
    sj.refresh()
    assert sj.last_begin == at(1, 1)
    assert sj.last_job is not None and sj.last_job.uuid == scheduled
    assert decisions(sj) == {at(1): "started", at(1, 1): "started"}


# -- the registry sync --------------------------------------------------------------------


def test_registry_sync_creates_keeps_edits_and_retires(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    yaml_file = folder / "jobs.yaml"
    yaml_file.write_text(PREDEFINED)
    rig = Rig(f"sqlite:///{tmp_path}/jobs.db", folder, FakeClock(START))
    try:
        (sj,) = rig.engine.scheduled.get(metadata="Pre")
        assert (sj.predefined, sj.use, sj.restart_count, sj.restart_interval) == (
            True,
            True,
            3,
            10,
        )
        with pytest.raises(JobEngineError, match="predefined"):
            rig.engine.scheduled.create("Pre")
        with pytest.raises(JobEngineError, match="predefined"):
            sj.delete()
        edited = utc(days_repeat_period=1, begin_time=time(4))
        sj.schedule = edited
        sj.use = False
        sj.restart_count, sj.restart_interval = 1, 5
        sj.save()

        rig.reopen()
        (again,) = rig.engine.scheduled.get(metadata="Pre")
        assert again.uuid == sj.uuid
        assert (again.schedule, again.use, again.restart_count, again.restart_interval) == (
            edited,
            False,
            1,
            5,
        )

        yaml_file.write_text(PREDEFINED.replace("predefined: true", "predefined: false"))
        rig.reopen()
        assert rig.engine.scheduled.get(metadata="Pre") == []
        assert "retired Pre" in events(rig, "registry.synced")[0]

        yaml_file.write_text(PREDEFINED)
        rig.reopen()
        (fresh,) = rig.engine.scheduled.get(metadata="Pre")
        assert fresh.uuid != sj.uuid and fresh.use
        yaml_file.write_text("scheduled_jobs: {}\n")
        rig.reopen()
        assert rig.engine.scheduled.get() == []
    finally:
        rig.close()


NO_SCHEDULE = "    schedule: {}\n"


def registry_error(tmp_path: Path, text: str) -> RegistryError:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(text)
    with pytest.raises(RegistryError) as info:
        Engine(f"sqlite:///{tmp_path}/jobs.db", registry=str(folder), clock=FakeClock(START))
    assert info.value.file == str(folder / "jobs.yaml")
    return info.value


def test_a_method_whose_module_does_not_import_is_refused(tmp_path: Path) -> None:
    text = (
        REGISTRY + "  Broken:\n    method: tests.integration.broken_at_import:run\n" + NO_SCHEDULE
    )
    err = registry_error(tmp_path, text)
    assert (err.line, err.field) == (7, "Broken.method")


def test_a_method_of_a_missing_module_is_refused(tmp_path: Path) -> None:
    text = REGISTRY + "  Missing:\n    method: tests.no_such_module:run\n" + NO_SCHEDULE
    err = registry_error(tmp_path, text)
    assert (err.line, err.field) == (7, "Missing.method")


def test_a_params_count_mismatch_is_refused(tmp_path: Path) -> None:
    text = (
        REGISTRY
        + "  Adder:\n    method: tests.integration.jobs:add\n    params: [1]\n"
        + NO_SCHEDULE
    )
    err = registry_error(tmp_path, text)
    assert (err.line, err.field) == (7, "Adder.params")


def test_a_predefined_method_that_needs_params_is_refused(tmp_path: Path) -> None:
    text = PREDEFINED.replace("jobs:noop", "jobs:add")
    err = registry_error(tmp_path, text)
    assert (err.line, err.field) == (2, "Pre.method")


def test_upcoming_shows_a_paused_job_at_the_end_of_its_pause(rig: Rig) -> None:
    hourly = utc(days_repeat_period=1, repeat_period_in_day=3600, begin_time=time(1))
    held = rig.job(hourly, description="held")
    stopped = rig.job(hourly, description="stopped")
    rig.job(utc(days_repeat_period=1, begin_time=time(2)), description="free")
    window = utc(days_repeat_period=1, begin_time=time(1), end_time=time(2))
    tomorrow = rig.job(window, description="tomorrow")
    rig.go(at(1, 0, 30))
    held.pause(until=at(1, 1, 30))
    stopped.pause()
    tomorrow.pause(until=at(1, 3))  # over after today's window closed
    assert held.next_run() == at(1, 1, 30)
    assert stopped.next_run() is None
    assert rig.due() == []
    # the scheduler still looks at 01:00 (to record the occurrence as paused)
    assert rig.engine.scheduler.next_wake_ms() == to_ms(at(1, 1))
    upcoming = [(sj.description, when) for sj, when in rig.engine.scheduler.upcoming()]
    assert upcoming == [("held", at(1, 1, 30)), ("free", at(1, 2)), ("tomorrow", at(2, 1))]


# -- keys, midnight, the clock going back -------------------------------------------------


def test_a_held_key_skips_the_other_job_of_the_same_metadata(rig: Rig) -> None:
    daily = utc(days_repeat_period=1, begin_time=time(1))
    one = rig.job(daily, key="prices")
    two = rig.job(daily, key="prices")
    rig.go(at(1, 1))
    (run,) = rig.due()
    one.refresh(), two.refresh()
    first, second = (one, two) if one.last_job else (two, one)
    assert first.last_job is not None and first.last_job.uuid == run
    assert decisions(second) == {at(1, 1): "skipped_key"}
    rig.end(run)
    # the window is still open: the other one starts now
    rig.go(at(1, 1, 0, 10))
    (other,) = rig.due()
    assert second.refresh().last_job is not None and second.last_job.uuid == other


def test_an_hourly_job_starts_afresh_at_midnight(rig: Rig) -> None:
    # a new window instance starts at once: 23:30 then 00:00 (P2)
    rig.go(at(1, 23, 30))
    rig.job(utc(days_repeat_period=1, repeat_period_in_day=3600))
    assert rig.simulate(at(2, 2)) == [at(1, 23, 30), at(2), at(2, 1)]


def test_a_clock_set_back_starts_nothing_until_it_passes_the_period(rig: Rig) -> None:
    rig.job(utc(days_repeat_period=1, repeat_period_in_day=3600))
    rig.go(at(1, 10))
    (run,) = rig.due()
    rig.clock.advance(5)
    rig.end(run)
    rig.go(at(1, 9, 30))  # the last start is now in the future (P8)
    assert rig.due() == []
    rig.go(at(1, 10, 59, 59))
    assert rig.due() == []
    rig.go(at(1, 11))
    assert len(rig.due()) == 1
