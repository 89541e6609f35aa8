"""Programs that start an engine without `if __name__ == "__main__":`, or from stdin or `-c`:
workers never run the main program again, so each of these runs its job and exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import subprocess_env

PROGRAM = """\
from jobengine import Engine

with Engine({url!r}, workers=2, grace=1.0) as engine:
    job = engine.background.execute("tests.integration.jobs:add", args=[2, 40])
    print("result", job.result(timeout=30))
    print("examples", engine.background.execute("examples.basics:add", args=[1, 2]).result(
        timeout=30))
"""
EXPECTED = "result 42\nexamples 3\n"


def run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def program(tmp_path: Path) -> str:
    return PROGRAM.format(url=f"sqlite:///{tmp_path / 'jobs.db'}")


@pytest.mark.timeout(90)
def test_a_script_without_the_main_guard_runs_its_job_and_exits(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(program(tmp_path))
    done = run([str(script)], tmp_path)
    assert (done.returncode, done.stdout) == (0, EXPECTED), done.stderr


@pytest.mark.timeout(90)
def test_a_program_fed_on_stdin_runs_its_job_and_exits(tmp_path: Path) -> None:
    done = run(["-"], tmp_path, stdin=program(tmp_path))
    assert (done.returncode, done.stdout) == (0, EXPECTED), done.stderr


@pytest.mark.timeout(90)
def test_a_program_given_with_dash_c_runs_its_job_and_exits(tmp_path: Path) -> None:
    done = run(["-c", program(tmp_path)], tmp_path)
    assert (done.returncode, done.stdout) == (0, EXPECTED), done.stderr
