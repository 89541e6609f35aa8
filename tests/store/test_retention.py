"""Retention: at most `max_finished` finished jobs and none older than `keep_ms`, oldest first."""

from __future__ import annotations

import uuid

import pytest

from jobengine.store import Batch, Finish, NewJob, Store
from tests.store.conftest import NOW

DAY_MS = 86_400_000


def insert(store: Store, **kw: object) -> str:
    values: dict[str, object] = {
        "uuid": str(uuid.uuid4()),
        "method": "tests.integration.jobs:add",
        "args": "[]",
        "kwargs": "{}",
        "begin_ms": NOW,
        "run_after_ms": NOW,
    }
    values.update(kw)
    return store.jobs.insert(NewJob(**values))[0].uuid  # type: ignore[arg-type]


def finish_with_message(store: Store, end_ms: int) -> str:
    u = insert(store)
    store.jobs.record(Batch(messages=[(u, end_ms, f"at {end_ms}")]))
    store.jobs.record(Batch(finishes=[Finish(u, "COMPLETED", end_ms)]))
    return u


def test_purge_leaves_at_most_max_finished_newest_and_removes_their_messages(
    store: Store,
) -> None:
    # Ends out of insertion order: the cap goes by end time, not by arrival.
    ends = [NOW + d for d in (5, 1, 9, 3, 7, 2, 8, 4, 6, 0)]
    finished = {finish_with_message(store, e): e for e in ends}
    active = [insert(store) for _ in range(3)]
    active.append(insert(store, key="k"))
    store.jobs.claim("e1", 1, NOW)  # a claimed ACTIVE job is untouched too
    assert store.jobs.purge(NOW + 10, DAY_MS, 4) == 6
    left = {r.uuid for r in store.jobs.select()}
    newest = {u for u, e in finished.items() if e >= NOW + 6}
    assert left == newest | set(active)
    for u in set(finished) - newest:
        assert store.jobs.messages(u) == []
    for u in newest:
        assert len(store.jobs.messages(u)) == 1


def test_purge_removes_jobs_older_than_keep_but_never_active_ones(store: Store) -> None:
    old = [finish_with_message(store, NOW - DAY_MS - i) for i in range(1, 4)]
    fresh = finish_with_message(store, NOW - 1)
    active = insert(store, begin_ms=NOW - 2 * DAY_MS)
    assert store.jobs.purge(NOW, DAY_MS, 1000) == len(old)
    assert {r.uuid for r in store.jobs.select()} == {fresh, active}


def test_purge_with_nothing_to_remove_removes_nothing(store: Store) -> None:
    kept = [finish_with_message(store, NOW + i) for i in range(3)]
    insert(store)
    assert store.jobs.purge(NOW + 3, DAY_MS, 3) == 0
    assert store.jobs.purge(NOW + 3, DAY_MS, 3) == 0
    assert {r.uuid for r in store.jobs.select(state="COMPLETED")} == set(kept)


def test_purge_removes_more_than_one_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jobengine.store.jobs.PURGE_BATCH", 3)
    for i in range(10):
        finish_with_message(store, NOW + i)
    assert store.jobs.purge(NOW + 10, DAY_MS, 2) == 8
    assert len(store.jobs.select()) == 2


def test_purge_with_zero_max_finished_removes_every_finished_job(store: Store) -> None:
    for i in range(3):
        finish_with_message(store, NOW + i)
    active = insert(store)
    assert store.jobs.purge(NOW + 3, DAY_MS, 0) == 3
    assert [r.uuid for r in store.jobs.select()] == [active]


def test_purge_walks_the_finished_index_in_order(store: Store) -> None:
    """The cap walks the partial index newest first, with no sort and no table scan."""
    sql = "SELECT id FROM background_job WHERE state <> 'ACTIVE' ORDER BY end_ms DESC, id DESC"
    if store.target.kind == "sqlite":
        plan = " ".join(str(r[-1]) for r in store.db.execute_sql("EXPLAIN QUERY PLAN " + sql))
        assert "background_job_finished" in plan and "TEMP B-TREE" not in plan
    else:
        # A tiny table makes any plan cheap: forbid the others to see that the index serves.
        store.db.execute_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
        plan = " ".join(r[0] for r in store.db.execute_sql("EXPLAIN " + sql))
        store.db.execute_sql("RESET enable_seqscan; RESET enable_bitmapscan")
        assert "background_job_finished" in plan and "Sort" not in plan


def test_a_store_at_schema_1_is_migrated_to_the_finished_order_index(store_url: str) -> None:
    from playhouse.migrations import Runner

    from jobengine.store import SCHEMA_VERSION
    from jobengine.store.db import open_database, parse_url
    from jobengine.store.schema import MIGRATIONS_DIR

    db = open_database(parse_url(store_url))
    try:
        assert Runner(db, MIGRATIONS_DIR).up(target="0001_initial") == ["0001_initial"]
    finally:
        db.close_all()  # type: ignore[attr-defined]
    store = Store(store_url)
    try:
        applied = [m.name for m in Runner(store.db, MIGRATIONS_DIR).status() if m.applied]
        assert len(applied) == SCHEMA_VERSION == 8
        test_purge_walks_the_finished_index_in_order(store)
    finally:
        store.close()
