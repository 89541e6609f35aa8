"""Schema versioning: numbered migration modules applied by peewee's migrations runner."""

from __future__ import annotations

import os

import peewee
from playhouse.migrations import Runner

from jobengine.store.db import is_sqlite

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
SCHEMA_VERSION = 8  # the number of the newest migration module


def migrate(db: peewee.Database) -> list[str]:
    """Apply pending migrations; safe when several processes start at once.

    A current schema is only read, never written, so a read-only store opens.

    Returns:
        The names of the migrations applied now.
    """
    if not pending(db):
        return []
    runner = Runner(db, MIGRATIONS_DIR)
    if is_sqlite(db):
        # BEGIN IMMEDIATE serialises concurrent starters; the runner's own atomic()
        # blocks become savepoints inside it.
        with db.atomic("IMMEDIATE"):
            return list(runner.up())
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(727274)")
        return list(runner.up())


def pending(db: peewee.Database) -> list[str]:
    """Names of migrations not applied yet."""
    return [m.name for m in Runner(db, MIGRATIONS_DIR).status() if not m.applied]
