"""The fencing rule in the store: jobs given to workers, ownership-checked writes, settling."""

from __future__ import annotations

from jobengine.store import Batch, Finish, Store
from tests.store.conftest import NOW, new_job


def _two_claimed(store: Store) -> tuple[str, str]:
    for _ in range(2):
        store.jobs.insert(new_job())
    store.engines.register("e1", "otherhost", 1, NOW)
    first, second = (r.uuid for r in store.jobs.claim("e1", 2, NOW))
    assert store.jobs.hand("e1", [first]) == {first}
    return first, second


def test_a_silent_engines_handed_jobs_fail_and_the_others_go_back(store: Store) -> None:
    handed, kept = _two_claimed(store)
    ended, requeued = store.engines.settle(["e1"], NOW + 20_000)
    assert (ended, requeued) == ([handed], [kept])
    failed = store.jobs.find(handed)
    assert failed is not None and failed.state == "FAILED"
    assert [r.uuid for r in store.jobs.claim("e2", 5, NOW)] == [kept]


def test_a_gone_engines_handed_jobs_go_back_too(store: Store) -> None:
    handed, kept = _two_claimed(store)
    ended, requeued = store.engines.settle(["e1"], NOW + 20_000, gone={"e1"})
    assert ended == [] and sorted(requeued) == sorted([handed, kept])


def test_hand_and_outcomes_only_for_jobs_the_owner_still_holds(store: Store) -> None:
    _, kept = _two_claimed(store)
    store.engines.settle(["e1"], NOW + 20_000)
    assert {r.uuid for r in store.jobs.claim("e2", 5, NOW)} == {kept}
    assert store.jobs.hand("e1", [kept]) == set()  # the old owner may not give it to a worker
    late = Batch(started={kept: (NOW + 1, "h", 1)}, finishes=[Finish(kept, "COMPLETED", NOW + 2)])
    recorded, _ = store.jobs.record(late, owner="e1")
    assert recorded.ended == []
    row = store.jobs.find(kept)
    assert row is not None and row.state == "ACTIVE" and row.started_ms is None
    assert row.claimed_by == "e2"


def test_record_marks_claimed_jobs_handed_in_one_write(store: Store) -> None:
    for _ in range(3):
        store.jobs.insert(new_job())
    recorded, claimed = store.jobs.record(
        Batch(), claim_for="e1", claim_limit=3, now_ms=NOW, owner="e1", hand_claimed=2
    )
    assert len(claimed) == 3
    assert recorded.handed == {claimed[0].uuid, claimed[1].uuid}
    assert store.jobs.handed_by(["e1"]) == {claimed[0].uuid, claimed[1].uuid}
