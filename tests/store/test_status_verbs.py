"""Store verbs `jobengine status` reads: registered engines, queue depth, busy workers."""

from __future__ import annotations

from jobengine.store import Batch, Store
from jobengine.store.engines import EngineEntry
from tests.store.conftest import NOW, new_job


def test_entries_list_registered_engines_oldest_first(store: Store) -> None:
    store.engines.register("late", "h2", 20, NOW + 5)
    store.engines.register("early", "h1", 10, NOW)
    store.engines.heartbeat("early", NOW + 9)
    assert store.engines.entries() == [
        EngineEntry("early", "h1", 10, NOW, NOW + 9),
        EngineEntry("late", "h2", 20, NOW + 5, NOW + 5),
    ]


def test_waiting_and_running_count_active_jobs_by_queue_and_engine(store: Store) -> None:
    running, _ = store.jobs.insert(new_job())
    store.jobs.insert(new_job())  # claimed, not started: still waiting
    store.jobs.insert(new_job(queue="reports"))
    store.jobs.insert(new_job(queue="reports", run_after_ms=NOW + 60_000))  # delayed
    store.jobs.claim("e1", 2, NOW, ["default"])
    store.jobs.record(Batch(started={running.uuid: (NOW + 1, "h1", 10)}))
    assert store.jobs.waiting_by_queue() == {"default": 1, "reports": 2}
    assert store.jobs.running_by_engine() == {"e1": 1}


def test_register_records_the_workers_and_queues_an_engine_serves(store: Store) -> None:
    store.engines.register("all", "h1", 10, NOW, workers=4)
    store.engines.register("some", "h2", 20, NOW + 1, workers=2, queues=["email", "index"])
    store.engines.register("old", "h3", 30, NOW + 2)  # as an engine before schema 7
    assert [(e.id, e.workers, e.queues) for e in store.engines.entries()] == [
        ("all", 4, None),
        ("some", 2, ("email", "index")),
        ("old", 0, None),
    ]


def test_migration_7_keeps_engines_registered_before_it_with_workers_unknown(
    store_url: str,
) -> None:
    from playhouse.migrations import Runner

    from jobengine.store.db import open_database, parse_url
    from jobengine.store.schema import MIGRATIONS_DIR

    db = open_database(parse_url(store_url))
    try:
        Runner(db, MIGRATIONS_DIR).up(target="0006_attempts")
        db.execute_sql(
            "INSERT INTO engine (id, host, pid, started_ms, heartbeat_ms) "
            f"VALUES ('before', 'h', 1, {NOW}, {NOW})"
        )
    finally:
        db.close_all()  # type: ignore[attr-defined]
    store = Store(store_url)
    try:
        assert store.engines.entries() == [EngineEntry("before", "h", 1, NOW, NOW, 0, None)]
    finally:
        store.close()
