"""The method policy: one resolver, no dotted walk, and a default that refuses libraries."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobengine import Engine
from jobengine.errors import MethodError
from jobengine.methods import DEFAULT_POLICY, describe_allowed, method_refusal, resolve
from tests.integration import jobs


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("tests.integration.jobs:os.system", "no dots"),
        ("tests.integration.jobs:subprocess.run", "no dots"),
        (".jobs:add", "relative"),
        ("..jobs:add", "relative"),
        ("tests..jobs:add", "not a dotted module name"),
        ("tests.integration.jobs:", "package.module:function"),
        (":add", "package.module:function"),
        ("tests.integration.jobs", "package.module:function"),
        ("tests.integration.jobs:class", "not a function name"),
        ("tests.integration jobs:add", "not a dotted module name"),
    ],
)
def test_method_paths_that_are_not_module_colon_name_are_refused(path: str, words: str) -> None:
    reason = method_refusal(path, None)
    assert reason is not None and words in reason and repr(path) in reason
    with pytest.raises(MethodError, match=words):
        resolve(path)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("os:system", "the standard library"),
        ("posix:system", "the standard library"),
        ("builtins:eval", "the standard library"),
        ("subprocess:run", "the standard library"),
        ("json:loads", "the standard library"),
        ("yaml:load", "an installed package"),
        ("peewee:SqliteDatabase", "an installed package"),
        ("jobengine.cli:main", "jobengine itself"),
    ],
)
def test_without_allow_list_libraries_are_refused(path: str, kind: str) -> None:
    reason = method_refusal(path, None)
    assert reason is not None and kind in reason and "allowed_modules" in reason
    with pytest.raises(MethodError, match=kind):
        resolve(path)


@pytest.mark.parametrize(
    "path",
    [
        "tests.integration.jobs:add",
        "examples.basics:heartbeat",
        "examples.parallel_sum:sum_range",
        "bench.tasks:noop",
    ],
)
def test_without_allow_list_the_projects_own_modules_run(path: str) -> None:
    assert method_refusal(path, None) is None


def test_project_job_module_resolves_to_its_function() -> None:
    assert resolve("tests.integration.jobs:add") is jobs.add


def test_a_library_function_the_project_imports_is_refused() -> None:
    # tests.integration.jobs does `from jobengine.runtime import current_job`.
    with pytest.raises(MethodError, match=r"defined in 'jobengine\.runtime'"):
        resolve("tests.integration.jobs:current_job")
    with pytest.raises(MethodError, match=r"defined in 'jobengine\.runtime'"):
        resolve("tests.integration.jobs:current_job", ["tests"])


def test_allow_list_is_checked_on_the_exact_module_before_import() -> None:
    assert method_refusal("examples.basics:add", ["examples"]) is None
    refused = method_refusal("tests.integration.jobs:add", ["examples"])
    assert refused is not None and "not in allowed_modules (examples)" in refused
    assert method_refusal("examples_evil:f", ["examples"]) is not None
    with pytest.raises(MethodError, match="not in allowed_modules"):
        resolve("never_imported_module_xyz:f", ["examples"])
    assert "never_imported_module_xyz" not in sys.modules


def test_a_library_named_in_the_allow_list_runs_with_what_it_exports() -> None:
    import os

    assert method_refusal("os:getcwd", ["os"]) is None
    assert resolve("os:getcwd", ["os"]) is os.getcwd


def test_import_failure_is_a_method_error_chaining_the_import_error() -> None:
    with pytest.raises(MethodError, match="cannot import module 'no_such_module_abc'") as info:
        resolve("no_such_module_abc:f")
    assert isinstance(info.value.__cause__, ImportError)


@pytest.fixture
def fake_module() -> Iterator[str]:
    """A module that lives only in sys.modules (no spec): of unknown origin."""
    name = "jobengine_test_phantom"
    module = types.ModuleType(name)
    module.f = lambda: 1  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        yield name
    finally:
        del sys.modules[name]


def test_a_module_of_unknown_origin_is_refused(fake_module: str) -> None:
    reason = method_refusal(f"{fake_module}:f", None)
    assert reason is not None and "unknown place" in reason


def test_a_module_that_is_not_found_is_left_to_the_import_and_not_remembered() -> None:
    assert method_refusal("no_such_module_def:f", None) is None
    from jobengine import methods

    assert ("no_such_module_def:f", None) not in methods._refusals


def test_verdicts_are_cached_per_path() -> None:
    from jobengine import methods

    assert method_refusal("os:system", None) is not None
    assert methods._refusals[("os:system", None)] is not None
    assert method_refusal("os:system", ("os",)) is None


def test_describe_allowed_says_what_runs() -> None:
    assert describe_allowed(None) == DEFAULT_POLICY
    assert "not the standard library or installed packages" in DEFAULT_POLICY
    assert describe_allowed(["examples", "tests"]) == "examples, tests"
    assert describe_allowed([]) == "none"


@pytest.mark.parametrize("allowed", ["examples", [""], [".examples"], ["a..b"], [5], 5])
def test_an_engine_refuses_an_allow_list_that_is_not_module_names(
    allowed: Any, tmp_path: Path
) -> None:
    with pytest.raises(MethodError, match="allowed_modules"):
        Engine(f"sqlite:///{tmp_path}/jobs.db", allowed_modules=allowed)


def test_an_engines_allow_list_adds_the_registrys(tmp_path: Path) -> None:
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / "a.yaml").write_text("allowed_modules: [examples]\n")
    engine = Engine(
        f"sqlite:///{tmp_path}/jobs.db", registry=str(tmp_path / "reg"), allowed_modules=("tests",)
    )
    try:
        assert engine.allowed_modules == ["tests", "examples"]
    finally:
        engine.close()
