"""Registry files the loader refuses, naming the file and the line: not UTF-8, Python tags,
keys given twice, bad method paths and allow-lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobengine import Engine
from jobengine.errors import RegistryError
from jobengine.registry import load

JOB = """\
scheduled_jobs:
  Tick:
    method: examples.basics:heartbeat
    schedule: {days_repeat_period: 1}
"""


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(JOB.encode() + b"# caf\xe9\n")
    with pytest.raises(RegistryError, match="not UTF-8") as info:
        load(str(tmp_path))
    assert info.value.file.endswith("bad.yaml")
    assert info.value.line == 5


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (JOB.replace("examples.basics:heartbeat", "!!python/name:os.system"), 3),
        (JOB + "    params: !!python/object/apply:os.system [echo hi]\n", 5),
        ("scheduled_jobs: !!python/object:collections.OrderedDict {}\n", 1),
        ("!!python/object/new:dict {}\n", 1),
    ],
)
def test_python_tags_are_refused(tmp_path: Path, text: str, line: int) -> None:
    (tmp_path / "tags.yaml").write_text(text)
    with pytest.raises(RegistryError, match="Python tags are not allowed") as info:
        load(str(tmp_path))
    assert (Path(info.value.file).name, info.value.line) == ("tags.yaml", line)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (JOB + "  Tick:\n    method: examples.basics:add\n", 5, "Tick"),
        (
            JOB.replace("    schedule:", "    method: examples.basics:add\n    schedule:"),
            4,
            "method",
        ),
        (JOB + "scheduled_jobs: {}\n", 5, "scheduled_jobs"),
        (
            JOB.replace(
                "{days_repeat_period: 1}", "{days_repeat_period: 1, days_repeat_period: 2}"
            ),
            4,
            "days_repeat_period",
        ),
    ],
)
def test_a_key_given_twice_in_one_file_is_refused(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    (tmp_path / "dup.yaml").write_text(text)
    with pytest.raises(RegistryError, match=f"key '{key}' is given twice") as info:
        load(str(tmp_path))
    assert (Path(info.value.file).name, info.value.line) == ("dup.yaml", line)


@pytest.mark.parametrize(
    ("method", "words"),
    [
        (".basics:heartbeat", "relative"),
        ("examples.basics:os.system", "no dots"),
        ("examples..basics:f", "dotted module name"),
        ("examples.basics", "package.module:function"),
        ("[1, 2]", "package.module:function"),
    ],
)
def test_a_bad_method_path_is_refused_with_its_line(
    tmp_path: Path, method: str, words: str
) -> None:
    (tmp_path / "m.yaml").write_text(JOB.replace("examples.basics:heartbeat", method))
    with pytest.raises(RegistryError, match=words) as info:
        load(str(tmp_path))
    assert (info.value.line, info.value.field) == (3, "Tick.method")


@pytest.mark.parametrize("allowed", ['[""]', "[.examples]", "[1]", "examples", "[examples.class]"])
def test_allowed_modules_must_be_module_names(tmp_path: Path, allowed: str) -> None:
    (tmp_path / "a.yaml").write_text(f"allowed_modules: {allowed}\n" + JOB)
    with pytest.raises(RegistryError, match="list of module names") as info:
        load(str(tmp_path))
    assert info.value.field == "allowed_modules"


def test_a_key_that_is_not_a_plain_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("scheduled_jobs:\n  ? [a, b]\n  : {}\n")
    with pytest.raises(RegistryError, match="plain name"):
        load(str(tmp_path))


def test_an_unreadable_registry_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(RegistryError, match="cannot read"):
        load(str(tmp_path))


def test_an_engine_on_a_missing_registry_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no such registry folder"):
        Engine(f"sqlite:///{tmp_path}/jobs.db", registry=str(tmp_path / "nope"))


def test_a_job_without_a_schedule_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(JOB.replace("    schedule: {days_repeat_period: 1}\n", ""))
    with pytest.raises(RegistryError, match="needs a schedule") as info:
        load(str(tmp_path))
    assert (info.value.line, info.value.field) == (2, "Tick.schedule")
