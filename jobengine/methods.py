"""Which methods may run: `module:function` paths to importable, top-level functions."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

from jobengine.errors import MethodError

MethodLike = str | Callable[..., Any]


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


def resolve(path: str, allowed_modules: Sequence[str] | None = None) -> Callable[..., Any]:
    """Import the function behind `path`, checking the allow-list first.

    Raises:
        MethodError: unknown module or function, not callable, or not allowed.
    """
    module_name, _, func_name = path.partition(":")
    if not module_name or not func_name:
        raise MethodError(f"method {path!r}: write it as 'package.module:function'")
    if allowed_modules is not None and not is_allowed(module_name, allowed_modules):
        raise MethodError(
            f"method {path!r}: module {module_name!r} is not in allowed_modules "
            f"({', '.join(allowed_modules) or 'none'})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MethodError(f"method {path!r}: cannot import module {module_name!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if func is None:
        raise MethodError(f"method {path!r}: module {module_name!r} has no {func_name!r}")
    if not callable(func):
        raise MethodError(f"method {path!r}: {func_name!r} is not callable")
    return func  # type: ignore[no-any-return]


def is_allowed(module_name: str, allowed_modules: Sequence[str]) -> bool:
    """True if `module_name` is one of `allowed_modules` or inside one of those packages."""
    return any(module_name == m or module_name.startswith(m + ".") for m in allowed_modules)


@functools.lru_cache(maxsize=1024)
def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None  # builtins without a signature: the worker will tell


def check_arguments(
    path: str, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> None:
    """Refuse a call whose arguments do not fit the function's signature (1C: count must match)."""
    signature = _signature(func)
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise MethodError(f"method {path!r}: arguments do not match {signature}: {exc}") from exc
