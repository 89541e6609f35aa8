"""Resource queues from code (Robin): `engine.resources.queue(name)` puts, takes and locks.

The lock holder is the running background job (its uuid), or outside a job a person
(``person:<user>@<host>``), whom no lock stops. A blocked read or change waits on the store's
``"r <queue>"`` and job-ended notifications, re-checking on a slow timer in case one is lost.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jobengine import codec, runtime
from jobengine.clock import from_ms, to_ms
from jobengine.errors import ResourceLocked, ResourceNotFound
from jobengine.hub import Waiter
from jobengine.launch import check_instant, check_wait_timeout, refuse
from jobengine.store.notify import QUEUE_NAME
from jobengine.store.resources import (
    LOCKS,
    MAX_TAG,
    Access,
    Ask,
    Change,
    ResourceRecord,
)

if TYPE_CHECKING:
    from jobengine.engine import Engine

FALLBACK_POLL_S = 1.0  # a blocked wait re-checks this often even without a wake-up
_UNSET: Any = object()


class ResourceStatus(StrEnum):
    """Where a resource is in its processing; a person may set any status in any order."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    PROCESSED = "processed"
    ERROR = "error"


@dataclass(frozen=True)
class ResourceLock:
    """A lock in force: its holder (a job's uuid or ``person:...``), and when it lapses."""

    holder: str
    until: datetime | None


@dataclass(frozen=True)
class ResourceItem:
    """A snapshot of one resource as read from the store."""

    id: int
    queue: str
    value: Any
    params: dict[str, Any]
    tags: tuple[str, ...]
    priority: int
    status: ResourceStatus
    created: datetime
    changed: datetime
    read_lock: ResourceLock | None
    write_lock: ResourceLock | None


class Resources:
    """`engine.resources`: named resource queues."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def queue(self, name: str) -> ResourceQueue:
        """The resource queue `name` (letters, digits, ``_ . : -``; up to 100 characters)."""
        if not isinstance(name, str) or not QUEUE_NAME.match(name):
            refuse("name", name, "a queue name is 1-100 letters, digits, '_', '.', ':' or '-'")
        return ResourceQueue(self._engine, name)

    def queues(self) -> dict[str, int]:
        """Every queue that holds resources, with how many it holds."""
        return dict(self._engine.store.resources.queues())

    def find(
        self,
        *,
        queue: str | None = None,
        tags: Sequence[str] = (),
        status: ResourceStatus | str | None = None,
        limit: int | None = 1000,
    ) -> list[ResourceItem]:
        """Resources of every queue (or of `queue`) with every tag in `tags` (and `status`),
        by queue name, then priority, then age; what `queue(name).find(...)` does across
        queues, for listings such as the console's."""
        if queue is not None:
            return self.queue(queue).find(tags=tags, status=status, limit=limit)
        ask = _ask(self._engine)
        recs = self._engine.store.resources.select(
            None,
            ask,
            tags=_check_tags(tags),
            status=None if status is None else _check_status(status),
            limit=limit,
        )
        return [_item(r, ask.now_ms) for r in recs]


def person() -> str:
    """The holder name of whoever calls from outside a background job."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = str(os.getuid())
    return f"person:{user}@{socket.gethostname()}"


class ResourceQueue:
    """One named resource queue. Inside a background job the caller holds locks as that job;
    outside one, as a person who may override any lock."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._store = engine.store.resources
        self.name = name
        self._channel = f"r {name}"

    def __repr__(self) -> str:
        return f"<ResourceQueue {self.name}>"

    # -- verbs ------------------------------------------------------------------------------

    def put(
        self,
        value: Any,
        *,
        params: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        priority: int = 0,
    ) -> ResourceItem:
        """Add a resource in status new, unlocked.

        Raises:
            SerializationError: `value` or `params` cannot be stored as JSON.
            JobEngineError: a bad tag (more than 30 characters) or priority (below 0).
        """
        rec = self._store.put(
            self.name,
            codec.dumps(value, what="value"),
            _params_text(params),
            _check_tags(tags),
            _check_priority(priority),
            self._now_ms(),
        )
        return _item(rec, rec.created_ms)

    def get(
        self,
        item_id: int,
        *,
        wait: float | None = 0,
        lock: str | None = None,
        until: datetime | None = None,
    ) -> ResourceItem | None:
        """Read a resource by id; waits up to `wait` seconds (None: for ever) while another
        holder read-locks it. With `lock` ("read", "write" or "both") it also locks it.

        Returns:
            The resource, or None when the queue has no such resource.

        Raises:
            ResourceLocked: still locked by another holder after `wait` seconds.
        """
        _check_lock(lock, optional=True)
        until_ms = check_instant("until", until)
        try:
            return self._waiting(
                item_id, wait, lambda a: self._store.get(self.name, item_id, a, lock, until_ms)
            )
        except ResourceNotFound:
            return None

    def find(
        self,
        *,
        tags: Sequence[str] = (),
        status: ResourceStatus | str | None = None,
        limit: int | None = 1000,
    ) -> list[ResourceItem]:
        """Resources with every tag in `tags` (and `status`), priority first, then age.
        Resources another job read-locks are left out (a person sees them all)."""
        ask = self._ask()
        recs = self._store.select(
            self.name,
            ask,
            tags=_check_tags(tags),
            status=None if status is None else _check_status(status),
            limit=limit,
        )
        return [_item(r, ask.now_ms) for r in recs]

    def take(
        self, *, tags: Sequence[str] = (), lock: str = "read", until: datetime | None = None
    ) -> ResourceItem | None:
        """Claim the next resource in status new that no other holder locks (with every tag
        in `tags`), priority first, then age: it becomes in_progress and locked (`lock`:
        "read", "write" or "both"; `until` makes the lock outlive its job until then).

        Returns:
            The claimed resource, or None when none is free.
        """
        _check_lock(lock)
        until_ms = check_instant("until", until)
        ask = self._ask()
        rec = self._store.take(self.name, ask, _check_tags(tags), lock, until_ms)
        return None if rec is None else _item(rec, ask.now_ms)

    def update(
        self,
        item_id: int,
        *,
        value: Any = _UNSET,
        params: dict[str, Any] | None = _UNSET,
        status: ResourceStatus | str | None = None,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        wait: float | None = 0,
    ) -> ResourceItem:
        """Change a resource; waits up to `wait` seconds while another holder write-locks it.

        Raises:
            ResourceLocked: still write-locked by another holder after `wait` seconds.
            ResourceNotFound: no such resource in the queue.
        """
        values: dict[str, Any] = {}
        if value is not _UNSET:
            values["value"] = codec.dumps(value, what="value")
        if params is not _UNSET:
            values["params"] = _params_text(params)
        if status is not None:
            values["status"] = _check_status(status)
        if priority is not None:
            values["priority"] = _check_priority(priority)
        change = Change(values, None if tags is None else _check_tags(tags))
        return self._change(item_id, change, wait)

    def finish(
        self, item_id: int, status: ResourceStatus | str = "processed", *, wait: float | None = 0
    ) -> ResourceItem:
        """End the processing of a resource: set `status` ("processed" or "error") and release
        the caller's locks on it (a person's finish releases every lock)."""
        checked = _check_status(status)
        if checked not in ("processed", "error"):
            refuse("status", status, "finish with 'processed' or 'error'")
        return self._change(item_id, Change({"status": checked}, release=True), wait)

    def unlock(self, item_id: int) -> ResourceItem:
        """Release the caller's locks on a resource; a person releases every lock on it.

        Raises:
            ResourceLocked: another holder locks it and the caller holds no lock there.
            ResourceNotFound: no such resource in the queue.
        """
        item = self._waiting(item_id, 0, lambda a: self._store.unlock(self.name, item_id, a))
        self._announce()
        return item

    def delete(self, item_id: int, *, wait: float | None = 0) -> None:
        """Delete a resource; waits up to `wait` seconds while another holder write-locks it.

        Raises:
            ResourceLocked: still write-locked by another holder after `wait` seconds.
            ResourceNotFound: no such resource in the queue.
        """
        self._waiting(item_id, wait, lambda a: self._store.delete(self.name, item_id, a))
        self._announce()

    # -- helpers ----------------------------------------------------------------------------

    def _change(self, item_id: int, change: Change, wait: float | None) -> ResourceItem:
        item = self._waiting(
            item_id, wait, lambda a: self._store.change(self.name, item_id, a, change)
        )
        self._announce()
        return item

    def _now_ms(self) -> int:
        return to_ms(self._engine.clock.now())

    def _ask(self) -> Ask:
        return _ask(self._engine)

    def _announce(self) -> None:
        """Wake waiters on this queue: in this process directly, elsewhere through the store."""
        self._engine.hub.poke([self._channel])
        self._engine.store.notifier.publish([self._channel])

    def _waiting(
        self, item_id: int, wait: float | None, attempt: Callable[[Ask], Access]
    ) -> ResourceItem:
        """Run `attempt` until no other holder's lock stops it, for up to `wait` seconds.

        A wake-up (this queue changed, the blocking job ended) only makes it try again.
        """
        wait = check_wait_timeout(wait)
        deadline = None if wait is None else time.monotonic() + wait
        waiter = Waiter()
        watched: list[str] = []
        hub = self._engine.hub
        try:
            while True:
                waiter.take()
                ask = self._ask()
                access = attempt(ask)
                if access.record is None:
                    raise ResourceNotFound(self.name, item_id)
                stop = access.blocked
                if stop is None:
                    return _item(access.record, ask.now_ms)
                left = FALLBACK_POLL_S if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    raise ResourceLocked(self.name, item_id, stop.holder, stop.kind, wait)
                names = [n for n in (self._channel, stop.holder) if n not in watched]
                if names:
                    hub.watch(names, waiter)  # then look once more: a change may have slipped by
                    watched.extend(names)
                    continue
                if stop.until_ms is not None:
                    left = min(left, max(0.0, (stop.until_ms - ask.now_ms) / 1000))
                waiter.event.wait(min(left, FALLBACK_POLL_S))
        finally:
            if watched:
                hub.unwatch(watched, waiter)


def _ask(engine: Engine) -> Ask:
    """Who asks now: the running background job, else a person."""
    now_ms = to_ms(engine.clock.now())
    job = runtime.running_job()
    if job is not None:
        job.holds_resources = True
        return Ask(job.uuid, now_ms)
    return Ask(person(), now_ms, override=True)


def _item(rec: ResourceRecord, now_ms: int) -> ResourceItem:
    created, changed = from_ms(rec.created_ms), from_ms(rec.changed_ms)
    assert created is not None and changed is not None
    return ResourceItem(
        id=int(rec.id),
        queue=rec.queue,
        value=codec.loads(rec.value),
        params=dict(codec.loads(rec.params) or {}),
        tags=tuple(codec.loads(rec.tags)),
        priority=int(rec.priority),
        status=ResourceStatus(rec.status),
        created=created,
        changed=changed,
        read_lock=_lock(rec, "read", now_ms),
        write_lock=_lock(rec, "write", now_ms),
    )


def _lock(rec: ResourceRecord, kind: str, now_ms: int) -> ResourceLock | None:
    holder = rec.holder(kind, now_ms)
    if holder is None:
        return None
    return ResourceLock(
        holder, from_ms(rec.read_until_ms if kind == "read" else rec.write_until_ms)
    )


def _params_text(params: Any) -> str:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        refuse("params", params, "give a dict")
    return codec.dumps(params, what="params")


def _check_tags(tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Sequence | set | frozenset):
        refuse("tags", tags, "give a list of strings")
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG:
            refuse("tags", tags, f"each tag is a string of 1 to {MAX_TAG} characters")
        if tag not in out:
            out.append(tag)
    return out


def _check_priority(priority: Any) -> int:
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        refuse("priority", priority, "give a whole number >= 0")
    return int(priority)


def _check_status(status: Any) -> str:
    if isinstance(status, str) and status in ResourceStatus._value2member_map_:
        return str(status)
    refuse("status", status, f"use one of {', '.join(s.value for s in ResourceStatus)}")


def _check_lock(lock: Any, *, optional: bool = False) -> None:
    if (lock is None and optional) or lock in LOCKS:
        return
    refuse("lock", lock, "use 'read', 'write' or 'both'")
