"""Store verbs for background jobs: insert, claim, record outcomes, cancel, delete, purge.

The writers of outcomes are in `outcomes`, the reads in `jobqueries`, what they share in
`jobbase`.

Concurrency contract: every verb that changes key ownership (`key_held`) runs in one write
transaction; on PostgreSQL it also takes a transaction-scoped advisory lock on the job's
(method, key), so an insert, a finish and a promotion of the next waiter never race. The partial
unique index on (method, key) WHERE key_held is the last line of defence on both backends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from operator import itemgetter

import peewee

from jobengine.errors import JobKeyConflict, StoreError
from jobengine.store import newrows
from jobengine.store.db import driver_errors, immediate, translate_errors
from jobengine.store.jobqueries import JobQueries
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.outcomes import OutcomeWrites
from jobengine.store.records import Batch, Finish, JobRecord, NewJob, Recorded
from jobengine.store.rows import ACTIVE, from_tuple, new_record
from jobengine.store.sql import RECORD_COLUMNS, purge_check


@translate_errors
class JobStore(OutcomeWrites, JobQueries):
    """Background-job verbs over one peewee database: insert, claim, record outcomes (the
    writes in `outcomes`), cancel, delete and purge; the reads are `JobQueries`'."""

    def __init__(self, db: peewee.Database) -> None:
        super().__init__(db)
        self._params_limit: int | None = None

    def _insert_one(self, job: NewJob, held: bool) -> None:
        """The hottest statement: on SQLite, straight to the driver (peewee's wrapper costs
        more than a tenth of the insert); driver errors still become StoreError."""
        if not self._sqlite:
            self._exec(self.sql.insert, (*job, held, ACTIVE, 1, False, ""))
            return
        fields = newrows.present(job)
        sql, params = newrows.statement(fields, int(held)), newrows.params(job, fields)
        if self.db.in_transaction():
            self._exec(sql, params)
            return
        try:
            self.db.connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"could not store the job: {exc}") from exc

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
        self, jobs: Sequence[newrows.Row], on_conflict: str | Sequence[str] = "error"
    ) -> dict[int, JobRecord]:
        """`insert_many` for a batch that needs no records back (building one per job cost as
        much as inserting it), its jobs NewJobs or their values as plain tuples.

        Returns:
            The holders returned instead of the jobs skipped ("skip"), by the job's index in
            `jobs`; every other job was inserted.
        """
        return self._insert_new(jobs, on_conflict)[0]

    def _insert_new(
        self, jobs: Sequence[newrows.Row], on_conflict: str | Sequence[str]
    ) -> tuple[dict[int, JobRecord], list[int]]:
        """`insert_many`'s work: the holders of the skipped jobs by index, and for each job
        whether it took its key (1) or not (0, also for a skipped one)."""
        if not jobs:
            return {}, []
        with immediate(self.db):
            if not any(map(_key_of, jobs)):  # the common batch: no key rule to apply
                self._write_new(jobs, [0] * len(jobs))
                return {}, [0] * len(jobs)
            holders = self._holders_of(jobs)
            skipped: dict[int, JobRecord] = {}
            held: list[int] = []
            written: list[newrows.Row] = []
            written_held: list[int] = []
            modes = [on_conflict] * len(jobs) if isinstance(on_conflict, str) else on_conflict
            for i, (job, mode) in enumerate(zip(jobs, modes, strict=True)):
                pair = (job[newrows.METHOD], job[newrows.KEY])
                holder = holders.get(pair) if pair[1] else None
                if holder is not None and mode == "skip":
                    skipped[i] = holder
                    held.append(0)
                    continue
                if holder is not None and mode != "queue":
                    raise JobKeyConflict(*pair, holder.uuid)
                takes = bool(pair[1]) and holder is None
                if takes:
                    holders[pair] = new_record(NewJob._make(job), True)
                held.append(int(takes))
                written.append(job)
                written_held.append(int(takes))
            self._write_new(written, written_held)
        return skipped, held

    def _write_new(self, jobs: Sequence[newrows.Row], held: Sequence[int]) -> None:
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

    def _holders_of(self, jobs: Sequence[newrows.Row]) -> dict[tuple[str, str], JobRecord | None]:
        """Lock the batch's keys (PostgreSQL) and read their active holders."""
        pairs = sorted({(j[newrows.KEY], j[newrows.METHOD]) for j in jobs if j[newrows.KEY]})
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
_PRIORITY = RECORD_COLUMNS.index("priority")
_key_of = itemgetter(newrows.KEY)  # a job's key, read without a loop in Python
