"""Store verbs for resource queues (Robin): put, take, read and change resources under locks.

Concurrency contract: every verb that checks a lock reads the resource's row and writes it in one
write transaction (BEGIN IMMEDIATE on SQLite, the row locked FOR UPDATE on PostgreSQL), so a lock
is never granted past another holder's. `take` gives each resource to one taker: SKIP LOCKED on
PostgreSQL, BEGIN IMMEDIATE on SQLite, and a conditional UPDATE on both. Locks of a background job
go in the transaction that ends it (`release_holders`, called from the job store).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import peewee

from jobengine.store.db import immediate, is_sqlite, translate_errors
from jobengine.store.models import ResourceRow as R
from jobengine.store.models import ResourceTagRow as T

NEW, IN_PROGRESS, PROCESSED, ERROR = "new", "in_progress", "processed", "error"
STATUSES = (NEW, IN_PROGRESS, PROCESSED, ERROR)
LOCKS = ("read", "write", "both")
MAX_TAG = 30


@dataclass(frozen=True)
class ResourceRecord:
    """A resource row as stored: value and params are tagged-JSON text, tags a JSON list."""

    id: int
    queue: str
    value: str
    params: str
    tags: str
    priority: int
    status: str
    created_ms: int
    changed_ms: int
    read_holder: str | None
    read_until_ms: int | None
    write_holder: str | None
    write_until_ms: int | None

    def holder(self, kind: str, now_ms: int) -> str | None:
        """Who holds the `kind` ("read" or "write") lock at `now_ms`; None when nobody does
        (never locked, released, or its `until` has passed)."""
        who, until = (
            (self.read_holder, self.read_until_ms)
            if kind == "read"
            else (self.write_holder, self.write_until_ms)
        )
        return who if who is not None and (until is None or until > now_ms) else None


_COLUMNS = [getattr(R, f.name) for f in fields(ResourceRecord)]
_NAMES = ", ".join(f.name for f in fields(ResourceRecord))
_LOCK_SET = {  # the columns a granted lock writes, as SQL with two placeholders (holder, until)
    "read": "read_holder = {p}, read_until_ms = {p}",
    "write": "write_holder = {p}, write_until_ms = {p}",
    "both": "read_holder = {p}, read_until_ms = {p}, write_holder = {p}, write_until_ms = {p}",
}


@dataclass(frozen=True)
class Ask:
    """Who asks, and when. `override`: a person, whom no lock stops (and who takes it over)."""

    holder: str
    now_ms: int
    override: bool = False


@dataclass(frozen=True)
class Blocked:
    """The lock that stopped a verb."""

    holder: str
    kind: str  # "read" or "write"
    until_ms: int | None


@dataclass(frozen=True)
class Access:
    """What a checked verb found: the resource (None: no such resource in the queue) after the
    verb, or before it when `blocked` names the lock that stopped it."""

    record: ResourceRecord | None
    blocked: Blocked | None = None


def blocker(rec: ResourceRecord, ask: Ask, kinds: Sequence[str]) -> Blocked | None:
    """The first of the `kinds` of lock another holder has on `rec` now; None when free.

    A person (`ask.override`) is never blocked.
    """
    if ask.override:
        return None
    for kind in kinds:
        who = rec.holder(kind, ask.now_ms)
        if who is not None and who != ask.holder:
            until = rec.read_until_ms if kind == "read" else rec.write_until_ms
            return Blocked(who, kind, until)
    return None


def lock_values(lock: str | None, holder: str, until_ms: int | None) -> dict[Any, Any]:
    """The columns a granted lock writes."""
    out: dict[Any, Any] = {}
    if lock in ("read", "both"):
        out.update({R.read_holder: holder, R.read_until_ms: until_ms})
    if lock in ("write", "both"):
        out.update({R.write_holder: holder, R.write_until_ms: until_ms})
    return out


@dataclass(frozen=True)
class Change:
    """What `change` writes: columns (value, params, priority, status), tags when not None, and
    with `release` the asker's locks go (a person's release clears every lock)."""

    values: dict[str, Any]
    tags: Sequence[str] | None = None
    release: bool = False


@translate_errors
class ResourceStore:
    """Resource-queue verbs over one peewee database."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)
        # Building a peewee query costs more Python than running it: the verbs every taker
        # calls use statements built once (see store/sql.py).
        p = self._p = db.param
        self._read_sql = f"SELECT {_NAMES} FROM resource WHERE id = {p} AND queue = {p}"
        self._for_update_sql = self._read_sql + ("" if self._sqlite else " FOR UPDATE")
        self._take_sql: dict[tuple[str, int], str] = {}

    def put(
        self, queue: str, value: str, params: str, tags: Sequence[str], priority: int, now_ms: int
    ) -> ResourceRecord:
        """Add a resource in status new, unlocked."""
        with immediate(self.db):
            row = {
                R.queue: queue,
                R.value: value,
                R.params: params,
                R.tags: _tags_text(tags),
                R.priority: priority,
                R.status: NEW,
                R.created_ms: now_ms,
                R.changed_ms: now_ms,
            }
            item_id = int(R.insert(row).execute(self.db))
            self._set_tags(item_id, tags, replace=False)
        rec = self.read(queue, item_id)
        assert rec is not None
        return rec

    def read(self, queue: str, item_id: int) -> ResourceRecord | None:
        """The resource as stored, locks or not."""
        rows = self.db.execute_sql(self._read_sql, (item_id, queue)).fetchall()
        return _record(rows[0]) if rows else None

    def select(
        self,
        queue: str | None,
        ask: Ask,
        *,
        tags: Sequence[str] = (),
        status: str | None = None,
        limit: int | None = None,
    ) -> list[ResourceRecord]:
        """Resources of `queue` (None: of every queue, by queue name) with every tag in `tags`
        (and `status`), priority first, then age. Resources another holder read-locks are
        hidden, except from a person."""
        cond = _has_tags(tags)
        if queue is not None:
            cond &= R.queue == queue
        if status is not None:
            cond &= R.status == status
        if not ask.override:
            cond &= _free(R.read_holder, R.read_until_ms, ask)
        order = (
            [R.priority.desc(), R.id] if queue is not None else [R.queue, R.priority.desc(), R.id]
        )
        query = self._select().where(cond).order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [_record(r) for r in query.execute(self.db)]

    def queues(self) -> list[tuple[str, int]]:
        """Every queue that has resources, with how many, by name."""
        query = R.select(R.queue, peewee.fn.COUNT(R.id)).group_by(R.queue).order_by(R.queue)
        return [(str(q), int(n)) for q, n in query.tuples().execute(self.db)]

    def take(
        self, queue: str, ask: Ask, tags: Sequence[str], lock: str, until_ms: int | None
    ) -> ResourceRecord | None:
        """Claim the next resource of `queue` in status new that no other holder locks (with
        every tag in `tags`), priority first, then age: it becomes in_progress and locked by
        `ask.holder`. Two takers never get the same resource, across processes and hosts.

        Returns:
            The resource after the claim, or None when none is free.
        """
        free = (ask.holder, ask.now_ms)
        args = [ask.now_ms, *_lock_args(lock, ask.holder, until_ms), queue, *free, *free, *tags]
        with immediate(self.db):
            rows = self.db.execute_sql(self._take_statement(lock, len(tags)), args).fetchall()
        return _record(rows[0]) if rows else None

    def _take_statement(self, lock: str, tag_count: int) -> str:
        """The claim as one UPDATE of the first free resource, returning it; the conditional
        `status = 'new'` keeps a resource from being given twice even without the row lock."""
        statement = self._take_sql.get((lock, tag_count))
        if statement is None:
            p = self._p
            tags = f" AND id IN (SELECT resource FROM resource_tag WHERE tag = {p})" * tag_count
            skip = "" if self._sqlite else " FOR UPDATE SKIP LOCKED"
            statement = self._take_sql[(lock, tag_count)] = (
                f"UPDATE resource SET status = '{IN_PROGRESS}', changed_ms = {p}, "
                f"{_LOCK_SET[lock].format(p=p)} WHERE id = (SELECT id FROM resource "
                f"WHERE queue = {p} AND status = '{NEW}' "
                f"AND (read_holder IS NULL OR read_holder = {p} OR read_until_ms <= {p}) "
                f"AND (write_holder IS NULL OR write_holder = {p} OR write_until_ms <= {p})"
                f"{tags} ORDER BY priority DESC, id LIMIT 1{skip}) AND status = '{NEW}' "
                f"RETURNING {_NAMES}"
            )
        return statement

    def get(
        self, queue: str, item_id: int, ask: Ask, lock: str | None, until_ms: int | None
    ) -> Access:
        """Read a resource by id; blocked while another holder read-locks it. With `lock` it
        also takes that lock, blocked while another holder has a lock of the same kind; a
        person takes the lock over."""
        if lock is None:
            rec = self.read(queue, item_id)
            if rec is None:
                return Access(None)
            return Access(rec, blocker(rec, ask, ["read"]))
        kinds = ["read", "write"] if lock in ("write", "both") else ["read"]
        with immediate(self.db):
            rec = self._row_for_update(queue, item_id)
            if rec is None:
                return Access(None)
            stop = blocker(rec, ask, kinds)
            if stop is not None:
                return Access(rec, stop)
            values = lock_values(lock, ask.holder, until_ms)
            R.update(values).where(R.id == item_id).execute(self.db)
        return Access(self.read(queue, item_id))

    def change(self, queue: str, item_id: int, ask: Ask, change: Change) -> Access:
        """Change a resource; blocked while another holder write-locks it. A person overrides
        the write lock and becomes its holder."""
        with immediate(self.db):
            rec = self._row_for_update(queue, item_id)
            if rec is None:
                return Access(None)
            stop = blocker(rec, ask, ["write"])
            if stop is not None:
                return Access(rec, stop)
            values: dict[Any, Any] = {getattr(R, k): v for k, v in change.values.items()}
            values[R.changed_ms] = ask.now_ms
            if change.tags is not None:
                values[R.tags] = _tags_text(change.tags)
                self._set_tags(item_id, change.tags, replace=True)
            if change.release:
                values.update(_released(rec, ask))
            elif ask.override and rec.holder("write", ask.now_ms) not in (None, ask.holder):
                values.update({R.write_holder: ask.holder, R.write_until_ms: None})
            R.update(values).where(R.id == item_id).execute(self.db)
        return Access(self.read(queue, item_id))

    def unlock(self, queue: str, item_id: int, ask: Ask) -> Access:
        """Release the asker's locks on a resource (a person's: every lock). Blocked when
        another holder locks it and the asker holds no lock of its own there."""
        with immediate(self.db):
            rec = self._row_for_update(queue, item_id)
            if rec is None:
                return Access(None)
            values = _released(rec, ask)
            if not values and not ask.override:
                stop = blocker(rec, ask, ["read", "write"])
                if stop is not None:
                    return Access(rec, stop)
            if values:
                values[R.changed_ms] = ask.now_ms
                R.update(values).where(R.id == item_id).execute(self.db)
        return Access(self.read(queue, item_id))

    def delete(self, queue: str, item_id: int, ask: Ask) -> Access:
        """Delete a resource; blocked while another holder write-locks it (not for a person).

        Returns:
            The resource as it was (record None: there was none).
        """
        with immediate(self.db):
            rec = self._row_for_update(queue, item_id)
            if rec is None:
                return Access(None)
            stop = blocker(rec, ask, ["write"])
            if stop is not None:
                return Access(rec, stop)
            T.delete().where(T.resource == item_id).execute(self.db)
            R.delete().where(R.id == item_id).execute(self.db)
        return Access(rec)

    # -- helpers ----------------------------------------------------------------------------

    def _select(self) -> Any:
        return R.select(*_COLUMNS).tuples()

    def _row_for_update(self, queue: str, item_id: int) -> ResourceRecord | None:
        rows = self.db.execute_sql(self._for_update_sql, (item_id, queue)).fetchall()
        return _record(rows[0]) if rows else None

    def _set_tags(self, item_id: int, tags: Sequence[str], *, replace: bool) -> None:
        if replace:
            T.delete().where(T.resource == item_id).execute(self.db)
        if tags:
            T.insert_many([(item_id, t) for t in tags], fields=[T.resource, T.tag]).execute(self.db)


def release_holders(db: peewee.Database, uuids: Sequence[str], now_ms: int) -> None:
    """Inside the transaction that ends background jobs (or attempts of them): release the locks
    the jobs `uuids` hold, except dated ones (`until`), which hold until then, and put the
    resources they hold in progress back to new, so no work is lost.

    One statement per 500 jobs over the partial holder indexes: with no lock held it is an empty
    index probe, so the finish path stays cheap.
    """
    if not uuids:
        return
    p = db.param
    for i in range(0, len(uuids), 500):
        chunk = list(uuids[i : i + 500])
        args: list[Any] = chunk
        match = f"IN ({', '.join([p] * len(chunk))})"
        if not is_sqlite(db):
            match, args = f"= ANY({p})", [chunk]
        db.execute_sql(_RELEASE.format(m=match, p=p), [now_ms, *args, *args, *args, *args])


_RELEASE = (
    "UPDATE resource SET status = CASE WHEN status = 'in_progress' THEN 'new' ELSE status END, "
    "changed_ms = CASE WHEN status = 'in_progress' THEN {p} ELSE changed_ms END, "
    "read_holder = CASE WHEN read_holder {m} AND read_until_ms IS NULL THEN NULL "
    "ELSE read_holder END, "
    "write_holder = CASE WHEN write_holder {m} AND write_until_ms IS NULL THEN NULL "
    "ELSE write_holder END "
    "WHERE read_holder {m} OR write_holder {m}"
)


def _lock_args(lock: str, holder: str, until_ms: int | None) -> list[Any]:
    """The parameters of `_LOCK_SET[lock]`."""
    return [holder, until_ms] * (2 if lock == "both" else 1)


def _released(rec: ResourceRecord, ask: Ask) -> dict[Any, Any]:
    """The columns that release the asker's locks on `rec` (a person's: every lock)."""
    out: dict[Any, Any] = {}
    if rec.read_holder is not None and (ask.override or rec.read_holder == ask.holder):
        out.update({R.read_holder: None, R.read_until_ms: None})
    if rec.write_holder is not None and (ask.override or rec.write_holder == ask.holder):
        out.update({R.write_holder: None, R.write_until_ms: None})
    return out


def _free(holder_col: Any, until_col: Any, ask: Ask) -> Any:
    """SQL: no other holder has this lock now (none, mine, or past its `until`)."""
    return holder_col.is_null() | (holder_col == ask.holder) | (until_col <= ask.now_ms)


def _has_tags(tags: Sequence[str]) -> Any:
    cond: Any = peewee.SQL("1 = 1")
    for tag in tags:
        cond &= R.id.in_(T.select(T.resource).where(T.tag == tag))
    return cond


def _tags_text(tags: Sequence[str]) -> str:
    return json.dumps(list(tags), ensure_ascii=False)


def _record(row: Sequence[Any]) -> ResourceRecord:
    return ResourceRecord(*row)
