"""The listings' store verbs: a page of scheduled jobs with their runs joined in SQL, and
text filters (every word, any case, in SQL LIKE) with offsets for jobs and events."""

from __future__ import annotations

import uuid

from jobengine.store import Store
from jobengine.store.records import Batch, Event, Finish, LastRun, RunState
from tests.store.conftest import NOW, new_job


def _row(name: str, **kw: object) -> dict[str, object]:
    values: dict[str, object] = {
        "uuid": str(uuid.uuid4()),
        "metadata": name,
        "method": "tests.integration.jobs:add",
        "use": True,
        "schedule": '{"days_repeat_period": 1}',
        "due_from_ms": NOW,
        "created_ms": NOW,
        "changed_ms": NOW,
    }
    values.update(kw)
    return values


def test_overview_pages_by_name_with_last_runs_joined(store: Store) -> None:
    failed, _ = store.jobs.insert(new_job())
    active, _ = store.jobs.insert(new_job())
    store.jobs.claim("e1", 1, NOW, ["default"])
    store.jobs.record(Batch(finishes=[Finish(failed.uuid, "FAILED", NOW + 5)]))
    rows = [_row(f"Job{i:02d}") for i in range(30)]
    rows[1].update(sched_job=failed.uuid, last_job=active.uuid)
    rows[2].update(sched_job=str(uuid.uuid4()))  # retention removed it
    store.scheduled.insert_many(rows)
    page = store.scheduled.overview(limit=10, offset=0)
    assert [r.metadata for r, _, _ in page] == [f"Job{i:02d}" for i in range(10)]
    assert page[0][1:] == (None, None)
    assert page[1][1:] == (RunState("FAILED", NOW + 5, 1), LastRun("ACTIVE", None, None))
    assert page[2][1:] == (None, None)
    later = store.scheduled.overview(limit=10, offset=25)
    assert [r.metadata for r, _, _ in later] == [f"Job{i:02d}" for i in range(25, 30)]


def test_overview_text_matches_every_word_in_name_description_method_or_key(
    store: Store,
) -> None:
    store.scheduled.insert_many(
        [
            _row("PriceUpload", description="Upload prices", key="prices"),
            _row("Nightly", description="Cleanup 100% of it", method="pkg.mod:clean"),
            _row("Other", key="x_y"),
        ]
    )

    def names(text: str) -> list[str]:
        return [r.metadata for r, _, _ in store.scheduled.overview(text=text)]

    assert names("upload") == ["PriceUpload"]
    assert names("PRICES upload") == ["PriceUpload"]
    assert names("mod:CLEAN") == ["Nightly"]
    assert names("100%") == ["Nightly"]
    assert names("%") == ["Nightly"]  # a typed % is itself, not a wildcard
    assert names("_") == ["Other"]
    assert names("upload nightly") == []
    assert names("  ") == ["Nightly", "Other", "PriceUpload"]


def test_job_select_filters_text_in_sql_and_skips_an_offset(store: Store) -> None:
    for i in range(12):
        store.jobs.insert(new_job(description=f"Report {i}" if i % 2 else f"Import {i}"))
    newest = store.jobs.select(text="report", newest_first=True, limit=3)
    assert [r.description for r in newest] == ["Report 11", "Report 9", "Report 7"]
    page = store.jobs.select(text="REPORT", newest_first=True, limit=3, offset=3)
    assert [r.description for r in page] == ["Report 5", "Report 3", "Report 1"]
    assert len(store.jobs.select(text="active import")) == 6  # the state matches too


def test_event_select_filters_text_in_sql_and_skips_an_offset(store: Store) -> None:
    store.events.write(
        [Event(NOW + i, "info", "job.started", f"started run {i}") for i in range(5)]
        + [Event(NOW + 10, "error", "job.failed", "boom")]
    )
    assert [e.message for e in store.events.select(text="BOOM")] == ["boom"]
    assert [e.message for e in store.events.select(text="failed error")] == ["boom"]
    page = store.events.select(text="started", limit=2, offset=1)
    assert [e.message for e in page] == ["started run 3", "started run 2"]


def test_overview_gives_the_last_runs_start_and_end_for_its_duration(store: Store) -> None:
    done, _ = store.jobs.insert(new_job())
    running, _ = store.jobs.insert(new_job())
    store.jobs.claim("e1", 2, NOW, ["default"])
    started = {done.uuid: (NOW + 1, "h", 1), running.uuid: (NOW + 2, "h", 2)}
    store.jobs.record(Batch(started=started))
    store.jobs.record(Batch(finishes=[Finish(done.uuid, "COMPLETED", NOW + 2501)]))
    store.scheduled.insert_many(
        [_row("Done", last_job=done.uuid), _row("Running", last_job=running.uuid)]
    )
    lasts = [last for _, _, last in store.scheduled.overview()]
    assert lasts == [LastRun("COMPLETED", NOW + 1, NOW + 2501), LastRun("ACTIVE", NOW + 2, None)]


def test_select_counted_gives_each_jobs_messages_in_the_same_order_and_page(
    store: Store,
) -> None:
    jobs = [store.jobs.insert(new_job(description=f"Job {i}"))[0] for i in range(4)]
    store.jobs.claim("e1", 4, NOW, ["default"])
    said = [(jobs[1].uuid, NOW + i, f"line {i}") for i in range(3)] + [(jobs[3].uuid, NOW, "one")]
    store.jobs.record(Batch(messages=said))
    counted = store.jobs.select_counted(newest_first=True, limit=3)
    assert [(r.description, n) for r, n in counted] == [("Job 3", 1), ("Job 2", 0), ("Job 1", 3)]
    assert [r for r, _ in counted] == store.jobs.select(newest_first=True, limit=3)
    assert store.jobs.select_counted(text="job 1") == [(store.jobs.find(jobs[1].uuid), 3)]
