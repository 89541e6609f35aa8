"""Fencing: an engine paused past the heartbeat timeout and settled by another runs no job twice;
a warm stop with a long grace keeps beating, so its job's real outcome is recorded.

Two engines on the real PostgreSQL server: `jobengine run` in a subprocess (the one paused or
stopped) and a started engine in the test process.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path

import pytest

from jobengine import JobState
from jobengine.clock import to_ms
from tests.conftest import pg_url_or_skip
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, wait_until

pytestmark = [pytest.mark.pg, pytest.mark.slow]
SPAN = "tests.integration.jobs:record_span"


def _spans(log: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    starts: collections.Counter[str] = collections.Counter()
    ends: collections.Counter[str] = collections.Counter()
    for line in log.read_text().splitlines():
        kind, tag, _ = line.split()
        (starts if kind == "start" else ends)[tag] += 1
    return starts, ends


@pytest.mark.timeout(150)
def test_engine_paused_past_the_timeout_runs_no_job_twice(
    procs: Procs, make_engine: MakeEngine, tmp_path: Path
) -> None:
    url = pg_url_or_skip()
    log = tmp_path / "spans.log"
    paused = procs.run_engine(url, workers=2)
    client = make_engine(url, start=False)
    # Short jobs: each worker always holds a queued one, which it would start while paused.
    tags = [f"j{i}" for i in range(40)]
    jobs = [client.background.execute(SPAN, [str(log), tag, 0.05]) for tag in tags]
    wait_until(lambda: sum(1 for j in jobs if j.refresh().started) >= 6, what="paused to run jobs")
    paused.signal(signal.SIGSTOP)
    try:
        make_engine(url, workers=2)  # settles the silent engine after 15 s and runs the rest
        engines = client.store.engines
        wait_until(
            lambda: engines.alive(to_ms(client.clock.now()), 10**12) == 1,
            timeout_s=60,
            what="the paused engine to be settled (its row removed)",
        )
    finally:
        paused.signal(signal.SIGCONT)
    assert client.background.wait(jobs, timeout=60)
    starts, ends = _spans(log)
    assert max(starts.values()) == 1, f"jobs started twice: {starts}"
    assert max(ends.values()) == 1, f"jobs ran twice: {ends}"
    completed = {j.uuid for j in jobs if j.state is JobState.COMPLETED}
    for job in jobs:
        assert job.state in (JobState.COMPLETED, JobState.FAILED)
        if job.state is JobState.FAILED:
            assert job.error is not None and "engine stopped" in job.error.message
    # Only jobs it had handed to its 2 workers (2 each) or marked ahead (2 per worker, plus the
    # slots free then) may fail; the rest ran on the other engine.
    assert len(completed) >= len(jobs) - 12
    # The resumed engine found itself settled, registered again and takes work.
    assert paused.popen.poll() is None
    later = client.background.execute("tests.integration.jobs:add", [20, 22])
    assert later.result(timeout=30) == 42


@pytest.mark.timeout(120)
def test_warm_stop_with_a_long_grace_beside_another_engine_records_the_real_outcome(
    procs: Procs, make_engine: MakeEngine, tmp_path: Path
) -> None:
    url = pg_url_or_skip()
    log = tmp_path / "spans.log"
    stopping = procs.run_engine(url, workers=1, grace=40)
    client = make_engine(url, start=False)
    job = client.background.execute(SPAN, [str(log), "long", 20.0])
    wait_until(lambda: job.refresh().started, what="the job to start")
    make_engine(url, workers=1)  # would settle the stopping engine were it silent for 15 s
    stopping.signal(signal.SIGTERM)
    assert job.wait(timeout=60)
    # It ran to its end (asked to stop, it returned: CANCELED), not "engine stopped" (FAILED).
    assert job.state is JobState.CANCELED, job.error
    assert job.error is not None and "engine stopping" in job.error.message
    assert _spans(log)[1]["long"] == 1
    assert stopping.wait(timeout_s=30) == 0
