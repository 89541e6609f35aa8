"""The scheduled-job revision counter, and what a finished scheduled run changes.

Every change of a scheduled job takes the next revision inside its write transaction; the
counter's row lock orders concurrent writers, so a scheduler that read revision R has seen
every change up to R and re-reads only rows with a later one.
"""

from __future__ import annotations

from collections.abc import Sequence

import peewee

from jobengine.store.db import is_sqlite

REVISION = "scheduled_revision"


def current(db: peewee.Database) -> int:
    row = db.execute_sql(
        f"SELECT value FROM setting WHERE name = {db.param}", (REVISION,)
    ).fetchone()
    return int(row[0]) if row else 0


def bump(db: peewee.Database) -> int:
    """Take the next revision; call inside a write transaction."""
    cast = "INTEGER" if is_sqlite(db) else "BIGINT"
    db.execute_sql(
        f"UPDATE setting SET value = CAST(CAST(value AS {cast}) + 1 AS TEXT) "
        f"WHERE name = {db.param}",
        (REVISION,),
    )
    return current(db)


def runs_ended(db: peewee.Database, ended: Sequence[tuple[str, str, int]], revision: int) -> None:
    """Inside a finish transaction: runs of scheduled jobs ended, as (scheduled job, run, end);
    `revision` was taken (`bump`) before the transaction took any key lock.

    The schedule's own last end is fed by its scheduler runs only (not manual ones), and every
    such job takes a new revision so schedulers look again: a restart may be due, a repeat
    pause counts from this end, the previous run is no longer active.
    """
    p = db.param
    for sj, run, end_ms in ended:
        db.execute_sql(
            f"UPDATE scheduled_job SET revision = {p}, last_end_ms = CASE WHEN sched_job = {p} "
            f"THEN {p} ELSE last_end_ms END WHERE uuid = {p}",
            (revision, run, end_ms, sj),
        )
