"""The real `jobengine` process: listings parse as JSON, `status` sees a running engine, and
user mistakes (bad URL, unknown job, bad JSON, unreachable or locked store, missing or
unwritable folder) are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import Procs, wait_until

pytestmark = pytest.mark.timeout(60)
NO_SUCH_JOB = "00000000-0000-0000-0000-000000000000"


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("jobengine: "), done.stderr
    for word in words:
        assert word in done.stderr
    assert done.stdout == ""


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root writes anywhere but in /proc)."""
    if os.geteuid() == 0:
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["jobs", "--db", "mysql://me@host/db"], ["unknown scheme 'mysql'"]),
        (["show", NO_SUCH_JOB], ["no background job"]),
        (["wait", NO_SUCH_JOB], ["no background job"]),
        (["cancel", NO_SUCH_JOB], ["no background job"]),
        (["submit", "tests.integration.jobs:echo", "NaN"], ["args[0]", "not a finite number"]),
        (["run-now", "NoSuchJob"], ["NoSuchJob"]),
        (["jobs", "--db", "sqlite:///{tmp}/no/such/folder/jobs.db"], ["does not exist"]),
        (["status", "--db", "sqlite:///{unwritable}/jobs.db"], ["unable to open"]),
    ],
    ids=[
        "unknown-scheme",
        "show-unknown-job",
        "wait-unknown-job",
        "cancel-unknown-job",
        "json-nan",
        "unknown-scheduled-job",
        "missing-folder",
        "unwritable-folder",
    ],
)
def test_user_mistakes_are_one_line_and_exit_1(
    procs: Procs, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    names = {"tmp": str(tmp_path), "unwritable": str(unwritable_folder(tmp_path))}
    args = [a.format(**names) for a in args]
    db = [] if "--db" in args else ["--db", f"sqlite:///{tmp_path}/jobs.db"]
    assert_refused(procs.cli(*args, *db), *words)


def test_an_unreachable_postgresql_fails_fast(procs: Procs) -> None:
    started = time.monotonic()
    done = procs.cli("status", "--json", "--db", "postgresql://postgres@127.0.0.1:1/x")
    assert_refused(done, "connection failed")
    assert time.monotonic() - started < 10


@pytest.fixture
def locked_file(tmp_path: Path) -> Iterator[Path]:
    """An SQLite file another connection holds an exclusive lock on."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO other VALUES (1)")
    yield path
    holder.close()


@pytest.mark.timeout(90)
def test_a_locked_sqlite_file_is_one_line_after_the_busy_timeout(
    procs: Procs, locked_file: Path
) -> None:
    done = procs.cli("jobs", "--db", f"sqlite:///{locked_file}", timeout_s=80)
    assert_refused(done, "database is locked", "another process holds a lock")


def test_listings_parse_as_json_and_status_sees_the_engine(procs: Procs, tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/jobs.db"]
    run = procs.run_engine(db[1])
    waited = procs.cli("submit", "tests.integration.jobs:add", "2", "40", "--wait", *db)
    assert (waited.returncode, waited.stdout, waited.stderr) == (0, "42\n", "")
    [job] = json.loads(procs.cli("jobs", "--json", *db).stdout)["jobs"]
    assert (job["state"], job["method"]) == ("COMPLETED", "tests.integration.jobs:add")
    shown = json.loads(procs.cli("show", job["uuid"], "--json", *db).stdout)
    assert shown["result"] == 42
    status = json.loads(procs.cli("status", "--json", *db).stdout)
    [engine] = status["engines"]
    assert (engine["pid"], engine["alive"]) == (run.pid, True)
    assert status["counts"]["COMPLETED"] == 1 and status["waiting"] == {}
    piped = procs.cli("status", *db).stdout.splitlines()
    assert "scheduled jobs: not locked" in piped
    assert any(line.split("\t")[2] == str(run.pid) for line in piped if "\t" in line)


def test_completion_through_the_process_lists_commands(procs: Procs) -> None:
    env = {"_JOBENGINE_COMPLETE": "bash_complete", "COMP_WORDS": "jobengine st", "COMP_CWORD": "1"}
    done = procs.cli(env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["plain,status"]
    env = {**env, "COMP_WORDS": "jobengine enable --db postgresql://postgres@127.0.0.1:1/x "}
    env["COMP_CWORD"] = "4"
    done = procs.cli(env=env)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "", "")


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _fork_server_of(pid: int) -> int:
    """The pid of the fork server of `jobengine run` (process `pid`), once a job has run: its
    child with children of its own (the workers; the resource tracker has none)."""
    children = _children(pid)
    servers = [child for child in children if _children(child)]
    assert len(servers) == 1, f"not one fork server among the children {children} of {pid}"
    return servers[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_run_forks_its_helpers_and_removes_their_socket(
    procs: Procs, tmp_path: Path, stop: signal.Signals
) -> None:
    """`jobengine run` forks its fork server and resource tracker (no new interpreter starts,
    so the first worker comes sooner); they run jobs as before, and leave nothing behind when
    the engine stops or is killed."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    sockets = Path(tempfile.mkdtemp(dir="/tmp"))  # short: a socket's path has at most 107 bytes
    runner = procs.run_engine(url, workers=2, TMPDIR=str(sockets))
    done = procs.cli("submit", "tests.integration.jobs:add", "2", "40", "--wait", "--db", url)
    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr
    helpers = _children(runner.pid)
    assert len(helpers) == 2
    engine_cmdline = Path(f"/proc/{runner.pid}/cmdline").read_bytes()
    for helper in helpers:  # forks of the engine, not `python -c ...` interpreters
        assert Path(f"/proc/{helper}/cmdline").read_bytes() == engine_cmdline
    [server_socket] = sockets.glob("*/fork-server")
    assert server_socket.parent.stat().st_mode & 0o777 == 0o700
    os.kill(runner.pid, stop)
    assert runner.wait(30) == (0 if stop == signal.SIGTERM else -stop), runner.stderr
    wait_until(lambda: not any(Path(f"/proc/{h}").exists() for h in helpers), what="helpers")
    wait_until(lambda: not server_socket.exists(), what="the fork server's socket removed")
    assert not server_socket.parent.exists()
    shutil.rmtree(sockets)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_the_whole_process_group_stops_the_engine_in_order(
    procs: Procs, tmp_path: Path
) -> None:
    """`timeout`, a service manager or a closed terminal signal the engine's whole process
    group, the fork server included. The fork server outlives the signal (it exits with the
    engine), so no worker is reported dead and the engine stops in order. Workers keep the
    default SIGTERM and SIGHUP for their jobs."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    runner = procs.run_engine(url, workers=2)
    done = procs.cli("submit", "tests.integration.jobs:signal_dispositions", "--wait", "--db", url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"SIGTERM": "default", "SIGHUP": "default"}
    server = _fork_server_of(runner.pid)
    os.kill(server, signal.SIGTERM)  # what the group's signal does to it, before the engine
    done = procs.cli("submit", "tests.integration.jobs:add", "2", "40", "--wait", "--db", url)
    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr
    os.kill(server, 0)  # still there
    os.killpg(runner.pid, signal.SIGTERM)  # the session leader's group: engine and fork server
    assert runner.wait(30) == 0, runner.stderr
    assert "ERROR" not in runner.stderr and "exited with code" not in runner.stderr
    assert runner.stderr.strip().splitlines()[-1] == "jobengine: stopped"
