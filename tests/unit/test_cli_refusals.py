"""The command line refuses user mistakes with one line on stderr and a non-zero exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jobengine.cli import cli


@pytest.fixture(autouse=True)
def empty_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No allow-list from the repository's schedules/: an empty registry folder."""
    folder = tmp_path / "empty-registry"
    folder.mkdir()
    monkeypatch.setenv("JOBENGINE_REGISTRY", str(folder))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_one_line(result: Result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("jobengine: ")
    for word in words:
        assert word in result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["submit", ".mod:f"], 1, ["'.mod:f'", "relative"]),
        (["submit", "tests.integration.jobs:os.system", "true"], 1, ["no dots"]),
        (["submit", "os:system", "true"], 1, ["'os'", "standard library"]),
        (["submit", "tests.integration.jobs:add", "[" * 5000 + "]" * 5000], 2, ["too deep"]),
        (["submit", "tests.integration.jobs:add", "[" * 500 + "]" * 500, "1"], 1, ["deeper"]),
        (["submit", "tests.integration.jobs:add", "1", "2", "--wait", "--timeout", "nan"], 2,
         ["--timeout", "nan"]),
        (["wait", "some-uuid", "--timeout", "-1"], 2, ["--timeout"]),
        (["jobs", "--limit", "-1"], 2, ["--limit"]),
        (["jobs", "--state", "nope"], 2, ["--state"]),
        (["run", "--grace", "inf"], 2, ["--grace", "inf"]),
        (["run", "--grace", "nan"], 2, ["--grace", "nan"]),
        (["run", "--grace", "-1"], 2, ["--grace"]),
        (["run", "--keep-finished", "1e300"], 2, ["--keep-finished"]),
        (["show", "no-such-uuid"], 1, ["no background job"]),
    ],
)  # fmt: skip
def test_cli_refuses_with_one_line(db: str, args: list[str], code: int, words: list[str]) -> None:
    assert_one_line(invoke(*args, "--db", db), code, *words)


def test_run_with_a_registry_folder_that_does_not_exist_is_an_error(
    db: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope")
    assert_one_line(invoke("run", "--db", db, "--registry", missing), 1, missing, "no such")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("scheduled_jobs:\n  A: {method: 'm:f'}\n  A: {method: 'm:g'}\n", ["a.yaml:3", "twice"]),
        ("scheduled_jobs: !!python/object/apply:os.system [true]\n", ["a.yaml:1", "Python"]),
        ("scheduled_jobs:\n  A: {method: '.m:f'}\n", ["a.yaml:2", "relative"]),
    ],
)
def test_a_registry_that_fails_to_load_is_one_line(
    db: str, tmp_path: Path, text: str, words: list[str]
) -> None:
    (tmp_path / "a.yaml").write_text(text)
    for args in (
        ["run", "--db", db],
        ["submit", "tests.integration.jobs:add", "1", "2", "--db", db],
        ["schedule", "describe", "A"],
    ):
        assert_one_line(invoke(*args, "--registry", str(tmp_path)), 1, *words)


def test_a_registry_file_that_is_not_utf8_is_one_line(db: str, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"scheduled_jobs: {}\n# \xff\n")
    result = invoke("run", "--db", db, "--registry", str(tmp_path))
    assert_one_line(result, 1, "a.yaml:2", "not UTF-8")


def test_jobs_lists_the_newest_jobs_oldest_first(db: str) -> None:
    uuids = [
        invoke("submit", "tests.integration.jobs:add", str(i), "1", "--db", db).stdout.strip()
        for i in range(4)
    ]
    listed = invoke("jobs", "--limit", "2", "--db", db).stdout
    shown = [u for u in uuids if u in listed]
    assert shown == uuids[2:]
    assert listed.index(uuids[2]) < listed.index(uuids[3])
    everything = invoke("jobs", "--limit", "0", "--db", db).stdout
    assert [u for u in uuids if u in everything] == uuids


def test_schedule_next_at_the_end_of_time_is_one_line() -> None:
    schedules = str(Path(__file__).resolve().parents[2] / "schedules")
    result = invoke(
        "schedule", "next", "Heartbeat", "--after", "9999-12-31T23:59", "--registry", schedules
    )
    assert_one_line(result, 1, "no run can be computed")
