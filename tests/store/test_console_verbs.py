"""Store verbs the console reads and acts through: counts by state, deleting finished jobs,
the engines listing."""

from __future__ import annotations

from jobengine.store import Batch, Finish, Store
from tests.store.conftest import NOW, new_job


def test_count_by_state_counts_each_state_kept(store: Store) -> None:
    done, _ = store.jobs.insert(new_job())
    store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW)
    store.jobs.record(Batch(finishes=[Finish(done.uuid, "FAILED", NOW + 5)]))
    assert store.jobs.count_by_state() == {"ACTIVE": 1, "FAILED": 1}


def test_count_by_state_adds_claimed_and_waiting_jobs_and_tells_each_end_apart(
    store: Store,
) -> None:
    made = [store.jobs.insert(new_job())[0] for _ in range(7)]
    store.jobs.claim("e1", 5, NOW)  # two stay waiting, unclaimed
    ends = ["COMPLETED", "COMPLETED", "FAILED", "CANCELED"]
    store.jobs.record(
        Batch(finishes=[Finish(j.uuid, end, NOW + 5) for j, end in zip(made, ends, strict=False)])
    )
    expected = {"ACTIVE": 3, "COMPLETED": 2, "FAILED": 1, "CANCELED": 1}
    assert store.jobs.count_by_state() == expected


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
