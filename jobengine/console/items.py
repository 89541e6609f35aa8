"""The resource-queue screen's data and actions, through `engine.resources` only: item rows, an
item's detail (value, params, tags, its locks and their holders), and what `e`, `u` and `d` do
to one item. The console acts as a person, whom no lock stops. No Textual here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobengine.console.data import PAGE, Detail, Row, blank, fmt, visible
from jobengine.console.jobfields import FieldError
from jobengine.console.query import Query
from jobengine.errors import JobEngineError
from jobengine.resources import ResourceItem, ResourceLock, ResourceStatus

if TYPE_CHECKING:
    from jobengine.engine import Engine

ITEM_COLUMNS = (
    "sel",
    "queue",
    "id",
    "status",
    "tags",
    "priority",
    "value",
    "read lock",
    "write lock",
    "changed",
)
STATUSES = tuple(s.value for s in ResourceStatus)
VALUE_WIDTH = 40  # characters of the value a row shows
HOLDER_LOOKUPS = 20  # holding jobs a refresh names (a read each); more show their uuid
MAX_TAG = 30  # the resource queues' limit on a tag's length
EDIT_FIELDS = ("status", "priority", "tags")


class EditError(FieldError):
    """A field of the item editor that is not a value of its kind."""


@dataclass(frozen=True)
class Edit:
    """What the item editor changes; None leaves a field as it is."""

    status: str | None = None
    priority: int | None = None
    tags: tuple[str, ...] | None = None

    @property
    def is_empty(self) -> bool:
        return self.status is None and self.priority is None and self.tags is None


# -- rows and detail ------------------------------------------------------------------------


def key_of(item: ResourceItem) -> str:
    return f"{item.queue}/{item.id}"  # a queue name has no "/"


def parse_key(key: str) -> tuple[str, int]:
    queue, _, item_id = key.rpartition("/")
    return queue, int(item_id)


def item_rows(
    engine: Engine, query: Query, text: str = "", offset: int = 0, limit: int = PAGE
) -> list[Row]:
    """A page of the items of every queue (or of the chosen one) matching `query`'s status and
    tag, by queue, then priority, then age; `text` keeps the rows holding each of its words
    (among the items read: the resource API has no text search)."""
    items = engine.resources.find(
        queue=query.queue or None,
        status=query.state or None,
        tags=[query.tag] if query.tag else (),
        limit=offset + limit,
    )
    names = holder_names(engine, items)
    return visible([_row(item, names) for item in items], text)[offset : offset + limit]


def holder_names(engine: Engine, items: list[ResourceItem]) -> dict[str, str]:
    """What a row calls each holding job: its description (or method) and state."""
    holders = {
        lock.holder
        for item in items
        for lock in (item.read_lock, item.write_lock)
        if lock is not None and not lock.holder.startswith("person:")
    }
    names = {}
    for uuid in sorted(holders)[:HOLDER_LOOKUPS]:
        try:
            job = engine.background.find(uuid)
        except (JobEngineError, ValueError):
            job = None
        names[uuid] = f"{job.description or job.method} ({job.state.value})" if job else uuid
    return names


def _row(item: ResourceItem, names: Mapping[str, str]) -> Row:
    value = _json(item.value)
    if len(value) > VALUE_WIDTH:
        value = value[: VALUE_WIDTH - 3] + "..."
    cells = (
        item.queue,
        str(item.id),
        item.status.value,
        ", ".join(item.tags),
        str(item.priority),
        value,
        lock_text(item.read_lock, names),
        lock_text(item.write_lock, names),
        fmt(item.changed),
    )
    flags = {item.status.value}
    if item.read_lock is not None or item.write_lock is not None:
        flags.add("locked")
    return Row(key_of(item), cells, frozenset(flags))


def lock_text(lock: ResourceLock | None, names: Mapping[str, str]) -> str:
    """A lock in few words: its holder (a person, or a job by its name) and its `until`."""
    if lock is None:
        return ""
    until = f" until {fmt(lock.until)}" if lock.until is not None else ""
    return names.get(lock.holder, lock.holder) + until


def item_detail(engine: Engine, key: str) -> Detail:
    """One item whole: properties, value, params and each lock with its holder."""
    queue, item_id = parse_key(key)
    item = engine.resources.queue(queue).get(item_id, wait=0)  # a person is never stopped
    if item is None:
        return Detail(f"resource {key}", (("", "gone (deleted)"),))
    props = [
        ("queue", item.queue),
        ("id", str(item.id)),
        ("status", item.status.value),
        ("priority", str(item.priority)),
        ("tags", ", ".join(item.tags)),
        ("created", fmt(item.created)),
        ("changed", fmt(item.changed)),
    ]
    locks = [
        _lock_line(engine, kind, lock)
        for kind, lock in (("read", item.read_lock), ("write", item.write_lock))
        if lock is not None
    ]
    sections = (
        ("Properties", "\n".join(f"{k:>9}: {v}" for k, v in props)),
        ("Value", _json(item.value, indent=2)),
        ("Params", _json(item.params, indent=2)),
        ("Locks", blank(locks)),
    )
    return Detail(f"Resource {item.queue} #{item.id}", sections)


def _lock_line(engine: Engine, kind: str, lock: ResourceLock) -> str:
    if lock.holder.startswith("person:"):
        who, ends = f"{lock.holder} (a person)", ""
    else:
        who, ends = _job_holder(engine, lock.holder), ", until its job ends"
    until = f", until {fmt(lock.until)}" if lock.until is not None else ends
    return f"{kind} lock: {who}{until}"


def _job_holder(engine: Engine, uuid: str) -> str:
    """A holding background job: its uuid, state and description."""
    try:
        job = engine.background.find(uuid)
    except (JobEngineError, ValueError):
        job = None
    if job is None:
        return f"job {uuid} (gone)"
    return f"job {uuid} ({job.state.value}, {job.description or job.method})"


def _json(value: Any, indent: int | None = None) -> str:
    separators = (", ", ": ") if indent is None else None
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent, separators=separators)


# -- actions --------------------------------------------------------------------------------


def edit_texts(items: list[ResourceItem]) -> dict[str, str]:
    """The editor's starting texts: each field's value when every item has the same one,
    else empty."""
    out = {}
    for name, of in (
        ("status", lambda i: i.status.value),
        ("priority", lambda i: str(i.priority)),
        ("tags", lambda i: ", ".join(i.tags)),
    ):
        values = {of(i) for i in items}
        out[name] = values.pop() if len(values) == 1 else ""
    return out


def read_edit(texts: Mapping[str, str], initial: Mapping[str, str]) -> Edit:
    """The change the editor's texts ask for: the fields whose text differs from `initial`.

    Raises:
        EditError: a status that is none of STATUSES, a priority that is not a whole number
            >= 0, or a tag longer than MAX_TAG characters; names the field.
    """
    changed = {k: v.strip() for k, v in texts.items() if v.strip() != initial.get(k, "").strip()}
    status = changed.get("status")
    if status is not None and status not in STATUSES:
        raise EditError("status", status, f"use one of {', '.join(STATUSES)}")
    priority = None
    if "priority" in changed:
        text = changed["priority"]
        if not text.isdigit():
            raise EditError("priority", text, "give a whole number >= 0")
        priority = int(text)
    tags = None
    if "tags" in changed:
        tags = tuple(dict.fromkeys(t.strip() for t in changed["tags"].split(",") if t.strip()))
        long = [t for t in tags if len(t) > MAX_TAG]
        if long:
            raise EditError("tags", long[0], f"a tag has at most {MAX_TAG} characters")
    return Edit(status, priority, tags)


def item(engine: Engine, key: str) -> ResourceItem:
    queue, item_id = parse_key(key)
    found = engine.resources.queue(queue).get(item_id, wait=0)
    if found is None:
        raise JobEngineError(f"resource {key} no longer exists")
    return found


def edit(engine: Engine, key: str, change: Edit) -> str:
    """Change an item's status, priority and tags; a person overrides a job's write lock
    (and holds it from then on: `u` releases it)."""
    queue, item_id = parse_key(key)
    rq = engine.resources.queue(queue)
    done = rq.update(item_id, status=change.status, priority=change.priority, tags=change.tags)
    tags = ", ".join(done.tags) or "no tags"
    said = f"{key}: {done.status.value}, priority {done.priority}, {tags}"
    if done.write_lock is not None and done.write_lock.holder.startswith("person:"):
        said += " (its write lock is now yours: u releases it)"
    return said


def unlock(engine: Engine, key: str) -> str:
    """Release every lock on an item (a person's override)."""
    queue, item_id = parse_key(key)
    done = engine.resources.queue(queue).unlock(item_id)
    return f"{key} unlocked ({done.status.value})"


def delete(engine: Engine, key: str) -> str:
    queue, item_id = parse_key(key)
    engine.resources.queue(queue).delete(item_id)
    return f"{key} deleted"
