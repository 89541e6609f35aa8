"""`insert_many`: one transaction, all or nothing, with `insert`'s key rule job by job."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from jobengine.errors import JobKeyConflict, StoreError
from jobengine.store import Batch, Finish, NewJob, Store, newrows
from tests.store.conftest import NOW, new_job, run_per_store


def test_insert_many_stores_every_job_in_order_and_returns_their_records(store: Store) -> None:
    jobs = [new_job(args=f"[{i}]", priority=i % 3, queue="q") for i in range(250)]
    out = store.jobs.insert_many(jobs)
    assert [(r.uuid, created) for r, created in out] == [(j.uuid, True) for j in jobs]
    stored = store.jobs.select()
    assert [r.uuid for r in stored] == [j.uuid for j in jobs]  # ids follow the batch order
    assert stored == [r for r, _ in out]  # the returned records are what the store holds


def test_insert_many_of_nothing_is_nothing(store: Store) -> None:
    assert store.jobs.insert_many([]) == []


def test_first_job_of_a_key_holds_it_and_later_ones_queue_behind(store: Store) -> None:
    jobs = [new_job(key="k"), new_job(), new_job(key="k"), new_job(key="other")]
    out = store.jobs.insert_many(jobs, on_conflict="queue")
    assert [r.key_held for r, _ in out] == [True, False, False, True]
    order = []
    for _ in range(2):
        claimed = {c.uuid for c in store.jobs.claim("e1", 10, NOW)}
        order.append(claimed)
        store.jobs.record(Batch(finishes=[Finish(u, "COMPLETED", NOW) for u in claimed]))
    assert order == [{jobs[0].uuid, jobs[1].uuid, jobs[3].uuid}, {jobs[2].uuid}]


def test_queue_waits_behind_a_holder_already_in_the_store(store: Store) -> None:
    running = store.jobs.insert(new_job(key="k"))[0]
    out = store.jobs.insert_many([new_job(key="k"), new_job(key="k")], on_conflict="queue")
    assert [r.key_held for r, _ in out] == [False, False]
    holder = store.jobs.select(key="k", state="ACTIVE")
    assert [r.uuid for r in holder if r.key_held] == [running.uuid]


def test_error_on_a_key_repeated_in_the_batch_writes_nothing(store: Store) -> None:
    first = new_job(key="k")
    with pytest.raises(JobKeyConflict) as info:
        store.jobs.insert_many([new_job(), first, new_job(key="k")])
    assert info.value.running_uuid == first.uuid
    assert store.jobs.select() == []


def test_error_on_a_key_held_in_the_store_writes_nothing(store: Store) -> None:
    running = store.jobs.insert(new_job(key="k"))[0]
    with pytest.raises(JobKeyConflict) as info:
        store.jobs.insert_many([new_job(), new_job(key="k")])
    assert info.value.running_uuid == running.uuid
    assert [r.uuid for r in store.jobs.select()] == [running.uuid]


def test_skip_returns_the_holder_in_the_batch_or_in_the_store(store: Store) -> None:
    running = store.jobs.insert(new_job(key="a"))[0]
    batch = [new_job(key="a"), new_job(key="b"), new_job(key="b")]
    out = store.jobs.insert_many(batch, on_conflict="skip")
    assert [(r.uuid, created) for r, created in out] == [
        (running.uuid, False),
        (batch[1].uuid, True),
        (batch[1].uuid, False),
    ]
    assert {r.uuid for r in store.jobs.select()} == {running.uuid, batch[1].uuid}


def test_same_key_under_another_method_is_another_key(store: Store) -> None:
    out = store.jobs.insert_many(
        [new_job(key="k"), new_job(key="k", method="tests.integration.jobs:fail")]
    )
    assert [r.key_held for r, _ in out] == [True, True]


def test_a_failing_row_rolls_back_the_whole_batch(store: Store) -> None:
    dup = new_job()
    with pytest.raises(StoreError):
        store.jobs.insert_many([new_job(), dup, new_job(key="k"), dup])
    assert store.jobs.select() == []
    assert store.jobs.insert(new_job(key="k"))[0].key_held  # the key was never taken


@pytest.mark.parametrize("outer", [False, True])
def test_a_failing_row_of_a_many_row_statement_leaves_nothing(
    store: Store, outer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a failing row stops its many-row statement and keeps the rows before it
    # (OR FAIL: no statement journal); the batch's transaction, or its savepoint inside a
    # caller's transaction, takes them back, and the caller's transaction goes on.
    monkeypatch.setattr(newrows, "ROWS", 3)
    dup = new_job()
    # the keyless jobs after the keyed one: statements of 3, the first failing on its third
    batch = [new_job(), new_job(key="k"), dup, new_job(), dup, new_job(), new_job(), new_job()]
    kept = [new_job(), new_job()]
    with store.db.atomic() if outer else contextlib.nullcontext():
        store.jobs.insert(kept[0])
        with pytest.raises(StoreError):
            store.jobs.insert_many(batch)
        store.jobs.insert(kept[1])
    assert [r.uuid for r in store.jobs.select()] == [j.uuid for j in kept]
    assert store.jobs.insert(new_job(key="k"))[0].key_held  # the key was never taken


def test_concurrent_batches_on_one_key_leave_one_holder(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(3)]

    def put(s: Store) -> None:
        for _ in range(10):
            s.jobs.insert_many([new_job(key="k"), new_job()], on_conflict="queue")

    try:
        assert run_per_store(put, stores) == []
        keyed = stores[0].jobs.select(key="k")
        assert len(keyed) == 30
        assert [r.uuid for r in keyed if r.key_held] == [keyed[0].uuid]
    finally:
        for s in stores:
            s.close()


@pytest.mark.parametrize("rows", [2, newrows.ROWS])
def test_the_optional_fields_of_each_job_are_stored_as_given(
    store: Store, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a statement names only the optional fields a job has and holds up to ROWS
    # jobs: runs of jobs alike share one, and the batch order holds across them.
    monkeypatch.setattr(newrows, "ROWS", rows)
    sched, parent = str(uuid.uuid4()), str(uuid.uuid4())
    jobs = [
        new_job(),
        new_job(retry='{"count": 1}'),
        new_job(retry='{"count": 2}'),
        new_job(retry='{"count": 3}'),
        new_job(timeout_s=2.5, parent=parent),
        *[new_job() for _ in range(5)],
        new_job(key="k", scheduled_job=sched, parent=parent, retry="{}", timeout_s=1.0),
        new_job(key="k2"),
        new_job(key="k3"),
        new_job(timeout_s=3),
    ]
    out = store.jobs.insert_many(jobs)
    stored = store.jobs.select()
    assert stored == [r for r, _ in out]
    assert [(r.uuid, r.retry, r.timeout_s, r.scheduled_job, r.parent) for r in stored] == [
        (j.uuid, j.retry, j.timeout_s, j.scheduled_job, j.parent) for j in jobs
    ]
    lone = new_job(timeout_s=4.0, parent=parent)
    assert store.jobs.insert(lone)[0] == store.jobs.find(lone.uuid)


@pytest.mark.parametrize(("rows", "max_params"), [(2, 32766), (3, 32766), (100, 12)])
def test_values_some_jobs_share_and_others_not_are_stored_as_given(
    store: Store, rows: int, max_params: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a many-row statement binds once the values all its jobs share (a field equal
    # in each, run_after_ms equal to begin_ms): every mix of shared and own values, with
    # statements of as many rows as the parameters allow, stores each job as given.
    monkeypatch.setattr(newrows, "ROWS", rows)
    monkeypatch.setattr(store.jobs, "_params_limit", max_params)
    fail = "tests.integration.jobs:fail"
    sqlite = store.jobs._sqlite
    batches = [
        [new_job(args=f"[{i}]") for i in range(7)],  # all they can share
        # 1 and True are equal, and SQLite stores both as 1 (PostgreSQL's COPY takes no bool)
        [new_job(args=f"[{i}]", priority=True if i == 3 and sqlite else 1) for i in range(7)],
        [
            new_job(),
            new_job(method=fail, kwargs='{"a": 1}'),
            new_job(description="d", queue="q", priority=3),
            new_job(run_after_ms=NOW + 5),
            new_job(begin_ms=NOW - 1, timeout_s=2.0),
            new_job(begin_ms=NOW - 1, timeout_s=2.0, run_after_ms=NOW - 1),
            *[new_job(key=f"k{i}", args=f"[{i}]") for i in range(5)],
        ],
    ]
    for jobs in batches:
        store.jobs.insert_many(jobs)
    stored = [(*(getattr(r, f) for f in NewJob._fields), r.key_held) for r in store.jobs.select()]
    assert stored == [(*j, bool(j.key)) for jobs in batches for j in jobs]


def test_a_rows_field_positions_are_newjobs() -> None:
    positions = {"method": newrows.METHOD, "begin_ms": newrows.BEGIN, "key": newrows.KEY}
    positions["run_after_ms"] = newrows.RUN_AFTER
    assert {name: NewJob._fields.index(name) for name in positions} == positions


@pytest.mark.parametrize("as_rows", [False, True])
def test_insert_batch_returns_only_the_skipped_jobs_holders(store: Store, as_rows: bool) -> None:
    # A batch stages its jobs as plain tuples of a NewJob's values (newrows.Row).
    running = store.jobs.insert(new_job(key="a"))[0]
    jobs = [new_job(), new_job(key="a"), new_job(key="b"), new_job(key="b"), new_job(key="c")]
    given = [tuple(j) for j in jobs] if as_rows else jobs
    skipped = store.jobs.insert_batch(given, ["error", "skip", "skip", "skip", "queue"])
    assert {i: r.uuid for i, r in skipped.items()} == {1: running.uuid, 3: jobs[2].uuid}
    stored = store.jobs.select()
    assert [r.uuid for r in stored] == [running.uuid, jobs[0].uuid, jobs[2].uuid, jobs[4].uuid]
    assert [r.key_held for r in stored] == [True, False, True, True]
    assert store.jobs.insert_batch([]) == {}
