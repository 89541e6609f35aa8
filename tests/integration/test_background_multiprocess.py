"""Several processes on one store: racing clients, a client waiting on another process's engine,
two engines sharing 10,000 jobs on PostgreSQL, and the command line.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jobengine import JobState
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, location_pid, wait_until

pytestmark = pytest.mark.timeout(90)


def _report(request: pytest.FixtureRequest, name: str, value: float) -> None:
    """Keep a measured number in the junit report and show it with `-s`."""
    request.node.user_properties.append((name, value))
    sys.stdout.write(f"\n{request.node.name}: {name} = {value:.4g}\n")


def test_key_conflict_from_two_processes_at_once(
    store_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: Path
) -> None:
    rounds = 10
    names = ("a", "b")
    script = [sys.executable, "-m", "tests.integration.race_client", store_url, str(tmp_path)]
    racers = [procs.start([*script, n, str(rounds)], name=f"race-{n}") for n in names]

    def ready(r: int) -> bool:
        return all((tmp_path / f"ready-{n}-{r}").exists() for n in names)

    for r in range(rounds):
        wait_until(functools.partial(ready, r), what=f"both racers ready for round {r}")
        (tmp_path / f"go-{r}").touch()
    for racer in racers:
        assert racer.wait() == 0, racer.stderr

    outcomes: dict[int, list[dict[str, str]]] = {r: [] for r in range(rounds)}
    for n in names:
        for line in (tmp_path / f"result-{n}.jsonl").read_text().splitlines():
            outcome = json.loads(line)
            outcomes[int(outcome["round"])].append(outcome)
    client = make_engine(store_url, start=False)
    for r in range(rounds):
        assert sorted(o["outcome"] for o in outcomes[r]) == ["conflict", "ok"], outcomes[r]
        assert outcomes[r][0]["uuid"] == outcomes[r][1]["uuid"]  # the loser names the winner
        stored = client.background.get(key=f"round-{r}")
        assert [j.uuid for j in stored] == [outcomes[r][0]["uuid"]]


def test_client_waits_on_a_job_another_process_runs(
    store_url: str,
    make_engine: MakeEngine,
    procs: Procs,
    request: pytest.FixtureRequest,
) -> None:
    procs.run_engine(store_url, workers=1)
    client = make_engine(store_url, start=False)
    assert client.background.execute("tests.integration.jobs:add", [0, 0]).result(timeout=20) == 0

    latencies = []
    began = time.monotonic()
    for i in range(20):
        t0 = time.perf_counter()
        assert (
            client.background.execute("tests.integration.jobs:add", [i, 1]).result(timeout=20)
            == i + 1
        )
        latencies.append(time.perf_counter() - t0)
    total = time.monotonic() - began

    median = statistics.median(latencies)
    _report(request, "median_ms", median * 1000)
    _report(request, "max_ms", max(latencies) * 1000)
    # The fallback poll is 1 s: woken waits are far below it. Loose bounds, not a benchmark.
    assert total < 10, f"20 round trips took {total:.1f} s: {latencies}"
    assert median < 0.5, f"median {median * 1000:.0f} ms looks like the fallback poll"


@pytest.mark.pg
@pytest.mark.timeout(300)
def test_ten_thousand_jobs_through_two_engines_each_run_once(
    pg_url: str,
    make_engine: MakeEngine,
    procs: Procs,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    count = 10_000
    log_dir = tmp_path / "runs"
    log_dir.mkdir()
    for tag in ("A", "B"):
        # Retention would start removing finished jobs past 1000 before the test counts them.
        keep_all = ["--max-finished", str(count)]
        procs.run_engine(pg_url, workers=1, extra=keep_all, JOBENGINE_TEST_TAG=tag)
    client = make_engine(pg_url, start=False)

    began = time.monotonic()
    jobs = [
        client.background.execute("tests.integration.jobs:echo_logged", [str(log_dir), i])
        for i in range(count)
    ]
    enqueued = time.monotonic() - began
    assert client.background.wait(jobs, timeout=240)
    took = time.monotonic() - began
    _report(request, "enqueue_per_s", count / enqueued)
    _report(request, "jobs_per_s", count / took)

    stored = client.background.get(method="tests.integration.jobs:echo_logged")
    assert len(stored) == count
    assert all(j.state is JobState.COMPLETED and j.attempt == 1 for j in stored)
    assert sorted(j.result() for j in stored) == list(range(count))
    assert all(j.result() == j.args[1] for j in stored)

    runs: Counter[str] = Counter()
    pids_of: dict[str, set[int]] = {"A": set(), "B": set()}
    ran_by: dict[str, str] = {}
    for log in log_dir.iterdir():
        tag, _, pid = log.stem.partition("-")
        pids_of[tag].add(int(pid))
        for uuid in log.read_text().split():
            runs[uuid] += 1
            ran_by[uuid] = tag
    assert set(runs) == {j.uuid for j in stored}
    assert max(runs.values()) == 1, [u for u, n in runs.items() if n > 1][:5]
    assert not pids_of["A"] & pids_of["B"]
    for job in stored:
        assert location_pid(job.location) in pids_of[ran_by[job.uuid]]
    share = Counter(ran_by.values())
    _report(request, "share_A", share["A"])
    assert share["A"] > 0 and share["B"] > 0, share


@pytest.mark.timeout(120)
def test_cli_submit_jobs_show_cancel(store_url: str, make_engine: MakeEngine, procs: Procs) -> None:
    db = ["--db", store_url]
    procs.run_engine(store_url, workers=1)

    done = procs.cli("submit", "tests.integration.jobs:add", "2", "40", "--wait", *db)
    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr
    text = procs.cli("submit", "tests.integration.jobs:echo", "hello world", "--wait", *db)
    assert (text.returncode, text.stdout.strip()) == (0, "hello world"), text.stderr

    submitted = procs.cli("submit", "tests.integration.jobs:sleep_forever", "--key", "nap", *db)
    assert submitted.returncode == 0, submitted.stderr
    uuid = submitted.stdout.strip()
    client = make_engine(store_url, start=False)
    job = client.background.find(uuid)
    assert job is not None and job.key == "nap"
    wait_until(lambda: job.refresh().started, what="CLI job started")

    listing = procs.cli("jobs", "--state", "active", *db, env={"COLUMNS": "400"})
    assert listing.returncode == 0, listing.stderr
    assert uuid in listing.stdout
    assert "tests.integration.jobs:add" not in listing.stdout  # finished jobs are filtered out

    shown = procs.cli("show", uuid, *db)
    assert shown.returncode == 0, shown.stderr
    fields = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in shown.stdout.splitlines())
    )
    assert fields["uuid"] == uuid
    assert fields["method"] == "tests.integration.jobs:sleep_forever"
    assert fields["state"] == "ACTIVE"
    assert fields["key"] == "nap"

    canceled = procs.cli("cancel", uuid, *db)
    assert canceled.returncode == 0, canceled.stderr
    assert uuid in canceled.stdout
    assert job.wait(timeout=20)
    assert job.state is JobState.CANCELED
    waited = procs.cli("wait", uuid, *db)
    assert waited.returncode == 3, waited.stderr

    for args in (
        ["submit", "tests.integration.jobs:no_such_function", *db],
        ["submit", "tests.integration.jobs:add", "1", *db],
        ["show", "00000000-0000-0000-0000-000000000000", *db],
    ):
        mistake = procs.cli(*args)
        assert mistake.returncode != 0, args
        assert "Traceback" not in mistake.stderr
        assert len(mistake.stderr.strip().splitlines()) == 1, mistake.stderr
        assert mistake.stdout == ""
    assert {j.method for j in client.background.get()} == {
        "tests.integration.jobs:add",
        "tests.integration.jobs:echo",
        "tests.integration.jobs:sleep_forever",
    }


def test_cli_submit_refuses_a_method_outside_the_registrys_allowed_modules(
    sqlite_url: str, procs: Procs, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "jobs.yaml").write_text("allowed_modules: [examples]\n")
    refused = procs.cli(
        "submit",
        "tests.integration.jobs:add",
        "1",
        "2",
        "--db",
        sqlite_url,
        "--registry",
        str(registry),
    )
    assert refused.returncode == 1
    assert "not in allowed_modules" in refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = procs.cli(
        "submit", "examples.basics:add", "1", "2", "--db", sqlite_url, "--registry", str(registry)
    )
    assert allowed.returncode == 0, allowed.stderr
