"""Store verbs for background jobs: insert, claim, record outcomes, cancel, query, purge.

Concurrency contract: every verb that changes key ownership (`key_held`) runs in one write
transaction; on PostgreSQL it also takes a transaction-scoped advisory lock on the job's
(method, key), so an insert, a finish and a promotion of the next waiter never race. The partial
unique index on (method, key) WHERE key_held is the last line of defence on both backends.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

import peewee

from jobengine.errors import JobKeyConflict, StoreError
from jobengine.retry import Retry, retry_delay_s
from jobengine.store import newrows
from jobengine.store.attempts import appended, is_recorded
from jobengine.store.db import driver_errors, immediate, is_sqlite, translate_errors
from jobengine.store.eventlog import end_event, write_events
from jobengine.store.match import words_condition
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.models import JobMessageRow as M
from jobengine.store.records import Batch, Event, Finish, JobRecord, NewJob, Recorded
from jobengine.store.resources import release_holders
from jobengine.store.revision import bump, runs_ended
from jobengine.store.rows import ACTIVE, end_params, from_tuple, new_record
from jobengine.store.sql import HotSql, purge_check

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

_RECORD_FIELDS = [f.name for f in fields(JobRecord)]
_COLUMNS = [getattr(J, name) for name in _RECORD_FIELDS]


@translate_errors
class JobStore:
    """Background-job verbs over one peewee database."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)
        self.sql = HotSql(db.param, self._sqlite)
        self._params_limit: int | None = None

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.db.execute_sql(sql, params).fetchall())

    def _insert_one(self, job: NewJob, held: bool) -> None:
        """The hottest statement: on SQLite, straight to the driver (peewee's wrapper costs
        more than a tenth of the insert); driver errors still become StoreError."""
        if not self._sqlite:
            self._exec(self.sql.insert, (*job, held, ACTIVE, 1, False, ""))
            return
        fields = newrows.present(job)
        sql, params = newrows.statement(fields, int(held), 1), newrows.params([job], fields)
        if self.db.in_transaction():
            self._exec(sql, params)
            return
        try:
            self.db.connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"could not store the job: {exc}") from exc

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.execute_sql(sql, params)

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) == 1:
            # psycopg runs executemany in pipeline mode, which costs an extra sync for the
            # one-row case of every lone job's report.
            self._exec(sql, rows[0])
        elif rows:
            with driver_errors():
                self.db.cursor().executemany(sql, rows)

    # -- insert ---------------------------------------------------------------------------

    def insert(self, job: NewJob, on_conflict: str = "error") -> tuple[JobRecord, bool]:
        """Insert `job`, applying the key rule.

        Args:
            job: the new job.
            on_conflict: "error" raises JobKeyConflict while another active job holds the
                (method, key); "queue" inserts it behind the holder (FIFO); "skip" returns
                the holder instead.

        Returns:
            (the stored record, True) or, for "skip", (the holder, False).
        """
        if not job.key:
            # One statement is its own transaction: no key, nothing else to check.
            self._insert_one(job, False)
            return new_record(job, False), True
        with immediate(self.db):
            self._lock_key(job.method, job.key)
            holder = self._holder(job.method, job.key)
            if holder is not None:
                if on_conflict == "skip":
                    return holder, False
                if on_conflict != "queue":
                    raise JobKeyConflict(job.method, job.key, holder.uuid)
            self._insert_one(job, holder is None)
        return new_record(job, holder is None), True

    def insert_many(
        self, jobs: Sequence[NewJob], on_conflict: str | Sequence[str] = "error"
    ) -> list[tuple[JobRecord, bool]]:
        """Insert `jobs` in one transaction, all or nothing, applying the key rule to each.

        The rule is `insert`'s, in list order: the first job of a (method, key) that no
        active job holds takes the key; a later one of the same pair in the batch meets it
        as the holder ("error" raises and nothing is written, "queue" waits behind it in
        FIFO order, "skip" returns the holder's record). On PostgreSQL the batch takes the
        advisory locks of all its keys, in one statement and a fixed order. `on_conflict` is
        one mode for every job, or one per job.

        Returns:
            For each job, in order: (its record, True), or for "skip", (the holder, False).

        Raises:
            JobKeyConflict: with "error", for the first job whose key is held.
        """
        skipped, held = self._insert_new(jobs, on_conflict)
        return [
            (skipped[i], False) if i in skipped else (new_record(job, bool(held[i])), True)
            for i, job in enumerate(jobs)
        ]

    def insert_batch(
        self, jobs: Sequence[NewJob], on_conflict: str | Sequence[str] = "error"
    ) -> dict[int, JobRecord]:
        """`insert_many` for a batch that needs no records back (building one per job cost as
        much as inserting it).

        Returns:
            The holders returned instead of the jobs skipped ("skip"), by the job's index in
            `jobs`; every other job was inserted.
        """
        return self._insert_new(jobs, on_conflict)[0]

    def _insert_new(
        self, jobs: Sequence[NewJob], on_conflict: str | Sequence[str]
    ) -> tuple[dict[int, JobRecord], list[int]]:
        """`insert_many`'s work: the holders of the skipped jobs by index, and for each job
        whether it took its key (1) or not (0, also for a skipped one)."""
        if not jobs:
            return {}, []
        with immediate(self.db):
            if not any(job.key for job in jobs):  # the common batch: no key rule to apply
                self._write_new(jobs, [0] * len(jobs))
                return {}, [0] * len(jobs)
            holders = self._holders_of(jobs)
            skipped: dict[int, JobRecord] = {}
            held: list[int] = []
            written: list[NewJob] = []
            written_held: list[int] = []
            modes = [on_conflict] * len(jobs) if isinstance(on_conflict, str) else on_conflict
            for i, (job, mode) in enumerate(zip(jobs, modes, strict=True)):
                pair = (job.method, job.key)
                holder = holders.get(pair) if job.key else None
                if holder is not None and mode == "skip":
                    skipped[i] = holder
                    held.append(0)
                    continue
                if holder is not None and mode != "queue":
                    raise JobKeyConflict(job.method, job.key, holder.uuid)
                takes = bool(job.key) and holder is None
                if takes:
                    holders[pair] = new_record(job, True)
                held.append(int(takes))
                written.append(job)
                written_held.append(int(takes))
            self._write_new(written, written_held)
        return skipped, held

    def _write_new(self, jobs: Sequence[NewJob], held: Sequence[int]) -> None:
        """Insert new jobs in the open transaction, `held[i]` whether job i takes its key.

        SQLite: multi-row INSERTs (see `newrows`). PostgreSQL: COPY, about three times the
        rate of psycopg's pipelined executemany (multi-row VALUES was slower still).
        """
        if self._sqlite:
            with driver_errors():
                cursor = self.db.cursor()
                for sql, runs in newrows.inserts(jobs, held, self._max_params()):
                    if len(runs) == 1:
                        cursor.execute(sql, runs[0])
                    else:
                        cursor.executemany(sql, runs)
            return
        with driver_errors(), self.db.cursor().copy(self.sql.copy_new) as copy:
            for job, h in zip(jobs, held, strict=True):
                copy.write_row((*job, bool(h), ACTIVE, 1, False, ""))

    def _max_params(self) -> int:
        """How many parameters one SQLite statement may take (32766 since SQLite 3.32)."""
        if self._params_limit is None:
            conn = self.db.connection()
            self._params_limit = int(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        return self._params_limit

    def _holders_of(self, jobs: Sequence[NewJob]) -> dict[tuple[str, str], JobRecord | None]:
        """Lock the batch's keys (PostgreSQL) and read their active holders."""
        pairs = sorted({(j.key, j.method) for j in jobs if j.key})
        holders: dict[tuple[str, str], JobRecord | None] = {}
        if not pairs:
            return holders
        if not self._sqlite:
            self.db.execute_sql(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                ([m + "\x1f" + k for k, m in pairs],),
            )
        methods = sorted({m for _, m in pairs})
        keys = sorted({k for k, _ in pairs})
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            sql = self.sql.holders(len(methods), len(chunk))
            for row in self._run(sql, [*methods, *chunk]):
                rec = from_tuple(row)
                holders[(rec.method, rec.key)] = rec
        return holders

    def _lock_key(self, method: str, key: str) -> None:
        if not self._sqlite:
            self.db.execute_sql(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (method + "\x1f" + key,)
            )

    def _holder(self, method: str, key: str) -> JobRecord | None:
        rows = self._run(self.sql.holder, (method, key))
        return from_tuple(rows[0]) if rows else None

    # -- claim ----------------------------------------------------------------------------

    def claim(
        self,
        engine_id: str,
        limit: int,
        now_ms: int,
        queues: Sequence[str] | None = None,
        *,
        handed: bool = False,
    ) -> list[JobRecord]:
        """Take up to `limit` runnable jobs for `engine_id`: priority first, then arrival.

        A job is runnable when ACTIVE, unclaimed, due (`run_after_ms` <= now) and either keyless
        or the holder of its key. Each job goes to exactly one engine: one UPDATE that picks and
        marks (SKIP LOCKED on PostgreSQL; SQLite's single writer) and re-checks that the job is
        unclaimed. With `handed` the jobs are marked as given to workers at once (see `hand`).
        """
        if limit <= 0:
            return []
        return self._claim_in_txn(engine_id, limit, now_ms, queues, handed)  # one statement

    def _claim_in_txn(
        self,
        engine_id: str,
        limit: int,
        now_ms: int,
        queues: Sequence[str] | None,
        handed: bool = False,
    ) -> list[JobRecord]:
        qs = list(queues) if queues is not None else []
        if queues is not None and not qs:
            return []
        sql = self.sql.claim_one_statement(len(qs))
        rows = self._run(sql, (engine_id, handed, now_ms, *qs, limit))
        rows.sort(key=lambda r: (-r[1 + _PRIORITY], r[0]))
        return [from_tuple(r[1:]) for r in rows]

    def unclaim(self, uuids: Iterable[str], owner: str | None = None) -> None:
        """Give claimed jobs that never started back to the queue (only `owner`'s, if given)."""
        ids = list(uuids)
        if ids:
            cond = J.uuid.in_(ids) & (J.state == ACTIVE) & J.started_ms.is_null()
            if owner is not None:
                cond &= J.claimed_by == owner
            with immediate(self.db):
                J.update(claimed_by=None, handed=False).where(cond).execute(self.db)

    def hand(self, owner: str, uuids: Sequence[str]) -> set[str]:
        """Mark claimed jobs as given to workers, before any of them can start.

        This is the fencing point: a job is marked only while `owner` still holds it, and
        only marked jobs go to workers. A dead engine's marked jobs may have started before it
        could record so; the settling engine fails them instead of running them again.

        Returns:
            The uuids marked; the others now belong to another engine, or ended.
        """
        out: set[str] = set()
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            out.update(r[0] for r in self._run(self.sql.hand(len(chunk)), (owner, *chunk)))
        return out

    def handed_by(self, engine_ids: Sequence[str]) -> set[str]:
        """ACTIVE jobs of `engine_ids` that were given to a worker."""
        query = J.select(J.uuid).where(
            J.claimed_by.in_(list(engine_ids)) & (J.state == ACTIVE) & (J.handed == True)  # noqa: E712
        )
        return {r[0] for r in query.tuples().execute(self.db)}

    # -- record outcomes --------------------------------------------------------------------

    def record(
        self,
        batch: Batch,
        *,
        claim_for: str | None = None,
        claim_limit: int = 0,
        now_ms: int = 0,
        queues: Sequence[str] | None = None,
        owner: str | None = None,
        hand: Sequence[str] = (),
        hand_claimed: int = 0,
    ) -> tuple[Recorded, list[JobRecord]]:
        """Write a batch of worker reports and, in the same transaction, claim new jobs.

        With `owner`, starts and outcomes are written only for jobs `owner` still holds: an
        engine that another one settled (and whose jobs may run elsewhere now) writes nothing
        over them. `hand` names claimed jobs to mark as given to workers, and the first
        `hand_claimed` of the newly claimed ones are marked too (`Recorded.handed`).

        Returns:
            What changed, and the newly claimed jobs (empty unless `claim_for` is given).
        """
        if not batch and not hand and not (claim_for and claim_limit > 0):
            return Recorded([], []), []
        if not batch and not hand and claim_for and hand_claimed >= claim_limit:
            # A bare claim of jobs that all go to workers: one statement on PostgreSQL.
            claimed = self.claim(claim_for, claim_limit, now_ms, queues, handed=True)
            return Recorded([], [], handed=frozenset(r.uuid for r in claimed)), claimed
        if owner and not hand and not claim_limit and self._ended_plainly(batch, owner):
            return Recorded([batch.finishes[0].uuid], []), []
        ending = {f.uuid for f in batch.finishes}
        with_end = {u: s for u, s in batch.started.items() if u in ending}
        with immediate(self.db):
            self._write_started(batch, owner, skip=with_end)
            self._write_progress(batch)
            self._run_many(self.sql.message, batch.messages)
            recorded = self._write_finishes(batch.finishes, owner, with_end)
            handed = self.hand(owner, hand) if owner and hand else set()
            claimed = (
                self._claim_in_txn(claim_for, claim_limit, now_ms, queues)
                if claim_for and claim_limit > 0
                else []
            )
            if claim_for and claimed and hand_claimed > 0:
                handed |= self.hand(claim_for, [r.uuid for r in claimed[:hand_claimed]])
        return replace(recorded, handed=frozenset(handed)), claimed

    def _ended_plainly(self, batch: Batch, owner: str) -> bool:
        """A lone plain completion (the latency case): one conditional UPDATE, its own
        transaction. False, having written nothing, for anything else."""
        if batch.progress or batch.messages or len(batch.finishes) != 1:
            return False
        fin = batch.finishes[0]
        if not fin.is_plain or fin.state != "COMPLETED" or fin.holds_resources:
            return False
        if len(batch.started) > (fin.uuid in batch.started):
            return False  # other jobs' starts to write: the batch path
        params = (*end_params(fin, None, batch.started.get(fin.uuid)), owner)
        return bool(self._run(self.sql.end_plain, params))

    def _write_started(
        self, batch: Batch, owner: str | None = None, skip: Collection[str] = ()
    ) -> None:
        """Write the batch's starts, but those in `skip` (written with their ends)."""
        starts = [(u, s) for u, s in batch.started.items() if u not in skip]
        if owner is None:
            rows = [(ms, host, pid, uuid) for uuid, (ms, host, pid) in starts]
            self._run_many(self.sql.started, rows)
        else:
            owned = [(ms, host, pid, u, owner) for u, (ms, host, pid) in starts]
            self._run_many(self.sql.started_owned, owned)

    def _write_progress(self, batch: Batch) -> None:
        rows = [(pct, text, uuid) for uuid, (pct, text) in batch.progress.items()]
        self._run_many(self.sql.progress, rows)

    def _write_finishes(
        self,
        finishes: Sequence[Finish],
        owner: str | None = None,
        starts: Mapping[str, tuple[int, str, int]] | None = None,
    ) -> Recorded:
        """End `finishes` (only `owner`'s jobs, if given); `starts` are starts not written
        yet, written with the ends of their jobs."""
        ended: list[str] = []
        retried: list[str] = []
        retry_at: list[int] = []
        notable: list[tuple[Finish, dict[str, Any]]] = []
        if not finishes:
            return Recorded(ended, retried)
        current = self._current([f.uuid for f in finishes], owner)
        # Before any key lock, as a scheduler pass takes it before its inserts' key locks.
        scheduled = any(row["scheduled_job"] for row in current.values())
        revision = bump(self.db) if scheduled else 0
        plain: list[tuple[Any, ...]] = []
        # Sorted so concurrent finishers take the advisory key locks in one order.
        for fin in sorted(finishes, key=lambda f: (current.get(f.uuid, {}).get("key", ""), f.uuid)):
            row = current.get(fin.uuid)
            if row is None:
                continue  # already settled elsewhere (cancel before start, dead-engine settle)
            start = starts.get(fin.uuid) if starts else None
            if start is not None:
                row["started_ms"] = start[0]  # the attempt's history sees it as started
            row["start"] = start
            delay = _retry_delay(fin, row)
            if delay is not None:
                retry_at.append(self._send_back(fin, row, delay))
                retried.append(fin.uuid)
            elif row["key"]:
                self._end(fin, row)
                ended.append(fin.uuid)
            elif is_recorded(fin, row):
                self._exec(self.sql.end_attempts, end_params(fin, appended(fin, row), start))
                ended.append(fin.uuid)
            else:
                plain.append(end_params(fin, None, start))
                ended.append(fin.uuid)
            if delay is None:
                notable.append((fin, row))
        self._run_many(self.sql.end, plain)
        self._log_ends(notable, revision)
        # An attempt that ended (retried or final) holds nothing any more: its process is gone.
        gone = [f.uuid for f in finishes if f.holds_resources and f.uuid in current]
        release_holders(self.db, gone, max(f.end_ms for f in finishes))
        return Recorded(ended, retried, min(retry_at, default=None))

    def _current(self, uuids: Sequence[str], owner: str | None) -> dict[str, dict[str, Any]]:
        """What ending them needs of the ACTIVE ones among `uuids` (only `owner`'s, if given)."""
        current: dict[str, dict[str, Any]] = {}
        names = ("method", "key", "key_held", "attempt", "retry", "scheduled_job", "started_ms")
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            query, params = self.sql.current(len(chunk), owner), [*chunk]
            if owner is not None:
                params.append(owner)
            for u, *values, attempts in self._run(query, params):
                row = dict(zip(names, values, strict=True))
                row["key_held"] = bool(row["key_held"])
                row["attempts"] = attempts
                current[u] = row
        return current

    def _log_ends(self, ends: Sequence[tuple[Finish, dict[str, Any]]], revision: int) -> None:
        """Events for runs of scheduled jobs and for failures, and the scheduled jobs' new
        state, in the transaction that ends the runs. Plain jobs that complete log nothing:
        the hot path writes no event."""
        events: list[Event] = []
        runs: list[tuple[str, str, int]] = []
        for fin, row in ends:
            sj = row["scheduled_job"]
            if sj is None and fin.state != "FAILED":
                continue
            if sj is not None:
                runs.append((sj, fin.uuid, fin.end_ms))
            events.append(end_event(fin, row["method"], sj))
        if runs:
            runs_ended(self.db, runs, revision)
        write_events(self.db, events)

    def _send_back(self, fin: Finish, row: dict[str, Any], delay_s: float) -> int:
        """Queue the job again for its next attempt; returns when it may run."""
        run_after_ms = fin.end_ms + int(delay_s * 1000)
        start = row.get("start")
        place = {"host": start[1], "pid": start[2]} if start else {}  # where the attempt ran
        J.update(
            **place,
            claimed_by=None,
            started_ms=None,
            attempt=row["attempt"] + 1,
            run_after_ms=run_after_ms,
            error_type=fin.error_type,
            error_message=fin.error_message,
            error_traceback=fin.error_traceback,
            attempts=appended(fin, row),
        ).where(J.uuid == fin.uuid).execute(self.db)
        return run_after_ms

    def _end(self, fin: Finish, row: dict[str, Any]) -> None:
        self._lock_key(row["method"], row["key"])
        start = row.get("start")
        if is_recorded(fin, row):
            self._exec(self.sql.end_attempts, end_params(fin, appended(fin, row), start))
        else:
            self._exec(self.sql.end, end_params(fin, None, start))
        if row["key_held"]:
            self._promote(row["method"], row["key"])

    def _promote(self, method: str, key: str) -> None:
        """Hand the (method, key) to the oldest job queued behind it."""
        nxt = (
            J.select(J.id)
            .where(
                (J.method == method) & (J.key == key) & (J.state == ACTIVE) & (J.key_held == False)  # noqa: E712
            )
            .order_by(J.id)
            .limit(1)
            .tuples()
            .execute(self.db)
        )
        ids = [r[0] for r in nxt]
        if ids:
            J.update(key_held=True).where(J.id == ids[0]).execute(self.db)

    # -- settle ---------------------------------------------------------------------------

    def end_now(
        self, uuids: Iterable[str], state: str, now_ms: int, error: tuple[str, str]
    ) -> list[str]:
        """End ACTIVE jobs outright (cancel before start, dead engine); returns those ended."""
        finishes = [
            Finish(u, state, now_ms, error_type=error[0], error_message=error[1]) for u in uuids
        ]
        with immediate(self.db):
            ended = self._write_finishes(finishes).ended
        return ended

    def request_cancel(self, uuid: str, now_ms: int) -> JobRecord | None:
        """Ask an ACTIVE job to stop. A job no engine has claimed ends CANCELED at once.

        Returns:
            The job after the request, or None if there is no such job.
        """
        with immediate(self.db):
            J.update(cancel_requested=True).where((J.uuid == uuid) & (J.state == ACTIVE)).execute(
                self.db
            )
            rec = self.find(uuid)
            if rec is not None and rec.state == ACTIVE and rec.claimed_by is None:
                self._write_finishes([Finish.canceled_before_start(uuid, now_ms)])
        return self.find(uuid)

    def cancel_requested(self, engine_id: str) -> list[str]:
        """ACTIVE jobs claimed by `engine_id` that somebody asked to cancel."""
        query = J.select(J.uuid).where(
            (J.claimed_by == engine_id) & (J.state == ACTIVE) & (J.cancel_requested == True)  # noqa: E712
        )
        return [r[0] for r in query.tuples().execute(self.db)]

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

    def delete_finished(self, uuids: Sequence[str], *, unclaimed: bool = False) -> list[str]:
        """Remove these jobs and their messages, the finished ones only (ACTIVE jobs stay);
        with `unclaimed`, also ACTIVE jobs no engine has claimed (none of them runs).

        One write transaction per chunk; safe beside retention, claims and other deleters: a
        job is removed once, and a job an engine claims meanwhile stays. A removed job that
        held its key hands it to the next job queued behind it.

        Returns:
            The uuids removed.
        """
        removed: list[str] = []
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            with immediate(self.db):
                gone = self._run(self.sql.delete_jobs(len(chunk), unclaimed), chunk)
                for _, method, key, held in sorted(gone, key=lambda r: (r[2], r[0])):
                    if held:
                        self._lock_key(method, key)
                        self._promote(method, key)
                self._delete_messages([r[0] for r in gone])
            removed.extend(str(r[0]) for r in gone)
        return removed

    def messages(self, uuid: str) -> list[tuple[int, str]]:
        query = M.select(M.at_ms, M.text).where(M.job_uuid == uuid).order_by(M.id)
        rows = query.tuples().execute(self.db)
        return [(int(ms), str(text)) for ms, text in rows]

    # -- retention ------------------------------------------------------------------------

    def purge(self, now_ms: int, keep_ms: int, max_finished: int) -> int:
        """Remove finished jobs ended before `now_ms - keep_ms`, then the oldest above the cap.

        ACTIVE jobs are never touched. With nothing to remove the call is one read of the
        finished-jobs index and takes no write lock, so the dispatcher may call it after every
        flush that ended jobs; otherwise each batch of up to PURGE_BATCH jobs is one short
        write transaction. Safe beside other engines purging at once: a job is removed once,
        and its messages with it.

        Returns:
            How many jobs were removed (their messages go with them).
        """
        bound = self._purge_bound(now_ms - keep_ms, max(0, max_finished))
        if bound is None:
            return 0
        params = (bound[0], bound[0], bound[1], PURGE_BATCH)
        removed = 0
        while True:
            with immediate(self.db):
                rows = self._run(self.sql.purge, params)
                n = len(rows) if self._sqlite else int(rows[0][0])
                if self._sqlite:
                    self._delete_messages([r[0] for r in rows])
            removed += n
            if n < PURGE_BATCH:
                return removed

    def _purge_bound(self, cutoff_ms: int, max_finished: int) -> tuple[int, int] | None:
        """The newest (end_ms, id) to remove: the cap's edge or the age cutoff, whichever is
        later; None when nothing is due."""
        found = dict(self._run(purge_check(max_finished + 1)))
        edge: tuple[int, int] | None = None
        if found.get(1, 0) > max_finished:
            rows = self._run(self.sql.purge_edge, (max_finished,))
            edge = (int(rows[0][0]), int(rows[0][1])) if rows else None
        oldest = found.get(0)
        if oldest is not None and oldest < cutoff_ms:
            by_age = (cutoff_ms - 1, _MAX_ID)
            return by_age if edge is None or edge < by_age else edge
        return edge

    def _delete_messages(self, uuids: Sequence[str]) -> None:
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            self._exec(_DELETE_MESSAGES.format(marks=self.sql.marks(len(chunk))), chunk)


PURGE_BATCH = 1000
_MAX_ID = 2**63 - 1
_DELETE_MESSAGES = "DELETE FROM job_message WHERE job_uuid IN ({marks})"
_PRIORITY = _RECORD_FIELDS.index("priority")


def _retry_delay(fin: Finish, row: dict[str, Any]) -> float | None:
    """Seconds until another attempt, or None when this outcome is final (`retry_delay_s`)."""
    if fin.state != "FAILED":
        return None
    policy = Retry(**json.loads(row["retry"])) if row["retry"] else None
    return retry_delay_s(int(row["attempt"]), policy, fin.retry_delay_s)


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
