"""Background jobs end to end in one process: an Engine with real worker processes.

Each test runs on an SQLite file and on the real PostgreSQL server (`store_url`).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jobengine import JobState, Progress
from jobengine.errors import (
    JobEngineError,
    JobFailed,
    JobKeyConflict,
    MethodError,
    SerializationError,
)
from tests.integration import jobs
from tests.integration.conftest import MakeEngine
from tests.integration.support import location_pid, process_gone, wait_until

pytestmark = pytest.mark.timeout(60)


def test_execute_wait_result_round_trips_values(store_url: str, make_engine: MakeEngine) -> None:
    engine = make_engine(store_url, workers=2)
    value = {
        "aware": datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC),
        "naive": datetime(2024, 1, 2, 3, 4, 5),
        "day": date(2024, 3, 1),
        "clock": dtime(7, 30, 15),
        "amount": Decimal("12345.678901234567890"),
        "id": uuidlib.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": bytes(range(256)),
        "plain": [1, -2.5, "text", None, True, {"nested": [b"x"]}],
    }

    echoed = engine.background.execute(
        "tests.integration.jobs:echo", [value], description="round trip"
    )
    added = engine.background.execute(jobs.add, [2], {"b": 40})

    assert engine.background.wait([echoed, added], timeout=20)
    assert echoed.result() == value
    assert echoed.args == [value]
    assert added.result() == 42
    assert added.method == "tests.integration.jobs:add"
    for job in (echoed, added):
        stored = engine.background.find(job.uuid)
        assert stored is not None
        assert stored.state is JobState.COMPLETED
        assert stored.error is None
        assert stored.attempt == 1
        assert stored.end is not None and stored.end >= stored.begin
        assert stored.location.startswith(engine.host + ":")
    assert engine.background.find(echoed.uuid).description == "round trip"  # type: ignore[union-attr]


def test_failure_carries_type_message_and_traceback(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url, workers=2)
    deep = engine.background.execute("tests.integration.jobs:fail_deep", ["it broke"])
    builtin = engine.background.execute("tests.integration.jobs:fail_value", ["bad value"])

    with pytest.raises(JobFailed) as caught:
        deep.result(timeout=20)
    error = caught.value.error
    assert error is not None
    assert error.type == "tests.integration.jobs.JobError"
    assert error.message == "it broke"
    assert "_raise_from_helper" in error.traceback
    assert "fail_deep" in error.traceback
    assert "JobError: it broke" in error.traceback

    with pytest.raises(JobFailed) as caught_builtin:
        builtin.result(timeout=20)
    assert caught_builtin.value.error is not None
    assert caught_builtin.value.error.type == "ValueError"

    stored = engine.background.find(deep.uuid)
    assert stored is not None
    assert stored.state is JobState.FAILED
    assert stored.end is not None
    assert stored.error == error


def _closure_factory() -> Any:
    offset = 1

    def closure(x: int) -> int:
        return x + offset

    return closure


@pytest.mark.parametrize(
    ("method", "args", "options", "error", "text"),
    [
        (lambda: 1, [], {}, MethodError, "lambda"),
        (_closure_factory(), [1], {}, MethodError, "closure"),
        ("tests.no_such_module:add", [1, 2], {}, MethodError, "cannot import"),
        ("tests.integration.jobs:no_such_function", [], {}, MethodError, "no_such_function"),
        ("tests.integration.jobs:add", [1], {}, MethodError, "arguments do not match"),
        ("tests.integration.jobs:add", [1, 2, 3], {}, MethodError, "arguments do not match"),
        ("tests.integration.jobs:echo", [object()], {}, SerializationError, "object"),
        (
            "tests.integration.jobs:echo",
            [1],
            {"on_conflict": "replace"},
            JobEngineError,
            "on_conflict",
        ),
        ("tests.integration.jobs:echo", [1], {"key": 7}, JobEngineError, "key"),
    ],
    ids=[
        "lambda",
        "closure",
        "unknown-module",
        "unknown-function",
        "too-few-args",
        "too-many-args",
        "unstorable-arg",
        "bad-on-conflict",
        "non-string-key",
    ],
)
def test_execute_refuses_before_writing(
    store_url: str,
    make_engine: MakeEngine,
    method: Any,
    args: list[Any],
    options: dict[str, Any],
    error: type[Exception],
    text: str,
) -> None:
    engine = make_engine(store_url, start=False)

    with pytest.raises(error) as caught:
        engine.background.execute(method, args, **options)

    assert isinstance(caught.value, JobEngineError)
    assert text in str(caught.value)
    assert engine.background.get() == []


@pytest.mark.timeout(90)
def test_queue_behind_key_runs_fifo_one_at_a_time(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=2)
    bg = engine.background
    release = tmp_path / "release"
    spans = tmp_path / "spans.log"
    span = "tests.integration.jobs:record_span"
    holder = bg.execute(span, [str(spans), "holder", 0, str(release)], key="k")
    wait_until(lambda: holder.refresh().started, what="holder started")

    with pytest.raises(JobKeyConflict):
        bg.execute(span, [str(spans), "second", 0], key="k")
    skipped = bg.execute(span, [str(spans), "second", 0], key="k", on_conflict="skip")
    assert skipped.uuid == holder.uuid
    # The same key on another method is another lock.
    assert bg.execute("tests.integration.jobs:echo", ["free"], key="k").result(timeout=20) == "free"

    tags = [f"job{i}" for i in range(5)]
    queued = [
        bg.execute(span, [str(spans), tag, 0.05], key="k", on_conflict="queue") for tag in tags
    ]
    # A worker is idle, yet nothing queued behind the holder may start while it runs.
    assert all(job.refresh().started is None for job in queued)
    release.write_text("go")
    assert bg.wait([holder, *queued], timeout=30)
    assert [job.result() for job in queued] == tags
    tags.insert(0, "holder")

    lines = [line.split() for line in spans.read_text().splitlines()]
    assert [(kind, tag) for kind, tag, _ in lines] == [
        (kind, tag) for tag in tags for kind in ("start", "end")
    ]
    times = [float(at) for _, _, at in lines]
    assert times == sorted(times)
    for before, after in zip([holder, *queued], queued, strict=False):
        assert before.end is not None and after.started is not None
        assert before.end <= after.started


def test_cancel_of_a_job_stuck_in_sleep_ends_within_grace(
    store_url: str, make_engine: MakeEngine
) -> None:
    grace = 1.0
    engine = make_engine(store_url, workers=2, grace=grace)
    job = engine.background.execute("tests.integration.jobs:sleep_forever")
    wait_until(lambda: job.refresh().started, what="job started")
    worker = location_pid(job.location)

    asked = time.monotonic()
    job.cancel()
    assert job.wait(timeout=grace + 10)
    took = time.monotonic() - asked

    assert job.state is JobState.CANCELED
    assert job.end is not None
    assert took < grace + 5, f"cancel took {took:.2f} s with a {grace} s grace period"
    wait_until(lambda: process_gone(worker), what="killed worker reaped")
    assert engine.background.execute("tests.integration.jobs:add", [1, 1]).result(timeout=20) == 2


def test_cooperative_cancel_ends_canceled_without_a_kill(
    store_url: str, make_engine: MakeEngine
) -> None:
    # A long grace period: if the pool had to kill the worker the test would time out.
    engine = make_engine(store_url, workers=1, grace=60.0)
    job = engine.background.execute("tests.integration.jobs:check_cancel_loop")
    wait_until(lambda: job.refresh().started, what="job started")
    worker = location_pid(job.location)

    job.cancel()
    assert job.wait(timeout=10)

    assert job.state is JobState.CANCELED
    assert job.error is not None and "stopped on request" in job.error.message
    after = engine.background.execute("tests.integration.jobs:whoami").result(timeout=20)
    assert after["pid"] == worker  # the same worker process: it was not killed


def test_cancel_of_a_queued_job_ends_canceled_at_once(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=1)
    release = tmp_path / "release"
    busy = engine.background.execute("tests.integration.jobs:wait_for_file", [str(release)])
    wait_until(lambda: busy.refresh().started, what="busy job started")
    queued = engine.background.execute("tests.integration.jobs:add", [1, 2])

    queued.cancel()
    assert queued.wait(timeout=5)

    assert queued.state is JobState.CANCELED
    assert queued.started is None
    release.write_text("done")
    assert busy.result(timeout=20) == "done"
    assert engine.background.find(queued.uuid).state is JobState.CANCELED  # type: ignore[union-attr]


def test_child_jobs_with_one_worker_do_not_deadlock(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url, workers=1)

    parent = engine.background.execute("tests.integration.jobs:fan_out", [3])
    outcome = parent.result(timeout=40)

    assert outcome["total"] == sum(i + i * 10 for i in range(3))
    assert outcome["first"] == 0
    children = [engine.background.find(uuid) for uuid in outcome["children"]]
    assert len(children) == 3
    for child in children:
        assert child is not None
        assert child.state is JobState.COMPLETED
        assert child.parent == parent.uuid


def test_progress_and_messages_while_running_and_after(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=1)
    release = tmp_path / "release"
    job = engine.background.execute("tests.integration.jobs:progress_until_file", [str(release)])

    wait_until(
        lambda: (
            job.progress() == Progress(30.0, "waiting for the file")
            and job.messages() == ["first message"]
        ),
        what="progress and first message while running",
    )
    assert job.refresh().state is JobState.ACTIVE
    release.write_text("")

    assert job.result(timeout=20) == "finished"
    again = engine.background.find(job.uuid)
    assert again is not None
    assert again.progress() == Progress(100.0, "done")
    assert again.messages() == ["first message", "second message"]


def _finish_one(engine: Any, method: str = "tests.integration.jobs:report_progress") -> str:
    job = engine.background.execute(method)
    job.result(timeout=20)
    return str(job.uuid)


def test_retention_cap_removes_the_oldest_finished_with_messages(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=2, max_finished=3)
    release = tmp_path / "release"
    active = engine.background.execute("tests.integration.jobs:message_and_wait", [str(release)])
    wait_until(lambda: active.messages(), what="message of the active job")
    finished = [_finish_one(engine) for _ in range(6)]

    engine._dispatcher.purge()  # type: ignore[attr-defined]

    kept = {j.uuid for j in engine.background.get() if j.state is not JobState.ACTIVE}
    assert kept == set(finished[-3:])
    for uuid in finished[:3]:
        assert engine.background.find(uuid) is None
        assert engine.store.jobs.messages(uuid) == []
    for uuid in finished[-3:]:
        assert engine.background.find(uuid).messages() == ["hello from the job"]  # type: ignore[union-attr]
    assert active.refresh().state is JobState.ACTIVE
    assert active.messages() == ["kept until purged"]

    release.write_text("")
    assert active.wait(timeout=20)
    engine._dispatcher.purge()  # type: ignore[attr-defined]
    kept = {j.uuid for j in engine.background.get()}
    assert kept == {*finished[-2:], active.uuid}


def test_retention_age_removes_old_finished_jobs_only(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=2, keep_finished=timedelta(milliseconds=1))
    release = tmp_path / "release"
    active = engine.background.execute("tests.integration.jobs:message_and_wait", [str(release)])
    wait_until(lambda: active.messages(), what="message of the active job")
    done = _finish_one(engine)

    def purged() -> bool:
        engine._dispatcher.purge()  # type: ignore[attr-defined]
        return engine.background.find(done) is None

    wait_until(purged, what="old finished job purged")
    assert engine.store.jobs.messages(done) == []
    assert [j.uuid for j in engine.background.get()] == [active.uuid]
    release.write_text("")
    assert active.wait(timeout=20)
