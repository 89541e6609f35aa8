"""The runnable examples run, as a user would start them (python -m, from any folder)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.support import subprocess_env

pytestmark = pytest.mark.timeout(120)


def run_example(module: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_parallel_sum_adds_what_its_children_computed(tmp_path: Path) -> None:
    assert run_example("examples.parallel_sum", tmp_path) == [
        "499999500000 ['launched 4 children']"
    ]


def test_serial_per_key_runs_each_key_in_arrival_order(tmp_path: Path) -> None:
    lines = run_example("examples.serial_per_key", tmp_path)
    by_key: dict[str, list[str]] = {}
    for line in lines:
        key, _started, *rest = line.split()
        by_key.setdefault(key, []).append(" ".join(rest))
    assert by_key == {
        "emails": [f"emails #{n} (attempt 1)" for n in range(3)],
        "invoices": [f"invoices #{n} (attempt 1)" for n in range(3)],
    }


def test_prices_fails_once_and_the_scheduler_restarts_it(tmp_path: Path) -> None:
    lines = run_example("examples.prices", tmp_path)
    assert lines[0].startswith("PriceUpload: Every day; from ")
    assert lines[0].endswith("once a day; restarts 3")
    assert lines[1].startswith("attempt 1: FAILED (examples.prices.PriceServiceUnavailable: ")
    assert lines[2] == "attempt 2: COMPLETED (3 prices uploaded)"
    assert lines[3].startswith("files: ['prices-") and lines[3].endswith(".json']")
    assert lines[4] == "event log:"
    events = [line.split()[2] for line in lines[5:]]
    assert events == ["job.started", "job.failed", "job.restart", "job.completed"]
    assert "restart 1 of 3 after a failure" in lines[7]


def test_parallel_report_is_started_by_the_scheduler_and_adds_its_children(
    tmp_path: Path,
) -> None:
    lines = run_example("examples.parallel_report", tmp_path)
    assert lines[0] == "SalesReport: Every day; every 3600 seconds"
    totals = {"north": 4799968, "south": 4799998, "east": 4800029, "west": 4800063}
    assert lines[1] == f"result: {dict(totals, all=sum(totals.values()))}"
    assert lines[2:6] == [
        f"  child sales of {region}: COMPLETED {totals[region]}" for region in sorted(totals)
    ]
    assert lines[6:] == ["occurrence: started"]


def test_month_report_lists_last_fridays_and_runs_once_by_hand(tmp_path: Path) -> None:
    lines = run_example("examples.month_report", tmp_path)
    assert lines[0] == (
        "MonthReport: Every day; on Friday; in the last week of the month; from 18:00:00 once a day"
    )
    runs = [datetime.strptime(line.split(maxsplit=1)[1], "%Y-%m-%d %H:%M") for line in lines[1:13]]
    months = {(d.year, d.month) for d in runs}
    assert len(months) == 12
    for day in runs:
        assert day.weekday() == 4 and (day.hour, day.minute) == (18, 0)
        assert (day + timedelta(days=7)).month != day.month  # the month's last Friday
    assert lines[13].startswith("Manual start: Month-end report: {'month': ")
    assert lines[14] == "schedule's last start unchanged: None"
    assert len(lines) == 15


def test_robin_robots_lose_nothing_when_one_is_killed_mid_item(tmp_path: Path) -> None:
    lines = run_example("examples.robin", tmp_path)
    assert lines[0] == "put 8 invoices in queue 'invoices'"
    stuck = lines[1].split("#")[1].split(":")[0]
    assert lines[1] == f"robot B is stuck on invoice #{stuck}: in_progress, write-locked by robot B"
    assert lines[2] == "killed robot B's worker (kill -9): robot B FAILED"
    assert lines[3] == f"invoice #{stuck} is new again, unlocked"
    assert lines[4] == f"robot A processed 7 invoices, #{stuck} among them"
    assert f"invoice #{stuck}: processed by robot A" in lines
    assert lines[-1] == "nothing lost: 8 of 8 processed, each once"


def test_bpium_runs_one_scenarios_runs_in_order_and_retries_failures_up_to_5_times(
    tmp_path: Path,
) -> None:
    lines = run_example("examples.bpium", tmp_path)
    runs = [line for line in lines if " run " in line and not line.startswith(" ")]
    assert runs == [
        "sync-invoices run 0: COMPLETED after 1 starts",
        "sync-invoices run 1: COMPLETED after 3 starts",
        "sync-invoices run 2: COMPLETED after 1 starts",
        "sync-invoices run 3: COMPLETED after 1 starts",
        "import-leads run 0: COMPLETED after 1 starts",
        "import-leads run 1: COMPLETED after 1 starts",
        "import-leads run 2: FAILED after 6 starts",
        "import-leads run 3: COMPLETED after 1 starts",
    ]
    attempts = [line.strip() for line in lines if line.startswith("  ")]
    error = "(examples.bpium.ApiOverloaded: API answered 429 Too Many Requests)"
    assert attempts == [
        f"attempt 1: FAILED {error}",
        f"attempt 2: FAILED {error}",
        "attempt 3: COMPLETED",
        *[f"attempt {n}: FAILED {error}" for n in range(1, 7)],
    ]
    assert "sync-invoices: runs one after another: True" in lines
    assert "import-leads: runs one after another: True" in lines
    assert lines[-1] == "the two scenarios ran in parallel: True"


def test_instantcms_cron_runner_runs_20_email_jobs_then_the_rest(tmp_path: Path) -> None:
    lines = run_example("examples.instantcms", tmp_path)
    assert lines[0].startswith("queued: 4 password resets (priority 5), 20 newsletters")
    assert lines[1] == (
        "cron run 1: exit 5, ran 20 jobs in this order: 4 password reset, 16 newsletter"
    )
    assert lines[2] == "cron run 2: exit 0, ran 5 jobs in this order: 4 newsletter, 1 daily digest"
    assert lines[3] == "digest: COMPLETED, daily digest sent to editor@example.com (attempt 1)"
    assert lines[4] == "thumbnail: ACTIVE, not started (its queue has no runner)"


def test_directum_fetches_at_most_1000_per_run_and_handles_documents_in_parallel(
    tmp_path: Path,
) -> None:
    lines = run_example("examples.directum", tmp_path)
    assert lines[0] == "posted 2500 messages of 200 documents"
    fetched = [int(line.split()[3]) for line in lines[1:4]]
    assert fetched == [1000, 1000, 500]
    assert all(line.startswith(f"run {n}: fetched ") for n, line in enumerate(lines[1:4], 1))
    assert lines[4].startswith("handled 2500 messages: 0 twice, 0 documents out of order, up to ")
    assert int(lines[4].split()[-4]) >= 2  # documents handled side by side
    timing = re.compile(
        r"(\d) workers?: 16 documents \(80 messages\) in ([\d.]+) s, up to (\d+) at once, "
        r"0 out of order"
    )
    one, four = timing.fullmatch(lines[5]), timing.fullmatch(lines[6])
    assert one is not None and four is not None, lines[5:]
    assert (one[1], one[3]) == ("1", "1")
    assert four[1] == "4" and int(four[3]) >= 2  # more workers, more documents at once
    assert float(four[2]) < float(one[2])
    assert len(lines) == 7
