"""Every attempt of a retried background job, kept as JSON on the job (`attempts`).

NULL for a job that completed on its first attempt: the hot path writes nothing more.
"""


def up(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE background_job ADD COLUMN attempts TEXT")


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("ALTER TABLE background_job DROP COLUMN attempts")
