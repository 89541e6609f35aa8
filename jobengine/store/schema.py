"""Schema versioning: numbered migration modules applied by peewee's migrations runner."""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING

import peewee

from jobengine.store.db import is_sqlite

if TYPE_CHECKING:
    from playhouse.migrations import Runner

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")
# Every table the migrations create, dependants first: what a test or a benchmark drops to
# start from an empty schema (and the migration runner's own table last).
TABLES = (
    "resource_tag",
    "resource",
    "job_message",
    "engine",
    "background_job",
    "scheduled_job",
    "occurrence",
    "event_log",
    "setting",
    "schema_migration",
)
HISTORY = "schema_migration"  # the runner's table of applied migrations
SCHEMA_VERSION = 8  # the number of the newest migration module


def migrate(db: peewee.Database) -> list[str]:
    """Apply pending migrations; safe when several processes start at once.

    A current schema is only read, never written, so a read-only store opens.

    Returns:
        The names of the migrations applied now.
    """
    if not pending(db):
        return []
    runner = _runner(db)
    if is_sqlite(db):
        # BEGIN IMMEDIATE serialises concurrent starters; the runner's own atomic()
        # blocks become savepoints inside it.
        with db.atomic("IMMEDIATE"):
            return list(runner.up())
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(727274)")
        return list(runner.up())


def pending(db: peewee.Database) -> list[str]:
    """Names of migrations not applied yet, oldest first.

    Read from the runner's table without the runner: importing it imports every driver peewee
    supports (psycopg among them, 0.2 s), which a current SQLite store never needs.
    """
    files = sorted(
        os.path.basename(p)[:-3] for p in glob.glob(os.path.join(MIGRATIONS_DIR, "[0-9]*.py"))
    )
    applied: set[str] = set()
    if db.table_exists(HISTORY):
        applied = {name for (name,) in db.execute_sql(f"SELECT name FROM {HISTORY}").fetchall()}
    return [name for name in files if name not in applied]


def _runner(db: peewee.Database) -> Runner:
    from playhouse.migrations import Runner

    return Runner(db, MIGRATIONS_DIR, table_name=HISTORY)
