"""Hand-written SQL for the hot paths (insert, claim, finish, state reads).

Building a peewee query costs about 0.3 ms of Python per statement, more than SQLite takes
to run it; these statements are built once per store and run with parameters. Both backends
accept them as written, apart from the placeholder and the SKIP LOCKED clause.
"""

from __future__ import annotations

from dataclasses import fields

from jobengine.store.records import JobRecord, NewJob

TABLE = "background_job"
RECORD_COLUMNS = [f.name for f in fields(JobRecord)]
# Peewee's defaults live in Python, not in the schema, so the insert names them all.
NEW_COLUMNS = [*NewJob._fields, "key_held", "state", "attempt", "cancel_requested", "host"]


def _q(name: str) -> str:
    return f'"{name}"'


class HotSql:
    """The statements, with the backend's placeholder filled in."""

    def __init__(self, param: str, sqlite: bool) -> None:
        p = param
        self.p = p
        self.sqlite = sqlite
        cols = ", ".join(_q(c) for c in RECORD_COLUMNS)
        self.cols = cols
        self.insert = (
            f"INSERT INTO {TABLE} ({', '.join(_q(c) for c in NEW_COLUMNS)}) "
            f"VALUES ({', '.join([p] * len(NEW_COLUMNS))})"
        )
        self.copy_new = f"COPY {TABLE} ({', '.join(_q(c) for c in NEW_COLUMNS)}) FROM STDIN"
        self.holder = (
            f'SELECT {cols} FROM {TABLE} WHERE "method" = {p} AND "key" = {p} AND key_held'
        )
        self.find = f"SELECT {cols} FROM {TABLE} WHERE uuid = {p}"
        self.claim_head = (
            f"SELECT id FROM {TABLE} WHERE state = 'ACTIVE' AND claimed_by IS NULL "
            f"AND run_after_ms <= {p} AND (\"key\" = '' OR key_held)"
        )
        self.claim_tail = " ORDER BY priority DESC, id LIMIT " + p
        self.skip_locked = "" if sqlite else " FOR UPDATE SKIP LOCKED"
        self.started = (
            f"UPDATE {TABLE} SET started_ms = {p}, host = {p}, pid = {p} WHERE uuid = {p}"
        )
        self.started_owned = self.started + f" AND claimed_by = {p}"
        self.progress = (
            f"UPDATE {TABLE} SET progress_percent = {p}, progress_text = {p} WHERE uuid = {p}"
        )
        self.message = f"INSERT INTO job_message (job_uuid, at_ms, text) VALUES ({p}, {p}, {p})"
        self.end = (
            f"UPDATE {TABLE} SET state = {p}, end_ms = {p}, result = {p}, error_type = {p}, "
            f"error_message = {p}, error_traceback = {p}, key_held = {p}, "
            # A start not written yet is written with the end (NULLs keep what is there).
            f"started_ms = COALESCE({p}, started_ms), host = COALESCE({p}, host), "
            f"pid = COALESCE({p}, pid) WHERE uuid = {p} AND state = 'ACTIVE'"
        )
        # A plain completion (see Finish.is_plain), last parameter the owner: nothing else to
        # write, so the UPDATE is the whole transaction.
        self.end_plain = (
            self.end + f" AND claimed_by = {p} AND \"key\" = '' AND attempt = 1 "
            "AND scheduled_job IS NULL RETURNING uuid"
        )
        # The same, also writing the job's attempts (end_params with `attempts`): off the hot
        # path, for failures and for completions after a retry.
        self.end_attempts = self.end.replace(" WHERE uuid", f", attempts = {p} WHERE uuid")

        self.purge_edge = _purge_edge(p)
        self.purge = _purge(p, sqlite)

    def marks(self, n: int) -> str:
        return ", ".join([self.p] * n)

    def claim_ids(self, n_queues: int | None) -> str:
        queues = f" AND queue IN ({self.marks(n_queues)})" if n_queues else ""
        return self.claim_head + queues + self.claim_tail + self.skip_locked

    def claim_one_statement(self, n_queues: int | None) -> str:
        """Pick and mark in one statement, so a claim outside a batch write needs no BEGIN and
        COMMIT (the UPDATE is atomic on its own; SQLite runs it under its one write lock).
        Parameters: the engine id, whether the claimed jobs go to workers now (`handed`),
        then claim_ids's.

        On PostgreSQL `= ANY(ARRAY(...))` runs the pick once, as an init plan: with `IN (...)`
        the planner may rescan the LIMIT ... SKIP LOCKED subquery per row and claim more than
        the limit. SQLite runs an uncorrelated `IN (...)` once.
        """
        pick = self.claim_ids(n_queues)
        where = f"id IN ({pick})" if self.sqlite else f"id = ANY(ARRAY({pick}))"
        return (
            f"UPDATE {TABLE} SET claimed_by = {self.p}, handed = {self.p} "
            f"WHERE {where} AND claimed_by IS NULL RETURNING id, {self.cols}"
        )

    def hand(self, n: int) -> str:
        """Mark jobs handed to a worker, only those `owner` (the first parameter) still holds."""
        return (
            f"UPDATE {TABLE} SET handed = TRUE WHERE claimed_by = {self.p} "
            f"AND state = 'ACTIVE' AND uuid IN ({self.marks(n)}) RETURNING uuid"
        )

    def current(self, n: int, owner: str | None = None) -> str:
        """What writing an outcome needs of ACTIVE jobs; with `owner`, only jobs it holds, and
        on PostgreSQL locked, so a settling engine cannot take them over halfway."""
        sql = (
            f'SELECT uuid, "method", "key", key_held, attempt, retry, scheduled_job, started_ms, '
            f"attempts FROM {TABLE} "
            f"WHERE uuid IN ({self.marks(n)}) AND state = 'ACTIVE'"
        )
        if owner is None:
            return sql
        return sql + f" AND claimed_by = {self.p}" + ("" if self.sqlite else " FOR UPDATE")

    def holders(self, n_methods: int, n_keys: int) -> str:
        """Active key holders of any of the methods and any of the keys (a superset of the
        pairs the caller wants: the key-holder index serves both lists)."""
        return (
            f'SELECT {self.cols} FROM {TABLE} WHERE "method" IN ({self.marks(n_methods)}) '
            f'AND "key" IN ({self.marks(n_keys)}) AND key_held'
        )

    def delete_jobs(self, n: int, unclaimed: bool) -> str:
        """Remove finished jobs among n uuids (with `unclaimed`, ACTIVE ones no engine holds
        too); returns each one's uuid, method, key and whether it held the key."""
        waiting = " OR claimed_by IS NULL" if unclaimed else ""
        return (
            f"DELETE FROM {TABLE} WHERE uuid IN ({self.marks(n)}) "
            f"AND (state <> 'ACTIVE'{waiting}) "
            f'RETURNING uuid, "method", "key", key_held'
        )

    def find_in(self, n: int) -> str:
        return f"SELECT {self.cols} FROM {TABLE} WHERE uuid IN ({self.marks(n)})"

    def states(self, n: int) -> str:
        return f"SELECT uuid, state FROM {TABLE} WHERE uuid IN ({self.marks(n)})"


def purge_check(limit: int) -> str:
    """The oldest finished job's end_ms, and how many jobs are finished, counted up to `limit`.

    The count stops at the limit in any order, so the planner has no sort to weigh against
    the partial index (an ordered OFFSET walk made PostgreSQL sort the finished rows instead):
    with nothing to remove this one read (a probe, a few index pages) is all a purge costs,
    and it takes no write lock. The limit is written into the text, not bound: psycopg
    prepares a statement after a few runs, and a generic plan that cannot see the limit
    scanned the whole table. Right after a bulk insert, before autovacuum has analysed the
    table, PostgreSQL may scan it anyway.
    """
    finished = f"FROM {TABLE} WHERE state <> 'ACTIVE'"
    return (
        f"SELECT 0, end_ms FROM (SELECT end_ms {finished} ORDER BY end_ms, id LIMIT 1) AS oldest "
        f"UNION ALL SELECT 1, count(*) FROM (SELECT 1 AS one {finished} LIMIT {int(limit)}) "
        "AS capped"
    )


def _purge_edge(p: str) -> str:
    """The newest finished job past the cap (parameter: max_finished), read only when the
    check found more than `max_finished` finished jobs."""
    return (
        f"SELECT end_ms, id FROM {TABLE} WHERE state <> 'ACTIVE' "
        f"ORDER BY end_ms DESC, id DESC LIMIT 1 OFFSET {p}"
    )


def _purge(p: str, sqlite: bool) -> str:
    """One batch of retention: the oldest finished jobs up to a bound (end_ms, id).

    Parameters: bound end_ms (twice), bound id, batch size. The inner select walks the
    finished index from its oldest end and stops after a batch. PostgreSQL removes the jobs'
    messages in the same statement (`= ANY(ARRAY(...))` keeps both deletes on their
    indexes whatever the statistics say); on SQLite the caller does it with the uuids returned.
    """
    doomed = (
        f"SELECT id FROM {TABLE} WHERE state <> 'ACTIVE' AND end_ms <= {p} "
        f"AND (end_ms < {p} OR id <= {p}) ORDER BY end_ms, id LIMIT {p}"
    )
    # The outer state test re-checks each row as it is deleted: ACTIVE jobs are never removed,
    # whatever the subquery saw.
    if sqlite:
        return f"DELETE FROM {TABLE} WHERE id IN ({doomed}) AND state <> 'ACTIVE' RETURNING uuid"
    return (
        f"WITH doomed AS (DELETE FROM {TABLE} WHERE id = ANY(ARRAY({doomed})) "
        "AND state <> 'ACTIVE' RETURNING uuid), "
        "gone AS (DELETE FROM job_message WHERE job_uuid = ANY(ARRAY(SELECT uuid FROM doomed))) "
        "SELECT count(*) FROM doomed"
    )
