"""Crashes and stops: a worker killed mid-job, an engine killed with SIGKILL, SIGTERM to `run`.

Each test runs on an SQLite file and on the real PostgreSQL server (`store_url`).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from jobengine import JobState
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, location_pid, process_gone, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("method", "args", "code"),
    [
        ("tests.integration.jobs:sleep_forever", [], None),  # the test kills it with SIGKILL
        ("tests.integration.jobs:kill_self", [], -9),
        ("tests.integration.jobs:os_exit", [3], 3),
    ],
    ids=["kill-9-from-outside", "kill-9-itself", "os-exit-3"],
)
def test_worker_death_fails_the_job_and_the_engine_goes_on(
    store_url: str,
    make_engine: MakeEngine,
    tmp_path: Path,
    method: str,
    args: list[int],
    code: int | None,
) -> None:
    engine = make_engine(store_url, workers=2)
    release = tmp_path / "release"
    neighbour = engine.background.execute("tests.integration.jobs:wait_for_file", [str(release)])
    wait_until(lambda: neighbour.refresh().started, what="neighbour started")
    job = engine.background.execute(method, args)
    if code is None:
        wait_until(lambda: job.refresh().started, what="job started")
        os.kill(location_pid(job.location), signal.SIGKILL)
        code = -9

    assert job.wait(timeout=20)

    assert job.state is JobState.FAILED
    assert job.end is not None
    assert job.error is not None
    assert f"worker process exited with code {code}" in job.error.message
    # The other worker's job is untouched, and the pool replaced the dead worker.
    assert neighbour.refresh().state is JobState.ACTIVE
    after = [engine.background.execute("tests.integration.jobs:add", [i, 1]) for i in range(2)]
    assert [j.result(timeout=20) for j in after] == [1, 2]
    release.write_text("ok")
    assert neighbour.result(timeout=20) == "ok"


@pytest.mark.timeout(90)
def test_engine_killed_with_sigkill_is_settled_by_the_next_engine(
    store_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: Path
) -> None:
    runner = procs.run_engine(store_url, workers=1)
    client = make_engine(store_url, start=False)
    never = str(tmp_path / "never")
    stuck = client.background.execute("tests.integration.jobs:wait_for_file", [never], key="k")
    wait_until(lambda: stuck.refresh().started, what="job started in the engine subprocess")
    worker = location_pid(stuck.location)
    behind = client.background.execute("tests.integration.jobs:add", [40, 2])

    os.kill(runner.pid, signal.SIGKILL)  # the engine only: its workers must go by themselves
    runner.wait()

    wait_until(lambda: process_gone(worker), what="worker gone after its engine died")
    assert stuck.refresh().state is JobState.ACTIVE  # nobody settled it yet
    make_engine(store_url, workers=1)  # settles the dead engine's jobs when it starts
    assert stuck.wait(timeout=20)
    assert stuck.state is JobState.FAILED
    assert stuck.error is not None
    assert "engine stopped while the job ran" in stuck.error.message
    assert behind.result(timeout=20) == 42  # claimed or not, a job that never started runs
    ready = tmp_path / "ready"
    ready.write_text("free")
    again = client.background.execute("tests.integration.jobs:wait_for_file", [str(ready)], key="k")
    assert again.result(timeout=20) == "free"


@pytest.mark.timeout(60)
def test_sigterm_stops_run_gracefully_and_cancels_running_jobs(
    store_url: str, make_engine: MakeEngine, procs: Procs
) -> None:
    grace = 1.0
    runner = procs.run_engine(store_url, workers=1, grace=grace)
    client = make_engine(store_url, start=False)
    job = client.background.execute("tests.integration.jobs:sleep_forever")
    wait_until(lambda: job.refresh().started, what="job started in the engine subprocess")
    worker = location_pid(job.location)

    runner.signal(signal.SIGTERM)

    assert runner.wait(grace + 20) == 0, runner.stderr
    assert job.refresh().state is JobState.CANCELED
    assert job.error is not None and "engine stopping" in job.error.message
    assert process_gone(worker)
    assert "stopped" in runner.stderr
