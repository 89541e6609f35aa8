"""The runnable examples run, as a user would start them (python -m, from any folder)."""

from __future__ import annotations

import subprocess
import sys
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
