"""Reading one registry file: UTF-8 YAML composed into nodes, vetted, then each job's fields.

Kept apart from `registry` so that yaml is imported only when there are files to read.
"""

from __future__ import annotations

from typing import Any

import yaml

from jobengine.errors import JobEngineError, RegistryError, ScheduleError
from jobengine.methods import is_module_name
from jobengine.registry import JOB_FIELDS, TOP_FIELDS, JobMetadata, check_field

PYTHON_TAG = "tag:yaml.org,2002:python/"
_REQUIRED = (
    ("method", "a method ('package.module:function')"),
    ("schedule", "a schedule (see docs/schedules.md)"),
)


def load_file(file: str) -> tuple[list[str] | None, dict[str, JobMetadata]]:
    """The allowed modules (None: not set) and the scheduled jobs that `file` declares.

    Raises:
        RegistryError: naming the file, line and field of the first problem.
    """
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
        if not isinstance(allowed, list) or not all(is_module_name(m) for m in allowed):
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
            values[key] = check_field(key, _value(vnode, file))
        except ScheduleError as exc:
            spot, suffix = _schedule_spot(vnode, exc.field)
            raise RegistryError(
                str(exc), file=file, line=spot, field=f"{name}.{key}{suffix}"
            ) from exc
        except JobEngineError as exc:
            raise RegistryError(
                str(exc), file=file, line=vnode.start_mark.line + 1, field=f"{name}.{key}"
            ) from exc
    for needed, what in _REQUIRED:
        if needed not in values:
            raise RegistryError(
                f"a scheduled job needs {what}", file=file, line=line, field=f"{name}.{needed}"
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
