"""Scheduled jobs on a started engine, in real time, with real workers: no overlap, and a
run whose engine is killed is settled by the next engine and restarted by its policy."""

from __future__ import annotations

import itertools
import os
import signal
from pathlib import Path

import pytest

from jobengine import JobState
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, process_gone, wait_until

EVERY_SECOND = """
allowed_modules: [tests.integration.sched_jobs]
scheduled_jobs:
  Tick:
    method: tests.integration.sched_jobs:slow_tick
    use: true
    predefined: true
    schedule: {days_repeat_period: 1, repeat_period_in_day: 1}
"""

RESTARTED = """
allowed_modules: [tests.integration.sched_jobs]
scheduled_jobs:
  Long:
    method: tests.integration.sched_jobs:until_released
    params: ["/nonexistent"]
    restart_on_failure: {count: 1, interval: 1}
    schedule: {days_repeat_period: 1}
"""


def _registry(tmp_path: Path, text: str) -> str:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(text)
    return str(folder)


@pytest.mark.timeout(90)
def test_an_every_second_job_with_a_slower_body_never_overlaps(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, registry=_registry(tmp_path, EVERY_SECOND), workers=2)
    (tick,) = engine.scheduled.get(metadata="Tick")
    wait_until(lambda: len(engine.background.get(scheduled_job=tick.uuid)) >= 3, 45, "3 runs")
    # an occurrence that came due while a run was active waits (and starts when it ends)
    wait_until(
        lambda: any(o.decision == "skipped_active" for o in tick.occurrences(limit=5)),
        what="an occurrence skipped while the previous run is active",
    )
    engine.scheduled.lock()  # no new starts while the runs are checked
    runs = engine.background.get(scheduled_job=tick.uuid)
    assert engine.background.wait(runs, timeout=10)
    spans = sorted((r.refresh().started, r.end) for r in runs)
    assert all(r.state is JobState.COMPLETED for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and start >= end, spans
    started = [o for o in tick.occurrences(limit=200) if o.decision == "started"]
    assert len(started) == len(runs)


@pytest.mark.timeout(120)
def test_a_run_whose_engine_is_killed_is_settled_and_restarted(
    store_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    registry = _registry(tmp_path, RESTARTED)
    runner = procs.run_engine(store_url, workers=1, extra=["--registry", registry])
    client = make_engine(store_url, start=False, registry=registry)
    long = client.scheduled.create("Long")
    long.params = [str(release)]
    long.use = True
    long.save()
    first = wait_until(lambda: long.refresh().last_job, what="the scheduled run to start")
    wait_until(lambda: first.refresh().started, what="the run to start in a worker")
    worker = int(first.location.rpartition(":")[2])

    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    wait_until(lambda: process_gone(worker), what="the worker gone after its engine died")

    make_engine(store_url, registry=registry, workers=1)
    assert first.wait(timeout=30)
    assert first.state is JobState.FAILED
    restart = wait_until(
        lambda: next((j for j in long.history() if j.attempt == 2), None), what="the restart"
    )
    release.write_text("go")
    assert restart.result(timeout=30) == "released"
    events = [e.event for e in client.log.get(scheduled_job=long.uuid)]
    assert "job.restart" in events and "job.failed" in events
    assert [j.attempt for j in long.history()] == [2, 1]
