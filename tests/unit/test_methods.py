"""Which methods may run: importable, module-level, allowed, with fitting arguments."""

from __future__ import annotations

import pytest

from jobengine.errors import JobEngineError, MethodError
from jobengine.methods import check_arguments, is_allowed, method_path, resolve
from tests.integration import jobs


def test_function_becomes_its_import_path() -> None:
    assert method_path(jobs.add) == "tests.integration.jobs:add"
    assert method_path("pkg.mod:fn") == "pkg.mod:fn"


def test_lambdas_closures_and_nested_functions_are_refused() -> None:
    def inner() -> None:
        pass

    for bad in (lambda: None, inner):
        with pytest.raises(MethodError, match="define it at module level"):
            method_path(bad)
    with pytest.raises(MethodError, match="module-level function"):
        method_path(print)


def test_string_without_colon_is_refused() -> None:
    with pytest.raises(MethodError, match=r"package\.module:function"):
        method_path("tests.integration.jobs.add")


def test_resolve_names_what_is_missing() -> None:
    assert resolve("tests.integration.jobs:add") is jobs.add
    with pytest.raises(MethodError, match="cannot import module 'no_such_module'"):
        resolve("no_such_module:f")
    with pytest.raises(MethodError, match="has no 'nope'"):
        resolve("tests.integration.jobs:nope")


def test_allowed_modules_cover_packages_and_submodules_only() -> None:
    assert is_allowed("examples", ["examples"])
    assert is_allowed("examples.basics", ["examples"])
    assert not is_allowed("examples_evil", ["examples"])
    with pytest.raises(MethodError, match="not in allowed_modules"):
        resolve("tests.integration.jobs:add", ["examples"])


def test_argument_count_must_fit_the_signature() -> None:
    check_arguments("tests.integration.jobs:add", jobs.add, [1, 2], {})
    with pytest.raises(MethodError, match="arguments do not match"):
        check_arguments("tests.integration.jobs:add", jobs.add, [1], {})
    with pytest.raises(JobEngineError):
        check_arguments("tests.integration.jobs:add", jobs.add, [1, 2], {"c": 3})
