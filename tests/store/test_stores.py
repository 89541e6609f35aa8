"""Several stores in one process: each owns its database, its connections and its identity."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import peewee
import pytest

from jobengine.errors import StoreError
from jobengine.store import Store
from jobengine.store.db import parse_url
from jobengine.store.models import BackgroundJobRow, EngineRow
from tests.conftest import pg_url_or_skip
from tests.store.conftest import NOW, new_job, run_per_store


def test_two_sqlite_stores_in_one_process_keep_their_jobs_apart(tmp_path: Path) -> None:
    a = Store(f"sqlite:///{tmp_path}/a.db")
    b = Store(f"sqlite:///{tmp_path}/b.db")
    try:
        ja = a.jobs.insert(new_job())[0]
        jb = b.jobs.insert(new_job(key="k"))[0]
        assert [r.uuid for r in a.jobs.select()] == [ja.uuid]
        assert [r.uuid for r in b.jobs.select()] == [jb.uuid]
        a.engines.register("ea", "h", 1, NOW)
        assert (a.engines.alive(NOW, 1000), b.engines.alive(NOW, 1000)) == (1, 0)
    finally:
        a.close()
        b.close()


def test_sqlite_and_postgresql_stores_live_side_by_side(tmp_path: Path, pg_url: str) -> None:
    lite = Store(f"sqlite:///{tmp_path}/a.db")
    pg = Store(pg_url)
    try:
        jl = lite.jobs.insert(new_job())[0]
        jp = pg.jobs.insert(new_job())[0]
        assert [r.uuid for r in lite.jobs.select()] == [jl.uuid]
        assert [r.uuid for r in pg.jobs.select()] == [jp.uuid]
        assert pg.jobs.find(jl.uuid) is None and lite.jobs.find(jp.uuid) is None
    finally:
        lite.close()
        pg.close()


def test_a_store_opens_again_after_another_was_closed(tmp_path: Path) -> None:
    first = Store(f"sqlite:///{tmp_path}/a.db")
    first.jobs.insert(new_job())
    first.close()
    second = Store(f"sqlite:///{tmp_path}/b.db")
    try:
        assert second.jobs.select() == []
    finally:
        second.close()


def test_a_model_query_without_a_store_raises_instead_of_writing(store_url: str) -> None:
    store = Store(store_url)
    try:
        with pytest.raises(peewee.InterfaceError, match="must be bound"):
            BackgroundJobRow.insert(uuid="x", method="m", begin_ms=1, run_after_ms=1).execute()
        with pytest.raises(peewee.InterfaceError, match="must be bound"):
            EngineRow.select().count()
        assert store.jobs.select() == []
    finally:
        store.close()


def test_two_spellings_of_one_sqlite_file_have_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink(tmp_path, tmp_path / "link")
    keys = {
        parse_url("sqlite:///jobs.db").key,
        parse_url(f"sqlite:///{tmp_path}/jobs.db").key,
        parse_url(f"sqlite:///{tmp_path}/link/jobs.db").key,
        parse_url(f"sqlite:///{tmp_path}/sub/../jobs.db").key,
    }
    assert keys == {os.path.realpath(tmp_path / "jobs.db")}
    assert parse_url("sqlite:///other.db").key != parse_url("sqlite:///jobs.db").key


def test_two_spellings_of_one_postgresql_database_have_one_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
        monkeypatch.delenv(name, raising=False)
    same = {
        parse_url("postgresql://postgres@127.0.0.1:5432/jobs").key,
        parse_url("postgres://postgres:secret@127.0.0.1/jobs").key,
        parse_url("postgresql://127.0.0.1/jobs?user=postgres").key,
    }
    assert same == {"postgresql://postgres@127.0.0.1:5432/jobs"}
    assert parse_url("postgresql://postgres@LOCALHOST/postgres").key == (
        parse_url("postgresql://postgres@localhost").key
    )
    assert parse_url("postgresql://postgres@127.0.0.1:5433/jobs").key not in same
    assert parse_url("postgresql://other@127.0.0.1:5432/jobs").key not in same


def test_store_exposes_its_key(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/jobs.db")
    try:
        assert store.key == os.path.realpath(tmp_path / "jobs.db")
    finally:
        store.close()


def test_close_closes_the_connections_of_every_thread(store_url: str) -> None:
    store = Store(store_url)
    barrier = threading.Barrier(4)

    def use() -> None:
        store.jobs.insert(new_job())
        barrier.wait()  # all four connections are open at once
        barrier.wait()

    threads = [threading.Thread(target=use) for _ in range(3)]
    for t in threads:
        t.start()
    barrier.wait()
    opened = store.db.open_connections()  # type: ignore[attr-defined]
    barrier.wait()
    for t in threads:
        t.join()
    assert opened >= 4  # three threads and the migrating one
    store.close()
    assert store.db.open_connections() == 0  # type: ignore[attr-defined]
    store.close()  # a second close is harmless


def test_threads_each_hammering_their_own_store(store_url: str, tmp_path: Path) -> None:
    urls = [store_url, f"sqlite:///{tmp_path}/other.db"]
    stores = [Store(u) for u in urls]

    def hammer(store: Store) -> None:
        for _ in range(100):
            rec = store.jobs.insert(new_job())[0]
            claimed = store.jobs.claim("e", 1, NOW)
            assert [c.uuid for c in claimed] == [rec.uuid]

    try:
        assert run_per_store(hammer, stores) == []
        assert [len(s.jobs.select()) for s in stores] == [100, 100]
    finally:
        for s in stores:
            s.close()


def test_a_closed_store_refuses_work_and_opens_no_connection(store_url: str) -> None:
    store = Store(store_url)
    store.jobs.insert(new_job())
    store.close()
    with pytest.raises(StoreError):
        store.jobs.select()
    with pytest.raises(StoreError):
        store.jobs.insert(new_job())
    with pytest.raises(StoreError, match="closed"):
        _ = store.notifier
    assert store.db.open_connections() == 0  # type: ignore[attr-defined]


def test_postgres_scheme_is_the_same_store_as_postgresql() -> None:
    from jobengine.store.db import parse_url

    short = parse_url("postgres://someone@db.example:5432/jobs")
    assert short.url == "postgresql://someone@db.example:5432/jobs"
    assert short.key == parse_url("postgresql://someone@db.example:5432/jobs").key


@pytest.mark.pg
def test_postgresql_ends_a_transaction_a_stopped_process_left_open() -> None:
    # A SIGSTOPped engine inside a transaction would keep its row locks, and the engine
    # settling it would wait on them while it stays stopped (tests/integration/test_fencing.py).
    store = Store(pg_url_or_skip())
    try:
        rows = store.db.execute_sql("SHOW idle_in_transaction_session_timeout").fetchall()
        assert rows == [("5s",)]
    finally:
        store.close()
