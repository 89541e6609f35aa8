"""The real `jobengine` process refuses user mistakes with one stderr line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.support import Procs, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["submit", ".jobs:add", "1", "2"], 1, "relative"),
        (["submit", "tests.integration.jobs:add", "[" * 5000 + "]" * 5000, "1"], 2, "too deep"),
        (["run", "--grace", "nan"], 2, "--grace"),
        (["run", "--registry", "/no/such/registry"], 1, "no such registry"),
    ],
    ids=["relative-method", "deep-json", "grace-nan", "missing-registry"],
)
def test_cli_process_refuses_with_one_line(
    procs: Procs, tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    done = procs.cli(*args, "--db", f"sqlite:///{tmp_path}/jobs.db")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("jobengine: ") and words in done.stderr


def test_run_says_which_modules_jobs_may_run(procs: Procs, tmp_path: Path) -> None:
    proc = procs.run_engine(f"sqlite:///{tmp_path}/jobs.db")
    wait_until(lambda: "jobs may run methods of" in proc.stderr, what="the allow-list line")
    assert (
        "jobs may run methods of: your project's modules; not the standard library or "
        "installed packages" in proc.stderr
    )
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "a.yaml").write_text("allowed_modules: [examples, tests.integration]\n")
    other = procs.jobengine(
        "run", "--db", f"sqlite:///{tmp_path}/other.db", "--registry", str(registry), name="run2"
    )
    wait_until(
        lambda: "jobs may run methods of: examples, tests.integration" in other.stderr,
        what="the registry's allow-list line",
    )
