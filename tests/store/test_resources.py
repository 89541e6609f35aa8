"""The resource-queue store contract (Robin), run on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import threading

from jobengine.retry import Retry
from jobengine.store import Batch, Finish, Store
from jobengine.store.resources import Ask, Blocked, Change, ResourceRecord
from tests.store.conftest import NOW, new_job

PERSON = Ask("person:admin@host", NOW, override=True)


def put(store: Store, n: int, *, priority: int = 0, tags: tuple[str, ...] = ()) -> ResourceRecord:
    return store.resources.put("q", json.dumps(n), "{}", list(tags), priority, NOW)


def running_job(store: Store) -> Ask:
    """A background job claimed by an engine, as the holder of locks."""
    job, _ = store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW)
    return Ask(job.uuid, NOW)


def test_take_goes_by_priority_then_age_and_returns_none_when_empty(store: Store) -> None:
    a, b, c = put(store, 1), put(store, 2, priority=3), put(store, 3)
    me = Ask("job-a", NOW)
    order = [store.resources.take("q", me, [], "read", None) for _ in range(4)]
    assert [r.id if r else None for r in order] == [b.id, a.id, c.id, None]
    taken = order[0]
    assert taken is not None
    assert (taken.status, taken.read_holder, taken.write_holder) == ("in_progress", "job-a", None)


def test_take_and_find_filter_on_every_tag_given(store: Store) -> None:
    put(store, 1, tags=("urgent",))
    both = put(store, 2, tags=("urgent", "big"))
    me = Ask("job-a", NOW)
    assert [r.id for r in store.resources.select("q", me, tags=["big", "urgent"])] == [both.id]
    assert len(store.resources.select("q", me, tags=["urgent"], status="new")) == 2
    assert store.resources.take("q", me, ["nope"], "read", None) is None
    taken = store.resources.take("q", me, ["big"], "both", None)
    assert taken is not None and taken.id == both.id
    assert json.loads(taken.tags) == ["urgent", "big"]


def test_a_read_lock_hides_the_resource_and_makes_reads_by_id_wait(store: Store) -> None:
    item = put(store, 1)
    a, b = Ask("job-a", NOW), Ask("job-b", NOW)
    assert store.resources.take("q", a, [], "read", None) is not None
    assert store.resources.select("q", b) == []
    assert [r.id for r in store.resources.select("q", a)] == [item.id]
    access = store.resources.get("q", item.id, b, None, None)
    assert access.blocked == Blocked("job-a", "read", None)
    assert store.resources.get("q", item.id, a, None, None).blocked is None
    # Changing it is still allowed.
    changed = store.resources.change("q", item.id, b, Change({"priority": 7}))
    assert changed.blocked is None and changed.record is not None
    assert changed.record.priority == 7


def test_a_write_lock_lets_others_read_but_makes_changes_wait(store: Store) -> None:
    item = put(store, 1)
    a, b = Ask("job-a", NOW), Ask("job-b", NOW)
    assert store.resources.take("q", a, [], "write", None) is not None
    assert [r.id for r in store.resources.select("q", b)] == [item.id]
    assert store.resources.get("q", item.id, b, None, None).blocked is None
    blocked = store.resources.change("q", item.id, b, Change({"priority": 7}))
    assert blocked.blocked == Blocked("job-a", "write", None)
    assert store.resources.delete("q", item.id, b).blocked is not None
    assert store.resources.unlock("q", item.id, b).blocked is not None
    assert store.resources.change("q", item.id, a, Change({"priority": 7})).blocked is None
    # A read lock of another holder beside the write lock: two holders at once.
    shared = store.resources.get("q", item.id, b, "read", None)
    assert shared.record is not None and shared.blocked is None
    assert (shared.record.read_holder, shared.record.write_holder) == ("job-b", "job-a")
    assert store.resources.get("q", item.id, b, "write", None).blocked is not None


def test_finish_sets_the_status_and_releases_the_holders_locks(store: Store) -> None:
    put(store, 1)
    a = Ask("job-a", NOW)
    taken = store.resources.take("q", a, [], "both", None)
    assert taken is not None
    done = store.resources.change(
        "q", taken.id, a, Change({"status": "processed"}, release=True)
    ).record
    assert done is not None
    assert (done.status, done.read_holder, done.write_holder) == ("processed", None, None)


def test_a_person_overrides_any_lock_and_becomes_its_holder(store: Store) -> None:
    item = put(store, 1)
    a = Ask("job-a", NOW)
    assert store.resources.take("q", a, [], "both", None) is not None
    assert [r.id for r in store.resources.select("q", PERSON)] == [item.id]
    assert store.resources.get("q", item.id, PERSON, None, None).blocked is None
    changed = store.resources.change("q", item.id, PERSON, Change({"status": "error"})).record
    assert changed is not None
    assert (changed.status, changed.write_holder, changed.read_holder) == (
        "error",
        PERSON.holder,
        "job-a",
    )
    # Now the job is the one kept waiting.
    assert store.resources.change("q", item.id, a, Change({"priority": 1})).blocked == Blocked(
        PERSON.holder, "write", None
    )
    freed = store.resources.unlock("q", item.id, PERSON).record
    assert freed is not None and (freed.read_holder, freed.write_holder) == (None, None)


def test_a_lock_past_its_until_is_no_lock(store: Store) -> None:
    item = put(store, 1)
    a = Ask("job-a", NOW)
    assert store.resources.take("q", a, [], "read", NOW + 1000) is not None
    before, after = Ask("job-b", NOW + 999), Ask("job-b", NOW + 1000)
    assert store.resources.get("q", item.id, before, None, None).blocked is not None
    assert store.resources.get("q", item.id, after, None, None).blocked is None
    assert [r.id for r in store.resources.select("q", after)] == [item.id]


def test_the_end_of_a_job_releases_its_locks_and_returns_its_items_to_new(store: Store) -> None:
    first, second, third = put(store, 1), put(store, 2), put(store, 3)
    job = running_job(store)
    other = Ask("job-other", NOW)
    assert store.resources.take("q", job, [], "both", None) is not None
    assert store.resources.take("q", job, [], "read", None) is not None
    store.resources.change("q", second.id, job, Change({"status": "processed"}))
    assert store.resources.take("q", other, [], "read", None) is not None

    store.jobs.record(Batch(finishes=[Finish(job.holder, "FAILED", NOW + 5)]))

    after = {r.id: r for r in store.resources.select("q", PERSON)}
    assert (after[first.id].status, after[first.id].read_holder) == ("new", None)
    assert after[first.id].write_holder is None
    assert (after[second.id].status, after[second.id].read_holder) == ("processed", None)
    assert (after[third.id].status, after[third.id].read_holder) == ("in_progress", "job-other")


def test_an_attempt_sent_back_for_retry_releases_its_locks_too(store: Store) -> None:
    put(store, 1)
    job, _ = store.jobs.insert(new_job(retry=json.dumps(Retry(count=3).__dict__)))
    store.jobs.claim("e1", 1, NOW)
    assert store.resources.take("q", Ask(job.uuid, NOW), [], "read", None) is not None
    recorded, _ = store.jobs.record(Batch(finishes=[Finish(job.uuid, "FAILED", NOW + 5)]))
    assert recorded.retried == [job.uuid]
    assert store.resources.take("q", Ask("job-b", NOW), [], "read", None) is not None


def test_a_dead_engines_jobs_release_their_locks_when_settled(store: Store) -> None:
    item = put(store, 1)
    job = running_job(store)
    assert store.resources.take("q", job, [], "write", None) is not None
    store.jobs.end_now([job.holder], "FAILED", NOW + 5, ("EngineLost", "engine died"))
    rec = store.resources.read("q", item.id)
    assert rec is not None and (rec.status, rec.write_holder) == ("new", None)


def test_dated_locks_survive_their_holder_until_then(store: Store) -> None:
    item = put(store, 1)
    job = running_job(store)
    assert store.resources.take("q", job, [], "both", NOW + 60_000) is not None
    store.jobs.record(Batch(finishes=[Finish(job.holder, "COMPLETED", NOW + 5)]))
    rec = store.resources.read("q", item.id)
    assert rec is not None
    assert (rec.status, rec.read_holder, rec.write_holder) == ("new", job.holder, job.holder)
    assert store.resources.take("q", Ask("job-b", NOW + 59_999), [], "read", None) is None
    late = store.resources.take("q", Ask("job-b", NOW + 60_000), [], "read", None)
    assert late is not None and late.read_holder == "job-b"


def test_missing_resources_are_reported_as_missing(store: Store) -> None:
    a = Ask("job-a", NOW)
    assert store.resources.get("q", 12345, a, None, None).record is None
    assert store.resources.change("q", 12345, a, Change({"priority": 1})).record is None
    item = put(store, 1)
    assert store.resources.get("other", item.id, a, None, None).record is None
    assert store.resources.delete("q", item.id, a).record is not None
    assert store.resources.read("q", item.id) is None
    assert store.resources.queues() == []


def test_concurrent_takers_on_separate_connections_never_share_a_resource(
    store: Store, store_url: str
) -> None:
    for n in range(60):
        put(store, n)
    stores = [Store(store_url) for _ in range(4)]
    got: dict[int, list[int]] = {}
    lock = threading.Lock()

    def work(s: Store) -> None:
        me = Ask(f"job-{id(s)}", NOW)
        while (rec := s.resources.take("q", me, [], "read", None)) is not None:
            with lock:
                got.setdefault(rec.id, []).append(id(s))

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in stores:
            s.close()
    assert len(got) == 60
    assert all(len(takers) == 1 for takers in got.values())


def test_select_without_a_queue_lists_every_queue_by_name_then_priority(store: Store) -> None:
    b1 = store.resources.put("b", "1", "{}", ["x"], 0, NOW)
    a1 = store.resources.put("a", "1", "{}", [], 0, NOW)
    a2 = store.resources.put("a", "2", "{}", ["x"], 5, NOW)
    every = store.resources.select(None, PERSON)
    assert [r.id for r in every] == [a2.id, a1.id, b1.id]
    assert [r.id for r in store.resources.select(None, PERSON, tags=["x"], limit=1)] == [a2.id]
    assert store.resources.select(None, PERSON, status="processed") == []
    hidden = store.resources.take("a", Ask("job-a", NOW), [], "read", None)
    assert hidden is not None
    assert a2.id not in [r.id for r in store.resources.select(None, Ask("job-b", NOW))]
