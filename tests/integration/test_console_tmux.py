"""`jobengine console` in a real terminal (tmux) beside a running `jobengine run`: a submitted
job appears on the screen, and the contract's keys (2, space, c, y) cancel it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobengine import Engine, JobState
from tests.conftest import IN_CI
from tests.integration.support import REPO, Procs, subprocess_env, wait_until

pytestmark = pytest.mark.timeout(120)


class Terminal:
    """One tmux session on a server of its own (-L), so no user's tmux is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            env=env,
        )
        return done.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        line = f"cd {shlex.quote(str(REPO))} && exec {shlex.join(command)}"
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", "console", line, env=env)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "console", key)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console")

    def shows(self, text: str) -> str:
        return wait_until(lambda: text in self.screen() and self.screen(), what=f"{text!r} shown")

    def is_running(self) -> bool:
        """True while the session lives (it ends when the console exits)."""
        found = subprocess.run(
            ["tmux", "-L", self.socket, "has-session", "-t", "console"],
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("the terminal test needs tmux")
    term = Terminal(f"jobengine-test-{os.getpid()}")
    try:
        yield term
    finally:
        term.close()


def test_console_in_a_terminal_shows_a_submitted_job_and_cancels_it_with_c_y(
    procs: Procs, terminal: Terminal, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/jobs.db"
    procs.run_engine(db, workers=1)
    gate = tmp_path / "gate"  # never created: the job waits until it is canceled
    submitted = procs.cli("submit", "tests.integration.jobs:wait_for_file", str(gate), "--db", db)
    assert submitted.returncode == 0, submitted.stderr
    uuid = submitted.stdout.strip()
    env = subprocess_env(JOBENGINE_REGISTRY=str(procs.no_registry), TERM="xterm-256color")
    terminal.start([sys.executable, "-m", "jobengine", "console", "--db", db], env)
    terminal.shows("Scheduled jobs: 0")
    terminal.keys("2")
    screen = terminal.shows("tests.integration.jobs:wait_for_file")
    assert "ACTIVE" in screen
    terminal.keys("Space", "c")
    terminal.shows("Cancel 1 running job(s)?")
    terminal.keys("y")
    client = Engine(db)  # a client: it only reads
    try:
        job = client.background.find(uuid)
        assert job is not None
        assert job.wait(timeout=30)
        assert job.state is JobState.CANCELED
    finally:
        client.close()
    terminal.shows("CANCELED")  # the cell widens for the longer state
    terminal.keys("q")
    wait_until(lambda: not terminal.is_running(), what="the console to quit")
