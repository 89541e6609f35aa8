"""engine.background.batch(): many jobs in one transaction, all or nothing."""

from __future__ import annotations

import pytest

from jobengine import Engine, JobEngineError, JobKeyConflict, JobState
from tests.integration.conftest import MakeEngine

ADD = "tests.integration.jobs:add"


def test_batch_writes_every_job_and_the_engine_runs_them(
    make_engine: MakeEngine, store_url: str
) -> None:
    engine = make_engine(store_url)
    with engine.background.batch() as batch:
        jobs = [
            batch.execute(ADD, args=[i, 1], key=f"group-{i % 10}", on_conflict="queue")
            for i in range(200)
        ]
        assert len(batch) == 200
    assert engine.background.wait(jobs, timeout=60)
    assert [job.result(timeout=0) for job in jobs] == [i + 1 for i in range(200)]


def test_an_exception_in_the_block_writes_nothing(make_engine: MakeEngine, store_url: str) -> None:
    engine = make_engine(store_url, start=False)
    with pytest.raises(RuntimeError), engine.background.batch() as batch:
        for i in range(5):
            batch.execute(ADD, args=[i, 1])
        raise RuntimeError("changed my mind")
    assert engine.background.get() == []


def test_a_refused_job_raises_at_once_and_the_batch_writes_nothing(
    make_engine: MakeEngine, store_url: str
) -> None:
    engine = make_engine(store_url, start=False)
    with pytest.raises(JobEngineError), engine.background.batch() as batch:
        batch.execute(ADD, args=[1, 1])
        batch.execute(ADD, args=[1, 1], priority="high")
    with pytest.raises(JobEngineError, match="unknown option 'prio'"):
        engine.background.batch().execute(ADD, args=[1, 1], prio=1)
    assert engine.background.get() == []


def test_a_key_conflict_when_written_writes_none_of_the_batch(
    make_engine: MakeEngine, store_url: str
) -> None:
    engine = make_engine(store_url, start=False)
    holder = engine.background.execute(ADD, args=[0, 0], key="k")
    with pytest.raises(JobKeyConflict), engine.background.batch() as batch:
        batch.execute(ADD, args=[1, 1])
        batch.execute(ADD, args=[2, 2], key="k")
    assert [j.uuid for j in engine.background.get()] == [holder.uuid]


def test_batch_applies_each_jobs_own_conflict_rule(make_engine: MakeEngine, store_url: str) -> None:
    engine = make_engine(store_url, start=False)
    holder = engine.background.execute(ADD, args=[0, 0], key="k")
    with engine.background.batch() as batch:
        skipped = batch.execute(ADD, args=[1, 1], key="k", on_conflict="skip")
        queued = batch.execute(ADD, args=[2, 2], key="k", on_conflict="queue")
        delayed = batch.execute(ADD, args=[3, 3], delay=3600)
    assert skipped.uuid == holder.uuid
    assert queued.refresh().state is JobState.ACTIVE and queued.uuid != holder.uuid
    assert delayed.refresh().state is JobState.ACTIVE
    assert len(engine.background.get()) == 3


def test_a_written_batch_takes_no_more_jobs(sqlite_url: str) -> None:
    engine = Engine(sqlite_url)
    try:
        with engine.background.batch() as batch:
            batch.execute(ADD, args=[1, 1])
        with pytest.raises(JobEngineError, match="written already"):
            batch.execute(ADD, args=[1, 1])
    finally:
        engine.close()
