"""The metadata registry: scheduled jobs declared in YAML files, loaded and validated.

Errors name the file, the line and the field; `registry_yaml` reads each file. Loading is pure
apart from reading the files; syncing predefined jobs into the store belongs to the
scheduled-jobs manager.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Any

from jobengine.errors import JobEngineError, MethodError, RegistryError
from jobengine.methods import is_allowed, split_path
from jobengine.schedule import Schedule

JOB_FIELDS = {
    "method",
    "description",
    "key",
    "use",
    "predefined",
    "restart_on_failure",
    "schedule",
    "params",
}
TOP_FIELDS = {"allowed_modules", "scheduled_jobs"}


@dataclass(frozen=True)
class RestartPolicy:
    """1C RestartCountOnFailure / RestartIntervalOnFailure (designer default: 3, 10 s)."""

    count: int = 3
    interval: int = 10


@dataclass(frozen=True)
class JobMetadata:
    """One scheduled job as the registry declares it."""

    name: str
    method: str
    schedule: Schedule
    description: str = ""
    key: str = ""
    use: bool = False
    predefined: bool = False
    restart: RestartPolicy = RestartPolicy()
    params: tuple[Any, ...] = ()
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Registry:
    """All scheduled-job metadata of a folder, and the modules allowed to run."""

    jobs: dict[str, JobMetadata] = field(default_factory=dict)
    allowed_modules: tuple[str, ...] | None = None


def load(path: str) -> Registry:
    """Load every *.yaml / *.yml file of `path` (a folder or one file).

    Raises:
        RegistryError: naming the file, line and field of the first problem.
    """
    if os.path.isdir(path):
        files = sorted(
            glob.glob(os.path.join(path, "*.yaml")) + glob.glob(os.path.join(path, "*.yml"))
        )
    elif os.path.isfile(path):
        files = [path]
    else:
        raise RegistryError("no such registry folder or file", file=path)
    jobs: dict[str, JobMetadata] = {}
    allowed: list[str] | None = None
    if files:
        # Here, not at the top: yaml takes some 10 ms to import, which an engine whose folder
        # holds no file (or a client with no registry) need not wait for.
        from jobengine.registry_yaml import load_file
    for file in files:
        file_allowed, file_jobs = load_file(file)
        if file_allowed is not None:
            allowed = (allowed or []) + file_allowed
        for name, meta in file_jobs.items():
            if name in jobs:
                raise RegistryError(
                    f"scheduled job {name!r} is declared twice (first in {jobs[name].file}:"
                    f"{jobs[name].line})",
                    file=file,
                    line=meta.line,
                    field=name,
                )
            jobs[name] = meta
    registry = Registry(jobs, tuple(allowed) if allowed is not None else None)
    _check_allowed(registry)
    return registry


def check_field(key: str, value: Any) -> Any:
    """The value of a job's field `key` as the registry keeps it.

    Raises:
        JobEngineError: naming what is wrong with `value` (the caller adds file and line).
    """
    if key == "method":
        try:
            split_path(value)
        except MethodError as exc:
            raise JobEngineError(str(exc).removeprefix("method ")) from exc
        return value
    if key in ("description", "key"):
        if not isinstance(value, str):
            raise JobEngineError(f"{value!r} is not a string")
        return value
    if key in ("use", "predefined"):
        if not isinstance(value, bool):
            raise JobEngineError(f"{value!r} is not true or false")
        return value
    if key == "schedule":
        return Schedule.from_dict(value or {})
    if key == "params":
        if not isinstance(value, list):
            raise JobEngineError(f"{value!r} is not a list")
        return tuple(value)
    return _restart(value)


def _restart(value: Any) -> RestartPolicy:
    if not isinstance(value, dict) or set(value) - {"count", "interval"}:
        raise JobEngineError(f"{value!r}: write {{count: N, interval: SECONDS}}")
    count, interval = value.get("count", 3), value.get("interval", 10)
    for what, v in (("count", count), ("interval", interval)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise JobEngineError(f"{what} {v!r} is not a whole number >= 0")
    return RestartPolicy(count, interval)


def _check_allowed(registry: Registry) -> None:
    if registry.allowed_modules is None:
        return
    for meta in registry.jobs.values():
        module = meta.method.partition(":")[0]
        if not is_allowed(module, registry.allowed_modules):
            raise RegistryError(
                f"method {meta.method!r} is not in allowed_modules "
                f"({', '.join(registry.allowed_modules)})",
                file=meta.file,
                line=meta.line,
                field=f"{meta.name}.method",
            )
