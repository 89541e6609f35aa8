"""`jobengine scheduled|enable|disable|pause|resume|run-now|lock|unlock|log|backfill|drain`
against a real SQLite file; runs and events come from a FakeClock engine's scheduler passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jobengine import Engine
from jobengine.cli import cli
from jobengine.cli.common import fmt
from jobengine.testing import FakeClock
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, registry_folder

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 1, 1, tzinfo=UTC)
REGISTRY = """\
allowed_modules: [tests.integration]
scheduled_jobs:
  Minutely:
    method: tests.integration.jobs:noop
    description: Every minute
    predefined: true
    use: true
    schedule: {days_repeat_period: 1, repeat_period_in_day: 60, timezone: UTC}
  Nap:
    method: tests.integration.jobs:nap
    predefined: true
    use: false
    schedule: {days_repeat_period: 1, begin_time: "09:00", timezone: UTC}
  Adder:
    method: tests.integration.jobs:add
    predefined: false
    use: true
    params: [2, 40]
    schedule: {days_repeat_period: 1, begin_time: "09:00", timezone: UTC}
  Failing:
    method: tests.integration.jobs:fail
    predefined: false
    params: [boom]
    schedule: {days_repeat_period: 1, timezone: UTC}
"""


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = registry_folder(tmp_path, REGISTRY)
    monkeypatch.setenv("JOBENGINE_REGISTRY", str(folder))
    return folder


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(make_engine: MakeEngine, url: str, registry: Path, clock: FakeClock) -> Engine:
    """A FakeClock engine with no workers running: the runs its scheduler starts stay ACTIVE."""
    return make_engine(url, start=False, registry=str(registry), clock=clock)


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", url])


def ok(url: str, *args: str) -> Result:
    result = invoke(url, *args)
    assert result.exit_code == 0, result.output
    return result


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("jobengine: ")
    for word in words:
        assert word in result.stderr, result.stderr


def listing(url: str) -> dict[str, dict[str, object]]:
    doc = json.loads(ok(url, "scheduled", "--json").stdout)
    return {row["name"]: row for row in doc["scheduled_jobs"]}


def test_scheduled_lists_jobs_runs_and_the_lock(fake: Engine, url: str, clock: FakeClock) -> None:
    assert len(fake.scheduler.run_due()) == 1
    clock.advance(61)
    assert fake.scheduler.run_due() == []  # the run is still active: skipped
    fake.scheduled.lock()
    by, at = fake.scheduled.lock_info or ("", START)
    lines = ok(url, "scheduled").stdout.splitlines()
    assert lines[0] == f"scheduled jobs: LOCKED by {by} at {fmt(at)}"
    assert lines[1].split("\t") == [
        "name",
        "uuid",
        "use",
        "schedule",
        "next run",
        "last start",
        "last state",
        "paused",
    ]
    row, nap = [line.split("\t") for line in lines[2:]]  # the predefined jobs: Minutely, Nap
    assert nap[:3] == ["Nap", fake.scheduled.named("Nap").uuid, "no"]
    assert row[:4] == [
        "Minutely",
        fake.scheduled.named("Minutely").uuid,
        "yes",
        "Every day; every 60 seconds",
    ]
    assert row[5:] == [fmt(START), "ACTIVE", "-"]


def test_scheduled_json_has_stable_keys_and_iso_dates(
    fake: Engine, url: str, clock: FakeClock
) -> None:
    (run,) = fake.scheduler.run_due()
    fake.scheduled.lock()
    doc = json.loads(ok(url, "scheduled", "--json").stdout)
    assert set(doc) == {"locked", "scheduled_jobs"}
    assert doc["locked"]["by"] and datetime.fromisoformat(doc["locked"]["at"]).tzinfo
    rows = {row["name"]: row for row in doc["scheduled_jobs"]}
    assert set(rows) == {"Minutely", "Nap"}
    minutely = rows["Minutely"]
    assert list(minutely) == [
        "uuid",
        "name",
        "description",
        "predefined",
        "use",
        "schedule",
        "next_run",
        "overdue",
        "last_start",
        "last_state",
        "last_job",
        "paused",
        "paused_until",
        "pause_reason",
    ]
    assert minutely["last_job"] == run.uuid and minutely["last_state"] == "ACTIVE"
    assert datetime.fromisoformat(minutely["last_start"]) == START
    assert datetime.fromisoformat(minutely["next_run"]) > START  # due again (now, real time)
    assert minutely["overdue"] is True  # due since START + 1 minute: no scheduler started it
    nap = rows["Nap"]
    assert (nap["use"], nap["next_run"], nap["last_start"], nap["last_state"]) == (
        False,
        None,
        None,
        None,
    )
    assert nap["overdue"] is False  # disabled: never due
    fake.scheduled.unlock()
    assert json.loads(ok(url, "scheduled", "--json").stdout)["locked"] is None


def test_enable_and_disable_set_use_and_log_it(fake: Engine, url: str) -> None:
    assert "Nap (" in ok(url, "enable", "Nap").stdout
    assert fake.scheduled.named("Nap").use is True
    assert listing(url)["Nap"]["next_run"] is not None
    uuid = fake.scheduled.named("Minutely").uuid
    assert ": disabled" in ok(url, "disable", uuid).stdout  # by uuid too
    assert fake.scheduled.named("Minutely").use is False
    (event,) = fake.log.get(event="scheduled.changed", scheduled_job=uuid)
    assert event.message.startswith("use changed by ")


def test_pause_for_until_and_resume(fake: Engine, url: str, clock: FakeClock) -> None:
    assert (
        "paused until"
        in ok(url, "pause", "Minutely", "--for", "3600", "--reason", "upgrade").stdout
    )
    row = listing(url)["Minutely"]
    assert row["paused"] is True and row["pause_reason"] == "upgrade"
    until = datetime.fromisoformat(str(row["paused_until"]))
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    ok(url, "pause", "Minutely", "--until", "2999-01-01T00:00:00+00:00")
    assert listing(url)["Minutely"]["paused_until"] == "2999-01-01T00:00:00.000+00:00"
    ok(url, "pause", "Minutely")  # until resumed
    text = ok(url, "scheduled").stdout
    assert "until resumed" in text
    # the scheduler (at its own clock) does not start a paused job
    assert fake.scheduler.run_due() == []
    assert ": resumed" in ok(url, "resume", "Minutely").stdout
    row = listing(url)["Minutely"]
    assert (row["paused"], row["paused_until"], row["pause_reason"]) == (False, None, "")
    # resumed at real time, later than the fake clock: due once that time comes
    clock.set(datetime.now(UTC) + timedelta(minutes=2))
    assert len(fake.scheduler.run_due()) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["enable", "Nope"], ["no scheduled job named 'Nope'"]),
        (["pause", "Nope"], ["no scheduled job named 'Nope'"]),
        (["run-now", "00000000-0000-4000-8000-000000000000"], ["no scheduled job named"]),
        (["log", "--job", "Nope"], ["no scheduled job named 'Nope'"]),
        (["backfill", "Nope", "--from", "2026-01-01", "--to", "2026-01-02"], ["'Nope'"]),
        (["pause", "Minutely", "--until", "tomorrow"], ["--until 'tomorrow'", "ISO"]),
        (["log", "--since", "2026-13-01"], ["--since '2026-13-01'"]),
        (["backfill", "Minutely", "--from", "x", "--to", "2026-01-02"], ["--from 'x'"]),
        (["pause", "Minutely", "--until", "2999-01-01", "--for", "5"], ["not both"]),
        (["pause", "Minutely", "--until", "2001-01-01"], ["not in the future"]),
        (["backfill", "Minutely", "--from", "2026-01-02", "--to", "2026-01-01"], ["before"]),
    ],
    ids=[
        "enable-unknown",
        "pause-unknown",
        "run-now-unknown-uuid",
        "log-unknown",
        "backfill-unknown",
        "pause-bad-date",
        "log-bad-date",
        "backfill-bad-date",
        "until-and-for",
        "pause-in-the-past",
        "backfill-backwards",
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    fake: Engine, url: str, args: list[str], words: list[str]
) -> None:
    refused(invoke(url, *args), *words)


def test_two_jobs_of_one_name_need_the_uuid(fake: Engine, url: str) -> None:
    first, second = fake.scheduled.create("Adder").save(), fake.scheduled.create("Adder").save()
    refused(invoke(url, "disable", "Adder"), "2 scheduled jobs are named 'Adder'", first.uuid)
    ok(url, "disable", second.uuid)
    assert [j.use for j in (first.refresh(), second.refresh())] == [True, False]


def test_lock_and_unlock_say_who_and_when(fake: Engine, url: str) -> None:
    assert ok(url, "lock").stdout.startswith("scheduled jobs: LOCKED by ")
    assert fake.scheduled.locked
    assert fake.scheduler.run_due() == []  # the lock holds the scheduler back
    assert ok(url, "unlock").stdout.startswith("scheduled jobs: unlocked (locked by ")
    assert not fake.scheduled.locked
    assert ok(url, "unlock").stdout == "scheduled jobs: not locked\n"
    assert len(fake.scheduler.run_due()) == 1
    assert {e.event for e in fake.log.get()} >= {"lock.on", "lock.off", "job.started"}


def test_log_filters(fake: Engine, url: str, clock: FakeClock) -> None:
    (run,) = fake.scheduler.run_due()
    clock.advance(30)
    fake.scheduled.lock()
    clock.advance(30)
    fake.scheduled.unlock()
    minutely = fake.scheduled.named("Minutely").uuid

    def events(*args: str) -> list[dict[str, str]]:
        doc = json.loads(ok(url, "log", "--json", *args).stdout)
        assert set(doc) == {"events"}
        return list(doc["events"])

    everything = events()
    assert [e["event"] for e in everything] == [
        "registry.synced",
        "job.started",
        "lock.on",
        "lock.off",
    ]  # oldest first
    assert set(everything[1]) == {
        "time",
        "level",
        "event",
        "scheduled_job",
        "name",
        "job",
        "message",
        "host",
    }
    assert everything[1]["name"] == "Minutely" and everything[1]["job"] == run.uuid
    assert datetime.fromisoformat(everything[1]["time"]) == START
    assert [e["event"] for e in events("--level", "warning")] == ["lock.on"]
    assert [e["event"] for e in events("--event", "lock.off")] == ["lock.off"]
    assert [e["event"] for e in events("--job", "Minutely")] == ["job.started"]
    assert [e["event"] for e in events("--job", minutely)] == ["job.started"]
    assert [e["job"] for e in events("--job", run.uuid)] == [run.uuid]  # a run's uuid
    window = ["--since", "2026-01-01T00:00:10+00:00", "--until", "2026-01-01T00:00:45+00:00"]
    assert [e["event"] for e in events(*window)] == ["lock.on"]
    assert [e["event"] for e in events("--limit", "2")] == ["lock.on", "lock.off"]  # newest 2
    text = ok(url, "log", "--level", "warning").stdout.splitlines()
    assert text[0].split("\t") == ["time", "level", "event", "scheduled job", "job", "message"]
    assert text[1].split("\t")[1:3] == ["warning", "lock.on"]


def test_run_now_without_waiting_and_refused_while_active(fake: Engine, url: str) -> None:
    (scheduled,) = fake.scheduler.run_due()
    refused(invoke(url, "run-now", "Minutely"))  # a run of it is active
    adder = fake.scheduled.create("Adder").save()
    uuid = ok(url, "run-now", "Adder").stdout.strip()
    run = fake.background.find(uuid)
    assert run is not None and run.scheduled_job == adder.uuid and run.args == [2, 40]
    assert adder.refresh().last_job == run and adder.last_begin is None  # the schedule's own
    assert listing(url)["Adder"]["last_job"] == uuid
    assert fake.background.get(scheduled_job=scheduled.scheduled_job) == [scheduled]


def test_backfill_dry_run_lists_the_occurrences(fake: Engine, url: str) -> None:
    result = ok(
        url,
        "backfill",
        "Minutely",
        "--from",
        "2026-01-01T00:00:00+00:00",
        "--to",
        "2026-01-01T00:03:00+00:00",
        "--dry-run",
    )
    instants = [datetime.fromisoformat(line) for line in result.stdout.splitlines()]
    assert instants == [START + timedelta(minutes=m) for m in range(4)]
    assert "4 occurrences of Minutely; none started" in result.stderr
    assert fake.background.get() == []
    # without --dry-run it needs an engine that runs them
    refused(
        invoke(url, "backfill", "Minutely", "--from", "2026-01-01", "--to", "2026-01-01T00:01"),
        "no engine is running",
    )


def test_drain_with_nothing_running_just_locks(fake: Engine, url: str) -> None:
    result = ok(url, "drain", "--timeout", "0")
    assert "no scheduled runs were running" in result.stdout
    assert fake.scheduled.locked


def test_drain_cancels_runs_left_after_the_timeout(fake: Engine, url: str) -> None:
    (run,) = fake.scheduler.run_due()  # nobody runs it: it stays ACTIVE
    other = fake.background.execute("tests.integration.jobs:noop")  # not a scheduled run
    result = invoke(url, "drain", "--timeout", "0")
    assert result.exit_code == 4, result.output
    assert f"{run.uuid} (Minutely): running" in result.stderr
    assert f"{run.uuid} (Minutely): canceled" in result.stderr
    assert "drained: 0 finished by themselves, 1 canceled" in result.stdout
    assert run.refresh().cancel_requested or run.is_finished
    assert not other.refresh().cancel_requested
    assert fake.scheduled.locked


def test_real_engine_runs_run_now_backfill_and_drain(
    make_engine: MakeEngine, url: str, registry: Path
) -> None:
    engine = make_engine(url, start=False, registry=str(registry))
    engine.scheduled.lock()  # no scheduled starts: only what the commands start
    engine.start()
    adder = engine.scheduled.create("Adder").save()
    failing = engine.scheduled.create("Failing").save()
    assert ok(url, "run-now", adder.uuid, "--wait", "--timeout", "30").stdout == "42\n"
    result = invoke(url, "run-now", failing.uuid, "--wait", "--timeout", "30")
    assert result.exit_code == 2 and "FAILED" in result.stderr and "boom" in result.stderr
    result = ok(
        url,
        "backfill",
        adder.uuid,
        "--from",
        "2026-01-01T00:00:00+00:00",
        "--to",
        "2026-01-03T12:00:00+00:00",
    )
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [state for _, state in lines] == ["COMPLETED"] * 3  # 09:00 on the 1st, 2nd and 3rd
    runs = [engine.background.find(uuid) for uuid, _ in lines]
    assert all(r is not None and r.description.startswith("Backfill 2026-01-0") for r in runs)
    nap = engine.scheduled.named("Nap").run_now()
    result = ok(url, "drain", "--timeout", "30")
    assert f"{nap.uuid} (Nap): COMPLETED" in result.stderr
    assert "drained: 1 finished by themselves, 0 canceled" in result.stdout
    assert nap.refresh().result() == "rested"


def test_process_lists_json_and_refuses_unknown_job(
    procs: Procs, fake: Engine, url: str, registry: Path
) -> None:
    (run,) = fake.scheduler.run_due()
    done = procs.cli("scheduled", "--json", "--db", url, env={"JOBENGINE_REGISTRY": str(registry)})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["locked"] is None
    assert [r["last_job"] for r in doc["scheduled_jobs"]] == [run.uuid, None]
    done = procs.cli("pause", "Nope", "--db", url)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr == "jobengine: no scheduled job named 'Nope'\n"
    done = procs.cli("log", "--json", "--since", "yesterday", "--db", url)
    assert done.returncode == 1 and done.stderr.startswith("jobengine: --since 'yesterday'")
