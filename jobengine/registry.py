"""The metadata registry: scheduled jobs declared in YAML files, loaded and validated.

Errors name the file, the line and the field. Loading is pure apart from reading the files;
syncing predefined jobs into the store belongs to the scheduled-jobs manager.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from jobengine.errors import JobEngineError, MethodError, RegistryError, ScheduleError
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
PYTHON_TAG = "tag:yaml.org,2002:python/"


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
    for file in files:
        file_allowed, file_jobs = _load_file(file)
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


def _load_file(file: str) -> tuple[list[str] | None, dict[str, JobMetadata]]:
    root = _compose(file)
    if root is None:
        return None, {}
    top = _mapping(root, file, "")
    for key, (knode, _) in top.items():
        if key not in TOP_FIELDS:
            raise RegistryError(
                f"unknown top-level key (known: {', '.join(sorted(TOP_FIELDS))})",
                file=file,
                line=knode.start_mark.line + 1,
                field=key,
            )
    allowed = None
    if "allowed_modules" in top:
        node = top["allowed_modules"][1]
        allowed = _value(node, file)
        if not isinstance(allowed, list) or not all(_is_module_name(m) for m in allowed):
            raise RegistryError(
                "must be a list of module names",
                file=file,
                line=node.start_mark.line + 1,
                field="allowed_modules",
            )
    jobs: dict[str, JobMetadata] = {}
    if "scheduled_jobs" in top:
        for name, (knode, vnode) in _mapping(
            top["scheduled_jobs"][1], file, "scheduled_jobs"
        ).items():
            jobs[name] = _job(name, vnode, file, knode.start_mark.line + 1)
    return allowed, jobs


def _compose(file: str) -> yaml.Node | None:
    """Read `file` as UTF-8 YAML into nodes (nothing constructed yet) and vet every node.

    Raises:
        RegistryError: unreadable, not UTF-8, not YAML, a Python tag or a key given twice.
    """
    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise RegistryError(f"cannot read the file: {exc.strerror or exc}", file=file) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegistryError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=file, line=line
        ) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file) from exc
    if root is not None:
        _vet(root, file)
    return root


def _yaml_error(exc: yaml.YAMLError, file: str) -> RegistryError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    return RegistryError(
        f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=file, line=line
    )


def _vet(root: yaml.Node, file: str) -> None:
    """Refuse Python tags anywhere and mapping keys given twice, naming file and line."""
    seen: set[int] = set()  # aliases share nodes: look at each once
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        line = node.start_mark.line + 1
        if node.tag.startswith(PYTHON_TAG):
            raise RegistryError(f"Python tags are not allowed ({node.tag})", file=file, line=line)
        if isinstance(node, yaml.MappingNode):
            _unique_keys(node, file)
            todo.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)


def _unique_keys(node: yaml.MappingNode, file: str) -> None:
    first: dict[tuple[str, str], int] = {}
    for knode, _ in node.value:
        line = knode.start_mark.line + 1
        if not isinstance(knode, yaml.ScalarNode):
            raise RegistryError("a key must be a plain name", file=file, line=line)
        key = (knode.tag, knode.value)
        if key in first:
            raise RegistryError(
                f"key {knode.value!r} is given twice (first on line {first[key]})",
                file=file,
                line=line,
                field=knode.value,
            )
        first[key] = line


def _is_module_name(value: Any) -> bool:
    return isinstance(value, str) and all(p.isidentifier() for p in value.split("."))


def _mapping(node: yaml.Node, file: str, where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise RegistryError(
            "must be a mapping", file=file, line=node.start_mark.line + 1, field=where
        )
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for knode, vnode in node.value:
        out[str(knode.value)] = (knode, vnode)
    return out


def _value(node: yaml.Node, file: str) -> Any:
    """Construct the plain value of `node` (safe types only)."""
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file) from exc


def _job(name: str, node: yaml.Node, file: str, line: int) -> JobMetadata:
    fields_ = _mapping(node, file, name)
    values: dict[str, Any] = {}
    for key, (knode, vnode) in fields_.items():
        at = knode.start_mark.line + 1
        if key not in JOB_FIELDS:
            raise RegistryError(
                f"unknown field (known: {', '.join(sorted(JOB_FIELDS))})",
                file=file,
                line=at,
                field=f"{name}.{key}",
            )
        try:
            values[key] = _field(key, _value(vnode, file))
        except ScheduleError as exc:
            spot, suffix = _schedule_spot(vnode, exc.field)
            raise RegistryError(
                str(exc), file=file, line=spot, field=f"{name}.{key}{suffix}"
            ) from exc
        except JobEngineError as exc:
            raise RegistryError(
                str(exc), file=file, line=vnode.start_mark.line + 1, field=f"{name}.{key}"
            ) from exc
    if "method" not in values:
        raise RegistryError(
            "a scheduled job needs a method ('package.module:function')",
            file=file,
            line=line,
            field=f"{name}.method",
        )
    if "schedule" not in values:
        raise RegistryError(
            "a scheduled job needs a schedule (see docs/schedules.md)",
            file=file,
            line=line,
            field=f"{name}.schedule",
        )
    if values.get("predefined") and values.get("params"):
        raise RegistryError(
            "predefined jobs take no params", file=file, line=line, field=f"{name}.params"
        )
    return JobMetadata(
        name=name,
        file=file,
        line=line,
        **{("restart" if k == "restart_on_failure" else k): v for k, v in values.items()},
    )


def _schedule_spot(node: yaml.Node, field: str) -> tuple[int, str]:
    """The line and dotted suffix of a bad schedule field, or the schedule's own line."""
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            if knode.value == field:
                return vnode.start_mark.line + 1, f".{field}"
    return node.start_mark.line + 1, ""


def _field(key: str, value: Any) -> Any:
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
