"""Listings of the command line (click's runner on a real SQLite store): `--json` documents,
tab-separated text when piped, `status`, the progress bar of `wait` and shell completion."""

from __future__ import annotations

import io
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner, Result
from rich.console import Console

from jobengine import Engine
from jobengine.cli import cli, waiting
from jobengine.clock import to_ms
from jobengine.state import JobState
from tests.integration.conftest import MakeEngine
from tests.integration.support import registry_folder, wait_until

pytestmark = pytest.mark.timeout(60)
ADD = "tests.integration.jobs:add"
JOB_KEYS = {
    "uuid", "method", "description", "key", "queue", "priority", "state", "begin", "started",
    "end", "attempt", "retry_at", "location", "scheduled_job", "parent", "cancel_requested",
    "progress", "error",
}  # fmt: skip
REGISTRY = """\
scheduled_jobs:
  Heartbeat:
    method: tests.integration.jobs:noop
    description: Beats every minute
    predefined: true
    schedule: {repeat_period_in_day: 60, timezone: UTC}
  Cleanup:
    method: tests.integration.jobs:noop
    predefined: true
    schedule: {days_repeat_period: 1, begin_time: "03:00", timezone: UTC}
"""


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = registry_folder(tmp_path, REGISTRY)
    monkeypatch.setenv("JOBENGINE_REGISTRY", str(folder))
    return folder


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", url])


def document(url: str, *args: str) -> Any:
    result = invoke(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def is_iso(text: str) -> bool:
    return datetime.fromisoformat(text).tzinfo is not None


def test_jobs_json_has_stable_keys_and_iso_dates(sqlite_url: str, make_engine: MakeEngine) -> None:
    client = make_engine(sqlite_url, start=False)
    first = client.background.execute(ADD, [1, 2], key="k", description="first")
    second = client.background.execute(ADD, [3, 4], queue="reports")
    listed = document(sqlite_url, "jobs")["jobs"]
    assert [j["uuid"] for j in listed] == [first.uuid, second.uuid]
    assert all(set(j) == JOB_KEYS for j in listed)
    assert listed[0]["key"] == "k" and listed[0]["state"] == "ACTIVE"
    assert listed[0]["end"] is None and is_iso(listed[0]["begin"])
    assert document(sqlite_url, "jobs", "--queue", "reports")["jobs"][0]["uuid"] == second.uuid
    assert document(sqlite_url, "jobs", "--state", "completed")["jobs"] == []


def test_jobs_piped_are_tab_separated_under_a_header(
    sqlite_url: str, make_engine: MakeEngine
) -> None:
    client = make_engine(sqlite_url, start=False)
    job = client.background.execute(ADD, [1, 2], description="two\nlines")
    lines = invoke(sqlite_url, "jobs").stdout.splitlines()
    assert lines[0].split("\t")[:5] == ["uuid", "method", "key", "queue", "state"]
    fields = lines[1].split("\t")
    assert fields[:5] == [job.uuid, ADD, "-", "default", "ACTIVE"]
    assert len(fields) == len(lines[0].split("\t"))


def test_show_json_has_args_result_messages_and_traceback(
    sqlite_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    done = engine.background.execute(ADD, [2, 40])
    failed = engine.background.execute("tests.integration.jobs:fail", ["boom"])
    assert engine.background.wait([done, failed], timeout=30)
    shown = document(sqlite_url, "show", done.uuid)
    assert set(shown) == JOB_KEYS | {"args", "kwargs", "result", "messages"}
    assert (shown["args"], shown["result"], shown["state"]) == ([2, 40], 42, "COMPLETED")
    assert is_iso(shown["end"]) and shown["location"]
    error = document(sqlite_url, "show", failed.uuid)["error"]
    assert error["message"] == "boom" and "Traceback" in error["traceback"]


def test_status_shows_engines_queue_depth_counts_and_lock(
    sqlite_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    running = engine.background.execute("tests.integration.jobs:sleep_forever")
    waiting_job = engine.background.execute(ADD, [1, 2], queue="nobody-serves-it")
    client = make_engine(sqlite_url, start=False)
    client.scheduled.lock()
    wait_until(lambda: running.refresh().started, what="the sleeping job to start")
    status = document(sqlite_url, "status")
    assert set(status) == {"at", "locked", "counts", "active", "failed", "waiting", "engines"}
    assert status["waiting"] == {"nobody-serves-it": 1}
    assert (status["active"], status["failed"]) == (2, 0)
    assert status["locked"]["by"] and is_iso(status["locked"]["at"])
    [listed] = status["engines"]
    assert (listed["id"], listed["pid"], listed["busy"]) == (engine.engine_id, os.getpid(), 1)
    assert (listed["workers"], listed["idle"], listed["queues"]) == (1, 0, None)
    assert listed["alive"] is True and 0 <= listed["heartbeat_age_s"] < 15
    text = invoke(sqlite_url, "status").stdout
    assert "LOCKED" in text and "nobody-serves-it 1" in text and engine.engine_id in text
    engine.background.cancel(running.uuid)
    assert waiting_job.state is JobState.ACTIVE


def test_status_without_engines_says_so(sqlite_url: str) -> None:
    assert document(sqlite_url, "status")["engines"] == []
    assert "none registered" in invoke(sqlite_url, "status").stdout


def test_schedule_next_json_lists_runs(registry: Path) -> None:
    args = ["schedule", "next", "Cleanup", "--count", "2", "--after", "2026-03-01T02:00+00:00"]
    text = CliRunner().invoke(cli, args).stdout
    shown = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert (shown["name"], shown["schedule"]) == ("Cleanup", text and shown["schedule"])
    starts = [r["start"] for r in shown["runs"]]
    assert starts == ["2026-03-01T03:00:00.000+00:00", "2026-03-02T03:00:00.000+00:00"]
    assert text.splitlines() == [datetime.fromisoformat(s).isoformat(sep=" ") for s in starts]


def test_wait_draws_the_progress_bar_on_a_terminal_stderr(
    sqlite_url: str, make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url, workers=1)
    go = tmp_path / "go"
    job = engine.background.execute("tests.integration.jobs:progress_until_file", [str(go)])
    screen = io.StringIO()
    monkeypatch.setattr(waiting, "err", Console(file=screen, force_terminal=True, width=200))
    client = make_engine(sqlite_url, start=False)

    def release_at_30() -> None:
        wait_until(lambda: "30%" in screen.getvalue(), what="the bar at 30%")
        go.write_text("")

    releaser = threading.Thread(target=release_at_30)
    releaser.start()
    code = waiting.report(client.background.find(job.uuid), 30.0)
    releaser.join()
    assert code == 0
    drawn = screen.getvalue()
    assert "waiting for the file" in drawn and "100%" in drawn


def test_wait_piped_draws_nothing(sqlite_url: str, make_engine: MakeEngine) -> None:
    engine = make_engine(sqlite_url, workers=1)
    job = engine.background.execute(ADD, [2, 40])
    result = invoke(sqlite_url, "wait", job.uuid)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "42\n", "")


def complete(args: str, incomplete: str) -> list[str]:
    words = args.split()
    found = ShellComplete(cli, {}, "jobengine", "_JOBENGINE_COMPLETE").get_completions(
        words, incomplete
    )
    return [item.value for item in found]


def test_completion_of_commands_states_and_names(
    sqlite_url: str, registry: Path, make_engine: MakeEngine
) -> None:
    make_engine(sqlite_url, start=False, registry=str(registry))
    assert complete("", "sch") == ["schedule", "scheduled"]
    assert "status" in complete("", "st")
    assert complete("jobs --state", "") == ["ACTIVE", "COMPLETED", "FAILED", "CANCELED"]
    assert complete(f"enable --db {sqlite_url}", "") == ["Cleanup", "Heartbeat"]
    assert complete(f"run-now --db {sqlite_url}", "He") == ["Heartbeat"]
    assert complete(f"log --db {sqlite_url} --job", "C") == ["Cleanup"]
    assert complete(f"schedule next --registry {registry}", "") == ["Cleanup", "Heartbeat"]


def test_completion_of_names_is_silent_without_a_store(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path}/none.db"
    assert complete(f"enable --db {missing}", "") == []
    assert not (tmp_path / "none.db").exists()
    assert complete("enable --db postgresql://postgres@127.0.0.1:1/x", "") == []
    assert complete("enable --db nosuch://x", "") == []
    assert complete("schedule describe --registry /no/such/folder", "") == []
    assert capfd.readouterr().err == ""


def test_engine_status_reads_a_stale_engine(sqlite_url: str, make_engine: MakeEngine) -> None:
    client: Engine = make_engine(sqlite_url, start=False)
    client.store.engines.register("e-1", "elsewhere", 1, to_ms(client.clock.now()) - 60_000)
    [entry] = client.status.read().engines
    assert (entry.host, entry.busy, entry.is_alive) == ("elsewhere", 0, False)
    assert entry.heartbeat_age_s >= 60
