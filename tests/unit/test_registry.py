"""The YAML registry: loading, and errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobengine.errors import RegistryError
from jobengine.registry import RestartPolicy, load

GOOD = """\
allowed_modules: [examples]
scheduled_jobs:
  PriceUpload:
    method: examples.prices:upload
    description: Upload prices
    key: prices
    use: true
    predefined: true
    restart_on_failure: {count: 3, interval: 600}
    schedule:
      days_repeat_period: 1
      begin_time: "05:00"
      end_time: "07:00"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_loads_jobs_with_their_schedule_and_flags(tmp_path: Path) -> None:
    write(tmp_path, "prices.yaml", GOOD)
    registry = load(str(tmp_path))
    meta = registry.jobs["PriceUpload"]
    assert registry.allowed_modules == ("examples",)
    assert (meta.method, meta.key, meta.use, meta.predefined) == (
        "examples.prices:upload",
        "prices",
        True,
        True,
    )
    assert meta.restart == RestartPolicy(3, 600)
    assert str(meta.schedule) == "Every day; from 5:00:00 to 7:00:00 once a day"
    assert meta.line == 3


def test_demo_registry_of_the_repository_loads() -> None:
    registry = load(str(Path(__file__).parents[2] / "schedules"))
    assert "Heartbeat" in registry.jobs


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (GOOD.replace("use: true", "use: yes please"), 7, "PriceUpload.use", "not true or false"),
        (
            GOOD.replace('begin_time: "05:00"', 'begin_time: "25:00"'),
            12,
            "PriceUpload.schedule.begin_time",
            "'25:00'",
        ),
        (
            GOOD.replace("    key: prices\n", "    colour: red\n"),
            6,
            "PriceUpload.colour",
            "unknown field",
        ),
        (
            GOOD.replace("examples.prices:upload", "examples.prices.upload"),
            4,
            "PriceUpload.method",
            "package.module:function",
        ),
        (
            GOOD.replace("allowed_modules: [examples]", "allowed_modules: [other]"),
            3,
            "PriceUpload.method",
            "not in allowed_modules",
        ),
        (GOOD + "  Broken: [\n", 15, "", "not valid YAML"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = write(tmp_path, "prices.yaml", text)
    with pytest.raises(RegistryError) as info:
        load(str(tmp_path))
    err = info.value
    assert (err.file, err.line) == (str(path), line)
    assert err.field == field
    assert words in str(err)
    assert f"{path}:{line}" in str(err)


def test_names_are_unique_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", GOOD.replace("allowed_modules: [examples]\n", ""))
    with pytest.raises(RegistryError, match="declared twice") as info:
        load(str(tmp_path))
    assert info.value.file == str(second)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no such registry"):
        load(str(tmp_path / "missing"))
