"""The store contract, run on an SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

import json
import threading

import pytest

from jobengine.errors import JobKeyConflict, StoreError
from jobengine.store import Batch, Finish, Store
from tests.store.conftest import NOW, new_job


def finish(uuid_: str, state: str = "COMPLETED", **kw: object) -> Batch:
    return Batch(finishes=[Finish(uuid_, state, NOW + 5, **kw)])  # type: ignore[arg-type]


def test_insert_refuses_second_active_job_with_same_method_and_key(store: Store) -> None:
    first, _ = store.jobs.insert(new_job(key="k"))
    with pytest.raises(JobKeyConflict) as info:
        store.jobs.insert(new_job(key="k"))
    assert info.value.running_uuid == first.uuid
    other_method, _ = store.jobs.insert(new_job(key="k", method="tests.integration.jobs:fail"))
    assert other_method.key_held


def test_skip_returns_the_running_holder(store: Store) -> None:
    first, _ = store.jobs.insert(new_job(key="k"))
    again, created = store.jobs.insert(new_job(key="k"), on_conflict="skip")
    assert (again.uuid, created) == (first.uuid, False)
    assert len(store.jobs.select()) == 1


def test_finished_job_frees_its_key(store: Store) -> None:
    first, _ = store.jobs.insert(new_job(key="k"))
    store.jobs.claim("e1", 1, NOW)
    store.jobs.record(finish(first.uuid))
    second, _ = store.jobs.insert(new_job(key="k"))
    assert second.key_held


def test_queued_jobs_run_behind_the_key_in_fifo_order(store: Store) -> None:
    jobs = [store.jobs.insert(new_job(key="k"), on_conflict="queue")[0] for _ in range(3)]
    order = []
    for _ in range(3):
        claimed = store.jobs.claim("e1", 10, NOW)
        assert len(claimed) == 1, "only the key holder may be claimed"
        order.append(claimed[0].uuid)
        store.jobs.record(finish(claimed[0].uuid))
    assert order == [j.uuid for j in jobs]


def test_claim_orders_by_priority_then_arrival_and_respects_run_after(store: Store) -> None:
    low = store.jobs.insert(new_job(priority=0))[0]
    high = store.jobs.insert(new_job(priority=5))[0]
    later = store.jobs.insert(new_job(priority=9, run_after_ms=NOW + 60_000))[0]
    claimed = store.jobs.claim("e1", 10, NOW)
    assert [c.uuid for c in claimed] == [high.uuid, low.uuid]
    assert [c.uuid for c in store.jobs.claim("e1", 10, NOW + 60_000)] == [later.uuid]


def test_claim_serves_only_the_named_queues(store: Store) -> None:
    store.jobs.insert(new_job(queue="email"))
    other = store.jobs.insert(new_job(queue="reports"))[0]
    assert [c.uuid for c in store.jobs.claim("e1", 10, NOW, queues=["reports"])] == [other.uuid]


def test_each_job_is_claimed_by_exactly_one_of_many_concurrent_claimers(store_url: str) -> None:
    store = Store(store_url)
    try:
        expected = {store.jobs.insert(new_job())[0].uuid for _ in range(200)}
        got: list[list[str]] = [[] for _ in range(4)]

        def claimer(i: int) -> None:
            while True:
                batch = store.jobs.claim(f"e{i}", 7, NOW)
                if not batch:
                    return
                got[i].extend(r.uuid for r in batch)

        threads = [threading.Thread(target=claimer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flat = [u for g in got for u in g]
        assert len(flat) == len(set(flat)) == len(expected)
        assert set(flat) == expected
    finally:
        store.close()


def test_record_writes_outcome_progress_messages_and_claims_in_one_call(store: Store) -> None:
    a = store.jobs.insert(new_job())[0]
    b = store.jobs.insert(new_job())[0]
    store.jobs.claim("e1", 1, NOW)
    batch = Batch(
        started={a.uuid: (NOW + 1, "host1", 4242)},
        progress={a.uuid: (50.0, "half")},
        messages=[(a.uuid, NOW + 2, "hello"), (a.uuid, NOW + 3, "world")],
        finishes=[Finish(a.uuid, "COMPLETED", NOW + 4, result="3")],
    )
    recorded, claimed = store.jobs.record(batch, claim_for="e1", claim_limit=5, now_ms=NOW)
    assert recorded.ended == [a.uuid]
    assert [c.uuid for c in claimed] == [b.uuid]
    rec = store.jobs.find(a.uuid)
    assert rec is not None
    assert (rec.state, rec.result, rec.host, rec.pid) == ("COMPLETED", "3", "host1", 4242)
    assert (rec.progress_percent, rec.progress_text, rec.end_ms) == (50.0, "half", NOW + 4)
    assert [t for _, t in store.jobs.messages(a.uuid)] == ["hello", "world"]


def test_failed_job_with_retry_policy_goes_back_with_next_attempt(store: Store) -> None:
    policy = json.dumps({"count": 1, "interval": 10, "backoff": 2.0})
    job = store.jobs.insert(new_job(retry=policy))[0]
    store.jobs.claim("e1", 1, NOW)
    recorded, _ = store.jobs.record(finish(job.uuid, "FAILED", error_type="ValueError"))
    assert recorded.retried == [job.uuid]
    rec = store.jobs.find(job.uuid)
    assert rec is not None
    assert (rec.state, rec.attempt, rec.claimed_by) == ("ACTIVE", 2, None)
    assert rec.run_after_ms == NOW + 5 + 10_000
    store.jobs.claim("e1", 1, rec.run_after_ms)
    recorded, _ = store.jobs.record(finish(job.uuid, "FAILED", error_type="ValueError"))
    assert recorded.ended == [job.uuid]


def test_cancel_of_unclaimed_job_ends_it_and_passes_the_key_on(store: Store) -> None:
    first = store.jobs.insert(new_job(key="k"))[0]
    second = store.jobs.insert(new_job(key="k"), on_conflict="queue")[0]
    rec = store.jobs.request_cancel(first.uuid, NOW)
    assert rec is not None and rec.state == "CANCELED"
    second_now = store.jobs.find(second.uuid)
    assert second_now is not None and second_now.key_held


def test_cancel_of_claimed_job_only_sets_the_flag(store: Store) -> None:
    job = store.jobs.insert(new_job())[0]
    store.jobs.claim("e1", 1, NOW)
    rec = store.jobs.request_cancel(job.uuid, NOW)
    assert rec is not None and (rec.state, rec.cancel_requested) == ("ACTIVE", True)
    assert store.jobs.cancel_requested("e1") == [job.uuid]


def test_dead_engine_jobs_are_failed_or_requeued(store: Store) -> None:
    store.engines.register("dead", "elsewhere", 1, NOW)
    running = store.jobs.insert(new_job(key="k"))[0]
    waiting = store.jobs.insert(new_job())[0]
    store.jobs.claim("dead", 2, NOW)
    store.jobs.record(Batch(started={running.uuid: (NOW, "elsewhere", 1)}))
    assert store.engines.dead("here", NOW + 60_000, 15_000) == ["dead"]
    ended, requeued = store.engines.settle(["dead"], NOW + 60_000)
    assert (ended, requeued) == ([running.uuid], [waiting.uuid])
    rec = store.jobs.find(running.uuid)
    assert rec is not None
    assert (rec.state, rec.error_message) == ("FAILED", "engine stopped while the job ran")
    assert store.jobs.insert(new_job(key="k"))[0].key_held


def test_purge_keeps_active_jobs_and_removes_old_then_oldest(store: Store) -> None:
    active = store.jobs.insert(new_job())[0]
    done = []
    for i in range(5):
        job = store.jobs.insert(new_job())[0]
        store.jobs.record(Batch(messages=[(job.uuid, NOW, "m")]))
        store.jobs.record(Batch(finishes=[Finish(job.uuid, "COMPLETED", NOW + i * 1000)]))
        done.append(job.uuid)
    # keep 2.5 s back from NOW+4000: the jobs ended at +0 and +1000 are too old
    assert store.jobs.purge(NOW + 4000, 2500, 1000) == 2
    # then at most 2 finished: +2000 goes
    assert store.jobs.purge(NOW + 4000, 2500, 2) == 1
    left = {r.uuid for r in store.jobs.select()}
    assert left == {active.uuid, done[3], done[4]}
    assert store.jobs.messages(done[0]) == []


def test_select_filters_and_refuses_unknown_filter(store: Store) -> None:
    a = store.jobs.insert(new_job(key="a", description="one"))[0]
    store.jobs.insert(new_job(key="b"))
    assert [r.uuid for r in store.jobs.select(key="a")] == [a.uuid]
    assert [r.uuid for r in store.jobs.select(description="one", state="ACTIVE")] == [a.uuid]
    with pytest.raises(StoreError, match="unknown job filter"):
        store.jobs.select(colour="red")


def test_select_takes_the_newest_first_with_a_limit(store: Store) -> None:
    uuids = [store.jobs.insert(new_job(key=f"k{i}"))[0].uuid for i in range(5)]
    assert [r.uuid for r in store.jobs.select(limit=2)] == uuids[:2]
    assert [r.uuid for r in store.jobs.select(limit=2, newest_first=True)] == uuids[:2:-1]
    newest = store.jobs.select(key="k1", newest_first=True)
    assert [r.uuid for r in newest] == [uuids[1]]


def test_migrations_are_recorded_and_not_applied_twice(store_url: str) -> None:
    from jobengine.store import pending
    from jobengine.store.schema import migrate

    s = Store(store_url)
    try:
        assert pending(s.db) == []
        assert migrate(s.db) == []
    finally:
        s.close()


def test_bad_url_names_the_problem() -> None:
    with pytest.raises(StoreError, match="unknown scheme 'mysql'"):
        Store("mysql://x/y")


def test_claim_takes_no_more_than_its_limit(store: Store) -> None:
    jobs = [store.jobs.insert(new_job())[0].uuid for _ in range(5)]
    assert [c.uuid for c in store.jobs.claim("e1", 1, NOW)] == jobs[:1]
    assert [c.uuid for c in store.jobs.claim("e2", 2, NOW)] == jobs[1:3]
    claimed = {r.uuid: r.claimed_by for r in store.jobs.select()}
    assert claimed == {jobs[0]: "e1", jobs[1]: "e2", jobs[2]: "e2", jobs[3]: None, jobs[4]: None}


def test_plain_completion_writes_the_end_and_its_unwritten_start_in_one_statement(
    store: Store,
) -> None:
    job, _ = store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW, handed=True)
    fin = Finish(job.uuid, "COMPLETED", NOW + 5, result="3", holds_resources=False, is_plain=True)
    recorded, _ = store.jobs.record(
        Batch(started={job.uuid: (NOW + 1, "h", 7)}, finishes=[fin]), owner="e1"
    )
    assert recorded.ended == [job.uuid]
    done = store.jobs.find(job.uuid)
    assert done is not None
    assert (done.state, done.started_ms, done.end_ms, done.host, done.pid, done.result) == (
        "COMPLETED",
        NOW + 1,
        NOW + 5,
        "h",
        7,
        "3",
    )


def test_plain_completion_of_a_keyed_or_retried_job_takes_the_full_path(store: Store) -> None:
    keyed, _ = store.jobs.insert(new_job(key="k"))
    waiting, _ = store.jobs.insert(new_job(key="k"), on_conflict="queue")
    store.jobs.claim("e1", 1, NOW, handed=True)
    # Marked plain by mistake: the store's own checks still pass the key on.
    fin = Finish(keyed.uuid, "COMPLETED", NOW + 5, holds_resources=False, is_plain=True)
    assert store.jobs.record(Batch(finishes=[fin]), owner="e1")[0].ended == [keyed.uuid]
    assert store.jobs.find(waiting.uuid).key_held  # type: ignore[union-attr]


def test_plain_completion_of_another_engines_job_writes_nothing(store: Store) -> None:
    job, _ = store.jobs.insert(new_job())
    store.jobs.claim("e2", 1, NOW, handed=True)
    fin = Finish(job.uuid, "COMPLETED", NOW + 5, holds_resources=False, is_plain=True)
    assert store.jobs.record(Batch(finishes=[fin]), owner="e1")[0].ended == []
    assert store.jobs.find(job.uuid).state == "ACTIVE"  # type: ignore[union-attr]


def test_driver_errors_of_every_verb_become_store_errors(store: Store) -> None:
    """Reads, outcome writes and inserts live in three classes; each verb still raises only
    StoreError when the tables under it are gone (renamed away, and back afterwards: the
    PostgreSQL database outlives the test)."""
    calls = [
        lambda: store.jobs.select(),  # JobQueries
        lambda: store.jobs.find("x"),  # JobQueries, hot SQL
        lambda: store.jobs.messages("x"),  # JobQueries
        lambda: store.jobs.record(finish("x")),  # outcome writes
        lambda: store.jobs.end_now(["x"], "FAILED", NOW, ("E", "m")),
        lambda: store.jobs.insert(new_job(key="k")),
    ]
    tables = ("background_job", "job_message")
    for table in tables:
        store.db.execute_sql(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        for call in calls:
            with pytest.raises(StoreError, match="store error in"):
                call()
    finally:
        for table in tables:
            store.db.execute_sql(f"ALTER TABLE {table}_away RENAME TO {table}")
    assert store.jobs.select() == []
