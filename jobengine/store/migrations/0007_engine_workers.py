"""What each engine serves: its number of workers and its queues (JSON list; NULL: every
queue), for `engine.status`, `jobengine status` and the console's engines screen.

An engine registered before this migration shows 0 workers (unknown) until it registers again.
"""


def up(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE engine ADD COLUMN workers INTEGER NOT NULL DEFAULT 0")
    db.execute_sql("ALTER TABLE engine ADD COLUMN queues TEXT")


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE engine DROP COLUMN queues")
    db.execute_sql("ALTER TABLE engine DROP COLUMN workers")
