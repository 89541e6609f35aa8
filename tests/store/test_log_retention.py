"""The event log and the occurrences keep their own retention: older rows go, newer stay."""

from __future__ import annotations

from jobengine.store import Store
from jobengine.store.records import Event


def test_events_older_than_the_cutoff_are_purged_and_newer_kept(store: Store) -> None:
    store.events.write([Event(1_000 + i, "info", "job.completed", f"e{i}") for i in range(12)])
    assert store.events.purge(1_005) == 5
    kept = store.events.select(limit=100)
    assert [e.at_ms for e in kept] == list(range(1_011, 1_004, -1))  # newest first
    assert store.events.purge(1_005) == 0


def test_occurrences_older_than_the_cutoff_are_purged(store: Store) -> None:
    with store.db.atomic():
        for i in range(8):
            store.db.execute_sql(
                "INSERT INTO occurrence (scheduled_job, nominal_ms, decision, job, at_ms, host) "
                f"VALUES ({', '.join([store.db.param] * 6)})",
                ("sj", i, "missed", None, 2_000 + i, "h"),
            )
    assert store.scheduled.purge_occurrences(2_003) == 3
    assert [o.nominal_ms for o in store.scheduled.occurrences("sj", 100)] == [7, 6, 5, 4, 3]
