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
