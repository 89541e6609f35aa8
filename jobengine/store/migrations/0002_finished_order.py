"""Retention walks finished jobs newest first: index them on (end_ms, id), not end_ms alone."""


def up(migrator, db):  # type: ignore[no-untyped-def]
    # SQLite's index already ends in the rowid (= id); PostgreSQL needs id named to walk
    # ORDER BY end_ms DESC, id DESC without a sort. One definition for both keeps them alike.
    db.execute_sql("DROP INDEX IF EXISTS background_job_finished")
    db.execute_sql(
        "CREATE INDEX background_job_finished ON background_job (end_ms, id) "
        "WHERE state <> 'ACTIVE'"
    )


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP INDEX IF EXISTS background_job_finished")
    db.execute_sql(
        "CREATE INDEX background_job_finished ON background_job (end_ms) WHERE state <> 'ACTIVE'"
    )
