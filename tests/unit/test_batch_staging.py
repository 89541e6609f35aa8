"""`batch.execute` refuses what `execute` refuses, with the same words, and stores the same
jobs, though it checks each method and each set of options once; its handles are built on
first use and read like any other."""

from __future__ import annotations

import gc
import threading
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jobengine import Engine, JobState, Retry, runtime
from jobengine.errors import JobEngineError
from jobengine.testing import FakeClock
from tests.unit.test_refusals import BAD_KEYWORDS

ADD = "tests.integration.jobs:add"
# A good value of each keyword BAD_KEYWORDS refuses: a batch meets it first, so the refusal
# also comes when the rest of the options were checked already.
GOOD: dict[str, Any] = {
    "priority": 5,
    "delay": 1,
    "timeout": 10,
    "run_at": datetime(2030, 1, 1, tzinfo=UTC),
    "queue": "q",
    "retry": Retry(),
    "key": "k",
    "description": "d",
    "on_conflict": "queue",
    "args": [1, 2],
    "kwargs": {},
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Engine]:
    """A client engine (never started) on a clock that stands still."""
    engine = Engine(f"sqlite:///{tmp_path}/jobs.db", clock=FakeClock())
    try:
        yield engine
    finally:
        engine.close()


@pytest.mark.parametrize(("option", "value", "words"), BAD_KEYWORDS)
def test_batch_refuses_what_execute_refuses_in_the_same_words(
    client: Engine, option: str, value: Any, words: str
) -> None:
    options: dict[str, Any] = {"args": [1, 2], option: value}
    with pytest.raises(JobEngineError) as single:
        client.background.execute(ADD, **options)
    with pytest.raises(JobEngineError) as batched, client.background.batch() as batch:
        batch.execute(ADD, **{**options, option: GOOD[option]})
        batch.execute(ADD, **options)
    assert str(batched.value) == str(single.value)
    assert words in str(batched.value)
    assert client.store.jobs.select() == []


@pytest.mark.parametrize("option", ["priority", "delay", "timeout"])
def test_an_equal_value_of_another_type_is_checked_again(client: Engine, option: str) -> None:
    with (
        pytest.raises(JobEngineError, match=f"^{option}=True: "),
        client.background.batch() as batch,
    ):
        batch.execute(ADD, [1, 2], **{option: 1})
        batch.execute(ADD, [1, 2], **{option: True})  # == 1, and no number of seconds


def test_a_method_is_checked_for_each_call_of_it(client: Engine) -> None:
    with pytest.raises(JobEngineError) as single:
        client.background.execute(ADD, [1, 2, 3])
    with pytest.raises(JobEngineError) as batched, client.background.batch() as batch:
        batch.execute(ADD, [1, 2])
        batch.execute(ADD, kwargs={"a": 1, "b": 2})
        batch.execute(ADD, [1, 2, 3])
    assert str(batched.value) == str(single.value)
    with pytest.raises(JobEngineError, match="no 'nope'"), client.background.batch() as batch:
        batch.execute("tests.integration.jobs:nope")
    assert client.store.jobs.select() == []


def test_a_batch_stores_what_execute_stores(client: Engine) -> None:
    calls: list[dict[str, Any]] = [
        {"args": [1, 2]},
        {"args": (1, 2), "key": "k1", "description": "d", "on_conflict": "queue"},
        {"kwargs": {"a": 1, "b": 2}, "queue": "q", "priority": -3, "timeout": 2.5},
        {"args": [1], "kwargs": {"b": 2}, "retry": Retry(count=2, interval=1), "delay": 30},
        {"args": [1, 2], "retry": Retry(count=2, interval=1.0), "timeout": 7},
        {"args": ["x", None], "run_at": datetime(2030, 1, 1), "scheduled_job": "s" * 36},
    ]

    def stored(uuid: str) -> Any:
        record = client.store.jobs.find(uuid)
        assert record is not None
        return replace(record, uuid="")

    singles = [client.background.execute(ADD, **call) for call in calls]
    expected = [stored(j.uuid) for j in singles]
    client.background.delete(singles, unstarted=True)  # the batch's k1 is free again
    with client.background.batch() as batch:
        batched = [batch.execute(ADD, **call) for call in calls]
    assert [stored(j.uuid) for j in batched] == expected
    assert expected[3].retry != expected[4].retry  # equal policies, 1 and 1.0, as given


def test_defaults_given_as_other_equal_strings_store_the_same_job(client: Engine) -> None:
    # batch.execute tells the common job (no option, no key) by its defaults' identity; an
    # equal string that is another object takes the full checks, to the same stored job.
    class Text(str):
        pass

    with client.background.batch() as batch:
        plain = batch.execute(ADD, [1, 2])
        other = batch.execute(ADD, [1, 2], None, Text(""), Text(""), "".join(["err", "or"]))
        with pytest.raises(JobEngineError, match="no 'nope'"):
            batch.execute("tests.integration.jobs:nope", [1])
    stored = {r.uuid: replace(r, uuid="") for r in client.store.jobs.select()}
    assert stored[other.uuid] == stored[plain.uuid]


def test_jobs_batched_inside_a_job_name_it_as_their_parent(
    client: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = str(uuidlib.uuid4())
    monkeypatch.setattr(runtime, "running_job", lambda: SimpleNamespace(uuid=parent))
    with client.background.batch() as batch:
        jobs = [batch.execute(ADD, [i, 1]) for i in range(3)]
        jobs.append(batch.execute(ADD, [1, 1], retry=Retry()))
    assert [r.parent for r in client.store.jobs.select()] == [parent] * 4
    assert [j.parent for j in jobs] == [parent] * 4


def test_batch_handles_read_as_the_jobs_found_in_the_store(client: Engine) -> None:
    with client.background.batch() as batch:
        early = batch.execute(ADD, [1, 2], key="k", description="d", priority=2, delay=60)
        assert early.state is JobState.ACTIVE  # read inside the block: built from the job
        late = batch.execute(ADD, kwargs={"a": 3, "b": 4}, queue="q")
    for job in (early, late):
        found = client.background.find(job.uuid)
        assert found is not None
        for name in (
            *("uuid", "method", "key", "description", "state", "begin", "end", "started"),
            *("attempt", "scheduled_job", "parent", "queue", "priority", "location"),
            *("cancel_requested", "error", "args", "kwargs", "is_finished", "waiting_retry"),
            *("retry_at", "attempts", "last_progress"),
        ):
            assert getattr(job, name) == getattr(found, name), name
        assert job == found and hash(job) == hash(found)
    assert repr(late) == f"<BackgroundJob {late.uuid} {ADD} ACTIVE>"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = late.nope  # type: ignore[attr-defined]


def test_a_skipped_jobs_handle_names_the_holder_read_before_or_after(client: Engine) -> None:
    holder = client.background.execute(ADD, [0, 0], key="k")
    with client.background.batch() as batch:
        read_early = batch.execute(ADD, [1, 1], key="k", on_conflict="skip")
        assert read_early.args == [1, 1]  # not written yet: the job as staged
        read_late = batch.execute(ADD, [2, 2], key="k", on_conflict="skip")
    for job in (read_early, read_late):
        assert (job.uuid, job.args) == (holder.uuid, [0, 0])
    assert len(client.store.jobs.select()) == 1


def test_threads_reading_a_staged_handle_at_once_see_one_snapshot(client: Engine) -> None:
    # Each handle's snapshot is built by whichever thread reads it first, while the others
    # read attributes the builder may not have set yet.
    with client.background.batch() as batch:
        jobs = [batch.execute(ADD, [i, 1], description=f"job {i}") for i in range(3000)]
    seen: list[list[tuple[str, str, list[Any], str]]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(seen))

    def read(out: list[tuple[str, str, list[Any], str]]) -> None:
        barrier.wait()
        try:
            out.extend((j.description, j.state.value, j.args, j.queue) for j in jobs)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = [(f"job {i}", "ACTIVE", [i, 1], "default") for i in range(3000)]
    assert seen == [expected] * len(seen)


def test_staged_jobs_are_plain_tuples_the_collector_stops_tracking(client: Engine) -> None:
    # A batch of thousands kept as NewJobs (tracked for as long as they live) grew the
    # collector's oldest generation until a full collection ran in the middle of a batch.
    batch = client.background.batch()
    batch.execute(ADD, [1, 2])
    batch.execute(ADD, [1, 2], key="k", priority=2)
    gc.collect()
    assert [type(job) for job in batch._jobs] == [tuple, tuple]
    assert not any(gc.is_tracked(job) for job in batch._jobs)


def test_batched_jobs_have_uuids_that_sort_by_time(client: Engine) -> None:
    clock = client.clock
    start_ms = int(clock.time() * 1000)
    with client.background.batch() as batch:
        jobs = [batch.execute(ADD, [i, 1]) for i in range(300)]  # more than one stock of uuids
        clock.advance(0.002)  # type: ignore[attr-defined]
        jobs += [batch.execute(ADD, [i, 1]) for i in range(300)]
    parsed = [uuidlib.UUID(job.uuid) for job in jobs]
    assert {u.version for u in parsed} == {7}
    stamps = [u.int >> 80 for u in parsed]  # the first 48 bits: when the uuid was made
    assert stamps == sorted(stamps)
    assert (stamps[0], stamps[-1]) == (start_ms, start_ms + 2)
