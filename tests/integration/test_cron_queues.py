"""Cron-run queues (InstantCMS): `jobengine run --queues Q --max-jobs N --exit-when-idle` runs at
most N due jobs of its queues and exits, and a queue's jobs are listed, deleted and restarted
from the CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from jobengine import JobFailed, JobState, Retry
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, wait_until

pytestmark = pytest.mark.timeout(120)

RET_MAX_JOBS = 5


def cron_run(procs: Procs, url: str, *options: str) -> tuple[int, str]:
    """One `jobengine run` as a crontab would start it; its exit code and stderr."""
    done = procs.cli("run", "--db", url, "--workers", "2", "--grace", "1", *options, timeout_s=60)
    return done.returncode, done.stderr


def states(engine: object, queue: str) -> Counter[str]:
    return Counter(j.state.value for j in engine.background.get(queue=queue))  # type: ignore[attr-defined]


def test_max_jobs_runs_n_jobs_of_its_queues_then_the_rest_on_the_next_run(
    store_url: str, make_engine: MakeEngine, procs: Procs
) -> None:
    client = make_engine(store_url, start=False)
    for i in range(30):
        client.background.execute("tests.integration.jobs:add", [i, 1], queue="email")
    for i in range(3):
        client.background.execute("tests.integration.jobs:add", [i, 2], queue="reports")
    later = client.background.execute(
        "tests.integration.jobs:add", [0, 0], queue="email", delay=600
    )
    flags = ("--queues", "email", "--max-jobs", "20", "--exit-when-idle")

    code, stderr = cron_run(procs, store_url, *flags)
    assert code == RET_MAX_JOBS, stderr
    assert "10 due jobs are left" in stderr
    assert states(client, "email") == {"COMPLETED": 20, "ACTIVE": 11}
    code, stderr = cron_run(procs, store_url, *flags)
    assert code == 0, stderr
    assert states(client, "email") == {"COMPLETED": 30, "ACTIVE": 1}
    assert later.refresh().state is JobState.ACTIVE and later.started is None  # not due yet
    assert states(client, "reports") == {"ACTIVE": 3}  # other queues are untouched
    assert all(j.started is None for j in client.background.get(queue="reports"))


def test_exit_when_idle_alone_exits_once_nothing_due_is_left(
    store_url: str, make_engine: MakeEngine, procs: Procs
) -> None:
    client = make_engine(store_url, start=False)
    jobs = [client.background.execute("tests.integration.jobs:add", [i, i]) for i in range(5)]
    waiting = client.background.execute(
        "tests.integration.jobs:fail_until", [2], retry=Retry(count=1, interval=600)
    )
    code, stderr = cron_run(procs, store_url, "--exit-when-idle")
    assert code == 0, stderr
    assert [j.result(timeout=0) for j in jobs] == [0, 2, 4, 6, 8]
    assert waiting.refresh().waiting_retry  # its retry is not due: the runner did not wait
    code, stderr = cron_run(procs, store_url, "--exit-when-idle")  # nothing due: exits at once
    assert code == 0, stderr


def test_max_jobs_alone_exits_after_n_jobs(
    store_url: str, make_engine: MakeEngine, procs: Procs
) -> None:
    client = make_engine(store_url, start=False)
    for i in range(4):
        client.background.execute("tests.integration.jobs:add", [i, 0])
    code, stderr = cron_run(procs, store_url, "--max-jobs", "3")
    assert code == RET_MAX_JOBS, stderr
    assert states(client, "default") == {"COMPLETED": 3, "ACTIVE": 1}


def test_an_engine_with_max_jobs_claims_no_more_than_it_runs(
    store_url: str, make_engine: MakeEngine
) -> None:
    client = make_engine(store_url, start=False)
    for i in range(10):
        client.background.execute("tests.integration.jobs:add", [i, 0])
    engine = make_engine(store_url, max_jobs=3, workers=2)
    assert engine.wait_max_jobs(timeout=30) and engine.wait_idle(timeout=5)
    assert engine.max_jobs_reached
    found = client.background.get()
    assert Counter(j.state.value for j in found) == {"COMPLETED": 3, "ACTIVE": 7}
    claimed = [j.uuid for j in found if j._record.claimed_by is not None and not j.is_finished]
    assert claimed == []  # the budget capped the claims, prefetch included
    assert client.background.count_due() == 7


def test_a_queues_jobs_are_listed_deleted_and_restarted_from_the_cli(
    store_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: object
) -> None:
    client = make_engine(store_url, start=False)
    db = ("--db", store_url)
    failed = client.background.execute(
        "tests.integration.jobs:fail",
        ["no smtp"],
        key="mail-1",
        queue="email",
        priority=7,
        retry=Retry(count=0, interval=1),
    )
    running = client.background.execute("tests.integration.jobs:sleep_forever", queue="email")
    engine = procs.run_engine(store_url, workers=2, extra=["--queues", "email"])
    wait_until(lambda: failed.refresh().is_finished and running.refresh().started)
    engine.signal(2)  # SIGINT: a warm stop; the sleeper is killed after the grace period
    engine.wait()
    assert running.refresh().state is JobState.CANCELED
    sleeper = client.background.execute("tests.integration.jobs:sleep_forever", queue="email")
    running_again = procs.run_engine(store_url, workers=2, extra=["--queues", "email"])
    wait_until(lambda: sleeper.refresh().started, what="the sleeper to start")
    waiting = [
        client.background.execute("tests.integration.jobs:add", [i, 0], queue="email", delay=600)
        for i in range(3)
    ]
    other = client.background.execute("tests.integration.jobs:add", [1, 1], queue="reports")

    listed = procs.cli("jobs", "--queue", "email", *db, env={"COLUMNS": "400"})
    assert listed.returncode == 0, listed.stderr
    for job in (failed, running, sleeper, *waiting):
        assert job.uuid in listed.stdout
    assert other.uuid not in listed.stdout

    refused = procs.cli("delete", sleeper.uuid, waiting[0].uuid, *db)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"jobengine: 1 running jobs not deleted (cancel them first): {sleeper.uuid}"
    )
    assert client.background.find(waiting[0].uuid) is None  # the waiting one went
    gone = procs.cli("delete", "--queue", "email", "--state", "active", *db)
    assert gone.returncode == 1 and "deleted 2 jobs" in gone.stdout  # the sleeper stays
    assert [j.uuid for j in client.background.get(queue="email", state="ACTIVE")] == [sleeper.uuid]
    assert client.background.find(other.uuid) is not None

    again = procs.cli("restart", failed.uuid, *db)
    assert again.returncode == 0, again.stderr
    new = client.background.find(again.stdout.strip())
    assert new is not None and new.uuid != failed.uuid
    assert (new.method, new.args, new.key, new.queue, new.priority) == (
        failed.method,
        ["no smtp"],
        "mail-1",
        "email",
        7,
    )
    assert json.loads(new._record.retry or "") == {"count": 0, "interval": 1, "backoff": 1.0}
    with pytest.raises(JobFailed, match="no smtp"):
        new.result(timeout=30)
    not_finished = procs.cli("restart", sleeper.uuid, *db)
    assert not_finished.returncode == 1
    assert "only a FAILED or CANCELED job restarts" in not_finished.stderr
    finished = procs.cli("delete", "--queue", "email", "--state", "failed", *db)
    assert finished.returncode == 0 and "deleted 2 jobs" in finished.stdout
    running_again.signal(2)
    running_again.wait()
