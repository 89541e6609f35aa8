"""Any number of engines on any stores in one process: started, stopped, closed, in threads.

Real engines with worker processes on SQLite files, and on the real PostgreSQL server where a
test names `pg_url`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from pathlib import Path

import peewee
import pytest

from jobengine import Engine, JobState
from jobengine.store.models import BackgroundJobRow
from tests.integration.conftest import MakeEngine

pytestmark = pytest.mark.timeout(120)
ADD = "tests.integration.jobs:add"


def sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path}/{name}.db"


def open_fds() -> list[str]:
    """What every open descriptor points to, after a garbage collection: an object caught in
    a reference cycle (the pool's epoll selector) closes its descriptor only when collected."""
    gc.collect()
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(out)


def thread_names() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


def test_two_started_engines_on_two_sqlite_files_run_their_own_jobs(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    a = make_engine(sqlite(tmp_path, "a"), workers=1)
    b = make_engine(sqlite(tmp_path, "b"), workers=1)
    ja = [a.background.execute(ADD, [i, 1]) for i in range(5)]
    jb = [b.background.execute(ADD, [i, 100]) for i in range(5)]
    assert a.background.wait(ja, timeout=30) and b.background.wait(jb, timeout=30)
    assert [j.result() for j in ja] == [i + 1 for i in range(5)]
    assert [j.result() for j in jb] == [i + 100 for i in range(5)]
    assert {j.uuid for j in a.background.get()} == {j.uuid for j in ja}
    assert {j.uuid for j in b.background.get()} == {j.uuid for j in jb}


@pytest.mark.pg
def test_started_sqlite_engine_beside_a_postgresql_client(
    tmp_path: Path, pg_url: str, make_engine: MakeEngine
) -> None:
    lite = make_engine(sqlite(tmp_path, "a"), workers=1)
    pg_client = make_engine(pg_url, start=False)
    pg_worker = make_engine(pg_url, workers=1)  # a second engine on the same PostgreSQL store
    on_pg = pg_client.background.execute(ADD, [20, 22])
    on_lite = lite.background.execute(ADD, [1, 2])
    assert on_pg.result(timeout=30) == 42 and on_lite.result(timeout=30) == 3
    assert lite.background.find(on_pg.uuid) is None
    assert pg_worker.background.find(on_lite.uuid) is None


def test_an_engine_on_another_store_after_one_was_started_and_stopped(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    first = make_engine(sqlite(tmp_path, "a"), workers=1)
    assert first.background.execute(ADD, [1, 1]).result(timeout=30) == 2
    first.stop()
    second = make_engine(sqlite(tmp_path, "b"), workers=1)
    assert second.background.execute(ADD, [2, 2]).result(timeout=30) == 4
    first.close()
    third = make_engine(sqlite(tmp_path, "c"), workers=1)
    assert third.background.execute(ADD, [3, 3]).result(timeout=30) == 6


def test_a_stopped_engine_is_a_client_of_the_same_store(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    url = sqlite(tmp_path, "a")
    engine = make_engine(url, workers=1)
    done = engine.background.execute(ADD, [1, 2])
    assert done.result(timeout=30) == 3
    engine.stop()
    assert not engine.started
    queued = engine.background.execute(ADD, [40, 2])
    assert engine.background.find(queued.uuid) is not None
    assert queued.refresh().state is JobState.ACTIVE
    make_engine(url, workers=1)  # another engine does the work; the client waits on it
    assert queued.result(timeout=30) == 42
    assert {j.uuid for j in engine.background.get(state=JobState.COMPLETED)} == {
        done.uuid,
        queued.uuid,
    }


def test_two_spellings_of_one_store_are_one_store(
    tmp_path: Path, make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = make_engine("sqlite:///jobs.db", workers=1)
    absolute = make_engine(f"sqlite:///{tmp_path}/jobs.db", start=False)
    assert relative.store.key == absolute.store.key
    job = absolute.background.execute(ADD, [1, 2])
    assert job.result(timeout=30) == 3


def test_client_engines_opened_and_closed_many_times_leave_nothing_behind(
    tmp_path: Path,
) -> None:
    urls = [sqlite(tmp_path, "a"), sqlite(tmp_path, "b")]
    for url in urls:  # warm-up: schema, imports and lazy module state exist from here on
        with_client_job(url)
    fds, threads = open_fds(), thread_names()
    # Kept alive: what close() leaves open shows here, not only what garbage collection misses.
    closed = [with_client_job(urls[i % 2]) for i in range(200)]
    assert open_fds() == fds
    assert thread_names() == threads
    assert len(closed) == 200


def with_client_job(url: str) -> Engine:
    engine = Engine(url, workers=1)
    try:
        job = engine.background.execute(ADD, [1, 2])
        assert engine.background.find(job.uuid) is not None
        job.wait(timeout=0)  # starts the store's listener thread and notifier socket
    finally:
        engine.close()
    return engine


def test_engines_started_and_stopped_many_times_leave_nothing_behind(tmp_path: Path) -> None:
    urls = [sqlite(tmp_path, "a"), sqlite(tmp_path, "b")]
    start_run_close(urls[0])  # warm-up: the worker-process server starts once per process
    fds, threads = open_fds(), thread_names()
    closed = [start_run_close(urls[i % 2]) for i in range(10)]
    assert open_fds() == fds
    assert thread_names() == threads
    assert len(closed) == 10


@pytest.mark.pg
def test_postgresql_engines_started_and_closed_leave_no_socket_behind(pg_url: str) -> None:
    start_run_close(pg_url)
    fds, threads = open_fds(), thread_names()
    closed = [start_run_close(pg_url) for _ in range(3)]
    closed += [with_client_job(pg_url) for _ in range(20)]
    assert open_fds() == fds
    assert thread_names() == threads
    assert len(closed) == 23


def start_run_close(url: str) -> Engine:
    with Engine(url, workers=1, grace=1.0) as engine:
        assert engine.background.execute(ADD, [1, 2]).result(timeout=30) == 3
        engine.stop()
        engine.background.execute(ADD, [1, 2])  # still a client after stop()
    return engine


def test_threads_each_driving_their_own_engine(tmp_path: Path, make_engine: MakeEngine) -> None:
    engines = [make_engine(sqlite(tmp_path, n), workers=1) for n in ("a", "b")]
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def drive(i: int, engine: Engine) -> None:
        try:
            jobs = [engine.background.execute(ADD, [n, i * 1000]) for n in range(30)]
            assert engine.background.wait(jobs, timeout=60)
            results[i] = [j.result() for j in jobs]
            assert len(engine.background.get()) == 30
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(i, e)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {i: [n + i * 1000 for n in range(30)] for i in range(2)}


def test_a_model_query_outside_any_store_raises_beside_open_engines(
    tmp_path: Path, make_engine: MakeEngine
) -> None:
    engines = [make_engine(sqlite(tmp_path, n), start=False) for n in ("a", "b")]
    with pytest.raises(peewee.InterfaceError, match="must be bound"):
        BackgroundJobRow.delete().execute()
    for engine in engines:
        engine.background.execute(ADD, [1, 2])
    with pytest.raises(peewee.InterfaceError, match="must be bound"):
        BackgroundJobRow.select().count()
    assert [len(e.background.get()) for e in engines] == [1, 1]
