"""Store verbs the console reads and acts through: counts by state, deleting finished jobs,
the engines listing."""

from __future__ import annotations

from jobengine.store import Batch, Finish, Store
from jobengine.store.engines import EngineRecord
from tests.store.conftest import NOW, new_job


def test_count_by_state_counts_each_state_kept(store: Store) -> None:
    done, _ = store.jobs.insert(new_job())
    store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW)
    store.jobs.record(Batch(finishes=[Finish(done.uuid, "FAILED", NOW + 5)]))
    assert store.jobs.count_by_state() == {"ACTIVE": 1, "FAILED": 1}


def test_delete_finished_removes_finished_jobs_and_messages_but_never_active_ones(
    store: Store,
) -> None:
    done, _ = store.jobs.insert(new_job())
    active, _ = store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW)
    store.jobs.record(
        Batch(
            messages=[(done.uuid, NOW + 1, "hello")],
            finishes=[Finish(done.uuid, "COMPLETED", NOW + 5)],
        )
    )
    assert store.jobs.delete_finished([done.uuid, active.uuid, "missing"]) == [done.uuid]
    assert store.jobs.find(done.uuid) is None
    assert store.jobs.messages(done.uuid) == []
    assert store.jobs.find(active.uuid) is not None
    assert store.jobs.delete_finished([done.uuid]) == []


def test_engine_listing_says_where_each_engine_runs_and_counts_its_started_jobs(
    store: Store,
) -> None:
    assert store.engines.listing() == []
    for _ in range(3):
        store.jobs.insert(new_job())
    store.engines.register("e2", "h2", 22, NOW + 1)
    store.engines.register("e1", "h1", 11, NOW)
    first, _ = (r.uuid for r in store.jobs.claim("e1", 2, NOW))
    store.jobs.record(Batch(started={first: (NOW + 2, "h1", 99)}))
    store.engines.heartbeat("e1", NOW + 3)
    assert store.engines.listing() == [
        EngineRecord("e1", "h1", 11, NOW, NOW + 3, 1),  # one started, one only claimed
        EngineRecord("e2", "h2", 22, NOW + 1, NOW + 1, 0),
    ]
