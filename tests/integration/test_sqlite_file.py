"""A started engine looks after its SQLite file: the -wal file is emptied once the engine is
idle, and an engine whose file was deleted stops with one clear error."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from jobengine.clock import to_ms
from jobengine.errors import StoreLostError
from jobengine.state import JobState
from jobengine.store import NewJob
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, process_gone, wait_until

pytestmark = pytest.mark.timeout(120)

ECHO = "tests.integration.jobs:echo"


def wal_bytes(path: Path) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except FileNotFoundError:
        return 0


def test_the_wal_file_is_truncated_once_a_drained_engine_is_idle(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    path = tmp_path / "jobs.db"
    engine = make_engine(f"sqlite:///{path}", workers=2, max_finished=5000)  # keep all 1500
    now_ms = to_ms(engine.clock.now())
    payload = '["' + "x" * 4000 + '"]'
    jobs = [NewJob(str(uuid.uuid4()), ECHO, payload, "{}", now_ms, now_ms) for _ in range(1500)]
    # One transaction, ~6 MB of WAL at once; the store takes it only as a whole, so the engine
    # is told of the new jobs by hand.
    engine.store.jobs.insert_many(jobs)
    engine.announcer.new(None)
    assert wal_bytes(path) > 3_000_000
    handles = [engine.background.find(j.uuid) for j in jobs]
    assert engine.background.wait([h for h in handles if h is not None], timeout=60)
    assert {j.state for j in engine.background.get()} == {JobState.COMPLETED}
    wait_until(lambda: wal_bytes(path) == 0, timeout_s=30, what="the -wal file to be emptied")
    assert engine.started


def test_an_engine_whose_file_was_deleted_stops_with_one_error(
    tmp_path: Path, make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.db"
    engine = make_engine(f"sqlite:///{path}", workers=1, grace=0.5)
    job = engine.background.execute("tests.integration.jobs:sleep_forever")
    wait_until(lambda: job.refresh().state is JobState.ACTIVE and job.location, what="start")
    pid = int(job.location.rpartition(":")[2])
    stopped: list[BaseException] = []
    engine.on_failure = stopped.append
    for name in ("jobs.db", "jobs.db-wal", "jobs.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    wait_until(lambda: stopped, what="the engine to stop itself")
    assert not engine.started
    assert isinstance(engine.failure, StoreLostError)
    assert str(path) in str(engine.failure)
    assert stopped == [engine.failure]
    wait_until(lambda: process_gone(pid), what="the job's worker to be stopped")
    assert not path.exists()  # nothing recreated an empty file nobody else would see
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "was deleted" in errors[0].getMessage()


def test_jobengine_run_exits_non_zero_when_its_file_is_deleted(
    tmp_path: Path, procs: Procs
) -> None:
    path = tmp_path / "jobs.db"
    runner = procs.run_engine(f"sqlite:///{path}", workers=1)
    for name in ("jobs.db", "jobs.db-wal", "jobs.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    code = runner.wait(30)
    assert code == 1, runner.stderr
    last = runner.stderr.strip().splitlines()[-1]
    assert last.startswith("jobengine: store file ") and "was deleted" in last
    assert "Traceback" not in runner.stderr
    assert not path.exists()
