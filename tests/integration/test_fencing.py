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
