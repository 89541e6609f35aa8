"""Reading background jobs: by uuid, listings with filters and text, counts for the console
and the status page, and a job's messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee

from jobengine.errors import StoreError
from jobengine.store.jobbase import JobVerbs
from jobengine.store.match import words_condition
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.models import JobMessageRow as M
from jobengine.store.records import JobRecord
from jobengine.store.rows import ACTIVE, from_tuple
from jobengine.store.sql import RECORD_COLUMNS

# Literal states, not parameters: a partial index serves only a query whose WHERE names its
# own terms, and each part here is one index's condition.
COUNT_BY_STATE = """
SELECT 'ACTIVE', COUNT(*) FROM background_job WHERE state = 'ACTIVE' AND claimed_by IS NULL
UNION ALL
SELECT 'ACTIVE', COUNT(*) FROM background_job WHERE state = 'ACTIVE' AND claimed_by IS NOT NULL
UNION ALL
SELECT '', COUNT(*) FROM background_job WHERE state <> 'ACTIVE'
UNION ALL
SELECT state, COUNT(*) FROM background_job WHERE state IN ('FAILED', 'CANCELED') GROUP BY state
"""

_COLUMNS = [getattr(J, name) for name in RECORD_COLUMNS]


class JobQueries(JobVerbs):
    """The read verbs."""

    def claimed_by(self, engine_ids: Sequence[str]) -> list[JobRecord]:
        """ACTIVE jobs claimed by any of `engine_ids`."""
        rows = J.select(*_COLUMNS).where(J.claimed_by.in_(list(engine_ids)) & (J.state == ACTIVE))
        return [from_tuple(r) for r in rows.tuples().execute(self.db)]

    # -- read -----------------------------------------------------------------------------

    def find(self, uuid: str) -> JobRecord | None:
        rows = self._run(self.sql.find, (uuid,))
        return from_tuple(rows[0]) if rows else None

    def find_many(self, uuids: Sequence[str]) -> list[JobRecord]:
        out: list[JobRecord] = []
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            out.extend(from_tuple(r) for r in self._run(self.sql.find_in(len(chunk)), chunk))
        return out

    def states(self, uuids: Sequence[str]) -> dict[str, str]:
        """uuid -> state, cheaply, for waiters."""
        out: dict[str, str] = {}
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            out.update((u, st) for u, st in self._run(self.sql.states(len(chunk)), chunk))
        return out

    def select(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        text: str | None = None,
        **filters: Any,
    ) -> list[JobRecord]:
        """Jobs matching every given filter (None = no filter), oldest first.

        Args:
            limit: at most this many: the oldest ones, or with `newest_first` the newest.
            offset: skip this many first (a listing's later pages).
            newest_first: newest first (by insertion order).
            text: only jobs whose state, description, method, key, queue, host or error
                message contain each of its words (any case).
            filters: uuid, state, key, method, description, scheduled_job, queue, parent,
                begin_after_ms (begun at or after), begin_before_ms (begun at or before),
                end_before_ms (ended at or before).
        """
        query = _listing(J.select(*_COLUMNS), limit, offset, newest_first, text, filters)
        return [from_tuple(r) for r in query.tuples().execute(self.db)]

    def select_counted(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        text: str | None = None,
        **filters: Any,
    ) -> list[tuple[JobRecord, int]]:
        """As `select`, each job with how many user messages it emitted: counted in the same
        read (a subquery on the messages' job index), so a listing makes no query per row."""
        count = M.select(peewee.fn.COUNT(M.id)).where(M.job_uuid == J.uuid)
        query = _listing(J.select(*_COLUMNS, count), limit, offset, newest_first, text, filters)
        n = len(_COLUMNS)
        return [(from_tuple(r[:n]), int(r[n] or 0)) for r in query.tuples().execute(self.db)]

    def count_due(self, now_ms: int, queues: Sequence[str] | None = None) -> int:
        """How many jobs an engine serving `queues` (None: all) could claim at `now_ms`."""
        qs = list(queues) if queues is not None else []
        if queues is not None and not qs:
            return 0
        sql = self.sql.claim_ids(len(qs)).replace(self.sql.skip_locked, "")
        rows = self._run(f"SELECT count(*) FROM ({sql}) AS due", (now_ms, *qs, 2**62))
        return int(rows[0][0])

    def count_by_state(self) -> dict[str, int]:
        """How many jobs the store keeps in each state, in one statement that reads partial
        indexes only (see migration 0008); COMPLETED is the finished rest."""
        found: dict[str, int] = {}
        for state, n in self.db.execute_sql(COUNT_BY_STATE).fetchall():
            found[state] = found.get(state, 0) + int(n)
        finished = found.pop("", 0)
        found["COMPLETED"] = finished - found.get("FAILED", 0) - found.get("CANCELED", 0)
        return {state: n for state, n in found.items() if n}

    def waiting_by_queue(self) -> dict[str, int]:
        """ACTIVE jobs not started yet (due or delayed), per queue: the queue depth."""
        query = (
            J.select(J.queue, peewee.fn.COUNT(J.id))
            .where((J.state == ACTIVE) & J.started_ms.is_null())
            .group_by(J.queue)
        )
        return {str(q): int(n) for q, n in query.tuples().execute(self.db)}

    def running_by_engine(self) -> dict[str, int]:
        """ACTIVE jobs a worker started, per engine that claimed them: its busy workers."""
        query = (
            J.select(J.claimed_by, peewee.fn.COUNT(J.id))
            .where((J.state == ACTIVE) & J.started_ms.is_null(False) & J.claimed_by.is_null(False))
            .group_by(J.claimed_by)
        )
        return {str(e): int(n) for e, n in query.tuples().execute(self.db)}

    def messages(self, uuid: str) -> list[tuple[int, str]]:
        query = M.select(M.at_ms, M.text).where(M.job_uuid == uuid).order_by(M.id)
        rows = query.tuples().execute(self.db)
        return [(int(ms), str(text)) for ms, text in rows]


_FILTERS = {
    "uuid": lambda v: J.uuid == str(v),
    "state": lambda v: J.state == str(v),
    "key": lambda v: J.key == v,
    "method": lambda v: J.method == v,
    "description": lambda v: J.description == v,
    "scheduled_job": lambda v: J.scheduled_job == str(v),
    "queue": lambda v: J.queue == v,
    "parent": lambda v: J.parent == str(v),
    "waiting_retry": lambda v: _waiting_retry() if v else ~_waiting_retry(),
    "begin_after_ms": lambda v: J.begin_ms >= v,
    "begin_before_ms": lambda v: J.begin_ms <= v,
    "end_before_ms": lambda v: J.end_ms <= v,
}


_TEXT_COLUMNS = (J.state, J.description, J.method, J.key, J.queue, J.host, J.error_message)


def _waiting_retry() -> Any:
    """ACTIVE jobs whose last attempt failed and whose next one has not started: still
    ACTIVE for the key rule (1C), and told apart by their history (store/attempts.py)."""
    return (J.state == ACTIVE) & J.started_ms.is_null() & J.attempts.is_null(False)


def _listing(
    query: Any,
    limit: int | None,
    offset: int,
    newest_first: bool,
    text: str | None,
    filters: dict[str, Any],
) -> Any:
    """`query` narrowed to the jobs `select` lists, in its order, one page of them."""
    cond = _conditions(filters)
    if cond is not None:
        query = query.where(cond)
    words = words_condition(_TEXT_COLUMNS, text)
    if words is not None:
        query = query.where(words)
    query = query.order_by(J.id.desc() if newest_first else J.id)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def _conditions(filters: dict[str, Any]) -> Any:
    cond = None
    for name, value in filters.items():
        if value is None:
            continue
        make = _FILTERS.get(name)
        if make is None:
            raise StoreError(f"unknown job filter {name!r}; known: {', '.join(sorted(_FILTERS))}")
        part = make(value)
        cond = part if cond is None else cond & part
    return cond
