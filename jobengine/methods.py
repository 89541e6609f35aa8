"""Which methods may run: `module:function` paths to importable, top-level functions.

`resolve` is the one resolver for clients and workers; `method_refusal` is the same policy
without importing anything, for the dispatcher's check of every claimed job.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import keyword
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from typing import Any

from jobengine.errors import MethodError

MethodLike = str | Callable[..., Any]

DEFAULT_POLICY = "your project's modules; not the standard library or installed packages"
# Without an allow-list the engine's own package is treated like any installed library.
_LIBRARY_NAMES = frozenset({"jobengine"})
_INSTALLED_DIRS = ("site-packages", "dist-packages")
_CACHE_MAX = 4096  # paths remembered by method_refusal; a flood of odd paths only clears it


def method_path(method: MethodLike) -> str:
    """Turn a function or a `module:function` string into the stored path.

    Raises:
        MethodError: for lambdas, closures, bound methods and other things no worker can import.
    """
    if isinstance(method, str):
        if ":" not in method:
            raise MethodError(f"method {method!r}: write it as 'package.module:function'")
        return method
    name = getattr(method, "__qualname__", None)
    module = getattr(method, "__module__", None)
    if not inspect.isfunction(method) or name is None or module is None:
        raise MethodError(f"method {method!r}: give a module-level function or 'module:function'")
    if name == "<lambda>" or "<locals>" in name or "." in name:
        raise MethodError(
            f"method {module}.{name}: lambdas, closures and nested functions cannot run in a "
            "worker process; define it at module level"
        )
    if module == "__main__":
        # Run as `python -m pkg.mod`, __main__ is importable under its real name.
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is None or not spec.name or spec.name.endswith("__main__"):
            raise MethodError(
                f"method {name} is defined in the script being run; move it to an importable "
                "module (or run the script with python -m)"
            )
        module = spec.name
    return f"{module}:{name}"


def split_path(path: object) -> tuple[str, str]:
    """Split `module:function` into its parts, refusing anything else.

    The module is an absolute dotted name and the function one plain identifier: no relative
    imports and no walk through attributes, so the module checked is the module imported.

    Raises:
        MethodError: naming the path and what is wrong with it.
    """
    if not isinstance(path, str):
        raise MethodError(f"method {path!r}: a method is a 'package.module:function' string")
    module, sep, func = path.partition(":")
    if not sep or not module or not func:
        raise MethodError(f"method {path!r}: write it as 'package.module:function'")
    if module.startswith("."):
        raise MethodError(f"method {path!r}: relative module names are not allowed")
    if not is_module_name(module):
        raise MethodError(f"method {path!r}: {module!r} is not a dotted module name")
    if not _is_name(func):
        raise MethodError(
            f"method {path!r}: {func!r} is not a function name (one identifier, no dots)"
        )
    return module, func


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def is_module_name(value: object) -> bool:
    """Whether `value` is a dotted module name: identifiers that are not keywords."""
    return isinstance(value, str) and all(_is_name(part) for part in value.split("."))


def is_allowed(module_name: str, allowed_modules: Sequence[str]) -> bool:
    """True if `module_name` is one of `allowed_modules` or inside one of those packages."""
    return any(module_name == m or module_name.startswith(m + ".") for m in allowed_modules)


def check_allowed_modules(value: object) -> list[str] | None:
    """An allow-list as given to the Engine: None, or a list of dotted module names.

    Raises:
        MethodError: a single string (not a list) or an entry that is not a module name.
    """
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise MethodError(f"allowed_modules={value!r}: give a list of module names")
    for name in value:
        if not is_module_name(name):
            raise MethodError(f"allowed_modules: {name!r} is not a dotted module name")
    return list(value)


def describe_allowed(allowed_modules: Sequence[str] | None) -> str:
    """Which modules may run, in words (what `jobengine run` prints at start)."""
    if allowed_modules is None:
        return DEFAULT_POLICY
    return ", ".join(allowed_modules) or "none"


def module_refusal(module: str, allowed_modules: Sequence[str] | None) -> str | None:
    """Why functions of `module` may not run, or None; imports nothing.

    With an allow-list only its modules (and their submodules) run. Without one, modules of the
    standard library and of installed packages are refused, the project's own modules run.
    A module that cannot be found is not refused here: importing it fails later, clearly.
    """
    if allowed_modules is not None:
        if is_allowed(module, allowed_modules):
            return None
        return f"module {module!r} is not in allowed_modules ({describe_allowed(allowed_modules)})"
    kind = _origin_kind(_top(module))
    if kind in (None, "project"):
        return None
    return (
        f"module {module!r} is part of {kind}; without allowed_modules only your project's "
        "modules run (name it in allowed_modules to allow it)"
    )


def method_refusal(path: str, allowed_modules: Sequence[str] | None) -> str | None:
    """Why the method at `path` may not run, or None; imports nothing.

    The dispatcher calls it for every claimed job, so verdicts are cached per path: a repeated
    path costs one dict lookup. A module that cannot be found yet is not refused (its import
    fails in the worker) and that verdict is not cached.
    """
    key = (path, None if allowed_modules is None else tuple(allowed_modules))
    try:
        return _refusals[key]
    except (KeyError, TypeError):  # TypeError: a path that is not a string
        pass
    try:
        module, _ = split_path(path)
    except MethodError as exc:
        return str(exc)
    reason = module_refusal(module, allowed_modules)
    if reason is None and allowed_modules is None and _origin_kind(_top(module)) is None:
        return None
    if len(_refusals) >= _CACHE_MAX:
        _refusals.clear()
    _refusals[key] = reason = f"method {path!r}: {reason}" if reason is not None else None
    return reason


_refusals: dict[tuple[str, tuple[str, ...] | None], str | None] = {}


def resolve(path: str, allowed_modules: Sequence[str] | None = None) -> Callable[..., Any]:
    """Import the function behind `path`, checking the policy on the module before importing it.

    A function of the project's own modules must also be defined in a module the policy allows,
    so an allowed module that does `from os import system` does not make `allowed:system` run.

    Raises:
        MethodError: bad path, refused module, import failure (chained as `__cause__`), missing
            or not callable function.
    """
    reason = method_refusal(path, allowed_modules)
    if reason is not None:
        raise MethodError(reason)
    module_name, func_name = split_path(path)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raised while importing
        raise MethodError(f"method {path!r}: cannot import module {module_name!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if func is None:
        raise MethodError(f"method {path!r}: module {module_name!r} has no {func_name!r}")
    if not callable(func):
        raise MethodError(f"method {path!r}: {func_name!r} is not callable")
    home = getattr(func, "__module__", None)
    if not isinstance(home, str):
        home = type(func).__module__
    # Checked again after the import: a module found only now is judged like any other.
    why = module_refusal(module_name, allowed_modules)
    if why is None and home != module_name and _checks_home(module_name, allowed_modules):
        why = module_refusal(home, allowed_modules)
        why = why and f"{func_name!r} is defined in {home!r}: {why}"
    if why is not None:
        raise MethodError(f"method {path!r}: {why}")
    return func  # type: ignore[no-any-return]


def _checks_home(module: str, allowed_modules: Sequence[str] | None) -> bool:
    """Whether a function found in `module` must also be defined in an allowed module.

    Always for the project's own modules (what they import is not theirs to offer); a library
    module named in allowed_modules is trusted with what it exports (`os:getcwd` lives in posix).
    """
    return allowed_modules is None or _origin_kind(_top(module)) in (None, "project")


def _top(module: str) -> str:
    return module.partition(".")[0]


def _origin_kind(top: str) -> str | None:
    """Where the top-level package `top` comes from, found without executing it.

    Returns:
        "the standard library", "an installed package", "project" (anything else: the working
        directory, a checkout, an editable install's source tree), or None when not found
        (not remembered: the module may appear later).
    """
    kind = _origins.get(top)
    if kind is None:
        kind = _find_origin(top)
        if kind is not None:
            _origins[top] = kind
    return kind


_origins: dict[str, str] = {}


def _find_origin(top: str) -> str | None:
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return "the standard library"
    if top in _LIBRARY_NAMES:
        return "jobengine itself"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # ValueError: in sys.modules without a __spec__
        return "an unknown place" if top in sys.modules else None
    if spec is None:
        return None
    places = list(spec.submodule_search_locations or [])
    if spec.origin and spec.has_location:
        places.append(spec.origin)
    if not places:
        return "the standard library"  # built-in or frozen
    kinds = {_place_kind(os.path.realpath(p)) for p in places}
    for kind in ("an installed package", "the standard library"):
        if kind in kinds:
            return kind
    return "project"


def _place_kind(path: str) -> str:
    parts = path.split(os.sep)
    if any(d in parts for d in _INSTALLED_DIRS):
        return "an installed package"
    if any(path == d or path.startswith(d + os.sep) for d in _stdlib_dirs()):
        return "the standard library"
    return "project"


@functools.cache
def _stdlib_dirs() -> tuple[str, ...]:
    dirs = {os.path.dirname(inspect.__file__)}
    for base in ({}, {"installed_base": sys.base_prefix, "installed_platbase": sys.base_prefix}):
        for name in ("stdlib", "platstdlib"):
            dirs.add(sysconfig.get_path(name, vars=base))
    return tuple(os.path.realpath(d) for d in dirs if d)


@functools.lru_cache(maxsize=1024)
def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None  # builtins without a signature: the worker will tell


@functools.lru_cache(maxsize=1024)
def positional_range(func: Callable[..., Any]) -> tuple[int, float] | None:
    """How many positional arguments alone fit `func` (least, most), when that is all a call
    needs checking: plain parameters, maybe *args, no keyword-only parameter without a default.
    None when only a full bind can tell."""
    signature = _signature(func)
    if signature is None:
        return None
    least, most = 0, 0.0
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            most += 1
            least += param.default is param.empty
        elif param.kind is param.VAR_POSITIONAL:
            most = float("inf")
        elif param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            return None
    return least, most


def check_arguments(
    path: str, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> None:
    """Refuse a call whose arguments do not fit the function's signature (1C: count must match)."""
    if not kwargs:
        # The common call, checked without building a BoundArguments (a tenth of the cost).
        fits = positional_range(func)
        if fits is not None and fits[0] <= len(args) <= fits[1]:
            return
    signature = _signature(func)
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise MethodError(f"method {path!r}: arguments do not match {signature}: {exc}") from exc
