"""Resource queues with robots in real worker processes: exclusive takes, locks of a killed job
released, lock waits that time out, dated locks, a person's override.

Each test runs on an SQLite file and on the real PostgreSQL server (`store_url`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from jobengine import JobEngineError, JobState, ResourceStatus
from jobengine.runtime import RunningJob, activate
from jobengine.store.resources import Ask
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, location_pid, process_gone, wait_until

pytestmark = pytest.mark.timeout(120)
JOBS = "tests.integration.resource_jobs"


def test_robots_in_four_worker_processes_never_take_the_same_resource(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url, workers=4)
    rq = engine.resources.queue("invoices")
    items = [rq.put({"n": n}, priority=n % 3) for n in range(200)]
    robots = [engine.background.execute(f"{JOBS}:robot", ["invoices", 0.005]) for _ in range(4)]
    done = [r.result(timeout=90) for r in robots]

    taken = [i for ids in done for i in ids]
    assert sorted(taken) == sorted(i.id for i in items)  # every resource once, none twice
    assert sum(1 for ids in done if ids) >= 2  # they did work side by side
    after = rq.find(limit=None)
    assert {i.status for i in after} == {ResourceStatus.PROCESSED}
    by_robot = {r.uuid: set(ids) for r, ids in zip(robots, done, strict=True)}
    for item in after:
        assert item.id in by_robot[item.value["by"]]
        assert item.read_lock is None and item.write_lock is None


def test_a_robot_killed_mid_item_loses_nothing(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=2)
    rq = engine.resources.queue("mail")
    items = [rq.put({"n": n}) for n in range(3)]
    ready = tmp_path / "ready"
    hung = engine.background.execute(f"{JOBS}:take_and_hang", ["mail", str(ready)])
    wait_until(ready.exists, what="the robot took a resource")
    held = int(ready.read_text())
    assert held == items[0].id
    taken = rq.get(held)
    assert taken is not None and taken.status is ResourceStatus.IN_PROGRESS
    assert taken.read_lock is not None and taken.read_lock.holder == hung.uuid

    os.kill(location_pid(hung.refresh().location), signal.SIGKILL)
    assert hung.wait(timeout=20) and hung.state is JobState.FAILED

    back = rq.get(held)
    assert back is not None and back.status is ResourceStatus.NEW
    assert back.read_lock is None and back.write_lock is None
    second = engine.background.execute(f"{JOBS}:robot", ["mail"])
    assert sorted(second.result(timeout=30)) == [i.id for i in items]
    again = rq.get(held)
    assert again is not None and again.status is ResourceStatus.PROCESSED
    assert again.value == {"n": 0, "by": second.uuid}


@pytest.mark.parametrize(("lock", "verb"), [("read", "get"), ("write", "update")])
def test_lock_waits_time_out_then_wake_when_the_holder_lets_go(
    store_url: str, make_engine: MakeEngine, tmp_path: Path, lock: str, verb: str
) -> None:
    engine = make_engine(store_url, workers=3)
    rq = engine.resources.queue("q")
    rq.put("a")
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = engine.background.execute(
        f"{JOBS}:take_until_file", ["q", str(ready), str(release), lock]
    )
    wait_until(ready.exists, what="the holder took the resource")
    item_id = int(ready.read_text())

    short = engine.background.execute(f"{JOBS}:timed", ["q", verb, item_id, 0.5]).result(30)
    assert short["outcome"].startswith(f"locked: resource {item_id} of queue 'q' is {lock}-locked")
    assert f"[{holder.uuid}]" in short["outcome"]
    assert 0.5 <= short["elapsed"] < 5
    # The other kind of access is not held up by this lock.
    other = "update" if verb == "get" else "get"
    free = engine.background.execute(f"{JOBS}:timed", ["q", other, item_id, 0]).result(30)
    assert free["outcome"] == "ok"

    patient = engine.background.execute(f"{JOBS}:timed", ["q", verb, item_id, 60])
    wait_until(lambda: patient.refresh().started, what="the patient waiter started")
    time.sleep(0.3)
    release.write_text("go")
    assert holder.result(timeout=30) == item_id
    outcome = patient.result(timeout=30)
    assert outcome["outcome"] == "ok" and outcome["elapsed"] < 30


def test_dated_locks_survive_their_job_until_their_date(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url, workers=2)
    rq = engine.resources.queue("q")
    rq.put("a")
    job = engine.background.execute(f"{JOBS}:take_dated", ["q", 3.0])
    item_id = job.result(timeout=30)
    item = rq.get(item_id)
    assert item is not None and item.status is ResourceStatus.NEW  # nothing lost
    assert item.read_lock is not None and item.read_lock.holder == job.uuid
    assert engine.background.execute(f"{JOBS}:try_take", ["q"]).result(30) is None
    wait_until(
        lambda: engine.background.execute(f"{JOBS}:try_take", ["q"]).result(30) == item_id,
        timeout_s=30,
        what="the dated lock lapsed",
    )


def test_a_person_overrides_a_robots_lock_and_becomes_its_holder(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(store_url, workers=2)
    rq = engine.resources.queue("q")
    rq.put("a")
    ready, go = tmp_path / "ready", tmp_path / "go"
    robot = engine.background.execute(f"{JOBS}:change_after_file", ["q", str(ready), str(go)])
    wait_until(ready.exists, what="the robot took the resource")
    item_id = int(ready.read_text())

    changed = rq.update(item_id, priority=9, status="error")  # no wait: a person is not stopped
    assert changed.write_lock is not None and changed.write_lock.holder.startswith("person:")
    assert (changed.priority, changed.status) == (9, ResourceStatus.ERROR)
    go.write_text("go")
    assert "write-locked by person:" in robot.result(timeout=30)
    assert rq.unlock(item_id).write_lock is None


def test_a_blocked_wait_wakes_on_a_notification_from_another_engine(store_url: str) -> None:
    from jobengine import Engine, ResourceLocked

    engine, other = Engine(store_url), Engine(store_url)
    try:
        rq = engine.resources.queue("q")
        item = rq.put("a")
        holder = Ask("0" * 8 + "-0000-0000-0000-" + "0" * 12, 0)
        assert other.store.resources.get("q", item.id, holder, "write", None).blocked is None
        job = RunningJob(
            "1" * 8 + "-1111-1111-1111-" + "1" * 12,
            attempt=1,
            method="m:f",
            db_url=store_url,
            channel=None,
        )  # type: ignore[arg-type]
        with activate(job):  # this thread acts as a background job, not a person
            with pytest.raises(ResourceLocked) as info:
                rq.update(item.id, priority=1, wait=0.2)
            assert info.value.holder == holder.holder and info.value.kind == "write"

            def release() -> None:
                time.sleep(0.3)
                other.store.resources.unlock("q", item.id, holder)
                other.store.notifier.publish(["r q"])

            threading.Thread(target=release).start()
            start = time.monotonic()
            assert rq.update(item.id, priority=1, wait=20).priority == 1
        assert time.monotonic() - start < 0.9  # woken, not found by the 1 s fallback re-check
    finally:
        other.close()
        engine.close()


@pytest.mark.timeout(90)
def test_an_engine_killed_with_sigkill_leaves_its_robots_items_to_the_next_engine(
    store_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: Path
) -> None:
    runner = procs.run_engine(store_url, workers=1)
    client = make_engine(store_url, start=False)
    rq = client.resources.queue("q")
    item = rq.put("a")
    ready = tmp_path / "ready"
    hung = client.background.execute(f"{JOBS}:take_and_hang", ["q", str(ready)])
    wait_until(ready.exists, what="the robot took the resource in the engine subprocess")
    worker = location_pid(hung.refresh().location)

    os.kill(runner.pid, signal.SIGKILL)  # the engine only: its worker goes by itself
    runner.wait()
    wait_until(lambda: process_gone(worker), what="worker gone after its engine died")
    held = rq.get(item.id)
    assert held is not None and held.status is ResourceStatus.IN_PROGRESS  # not settled yet

    make_engine(store_url, workers=1)  # settles the dead engine's jobs when it starts
    assert hung.wait(timeout=20) and hung.state is JobState.FAILED
    back = rq.get(item.id)
    assert back is not None and back.status is ResourceStatus.NEW
    assert back.read_lock is None and back.write_lock is None


def test_resources_find_lists_every_queues_items_with_a_limit(
    store_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(store_url, start=False)
    mail = engine.resources.queue("mail")
    invoices = engine.resources.queue("invoices")
    m1 = mail.put("m1", tags=["urgent"])
    i1 = invoices.put("i1")
    i2 = invoices.put("i2", priority=3, tags=["urgent"])
    found = engine.resources.find()
    assert [(i.queue, i.id) for i in found] == [
        ("invoices", i2.id),
        ("invoices", i1.id),
        ("mail", m1.id),
    ]
    assert [i.id for i in engine.resources.find(tags=["urgent"], limit=1)] == [i2.id]
    assert [i.id for i in engine.resources.find(queue="mail")] == [m1.id]
    assert engine.resources.find(status="error") == []
    with pytest.raises(JobEngineError):
        engine.resources.find(status="done")
