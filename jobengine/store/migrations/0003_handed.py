"""A claimed job is `handed` once its engine gives it to a worker, which may start it at once.

A dead engine's handed jobs may have started before it could record so: they end FAILED rather
than go back to the queue, so no job runs twice (the fencing rule).
"""


def up(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE background_job ADD COLUMN handed BOOLEAN NOT NULL DEFAULT FALSE")


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE background_job DROP COLUMN handed")
