"""Background jobs, their messages and the engines' heartbeats."""

import peewee


def up(migrator, db):  # type: ignore[no-untyped-def]
    class BackgroundJob(peewee.Model):
        id = peewee.BigAutoField()
        uuid = peewee.CharField(max_length=36, unique=True)
        method = peewee.TextField()
        key = peewee.TextField(default="")
        key_held = peewee.BooleanField(default=False)
        description = peewee.TextField(default="")
        state = peewee.CharField(max_length=16, default="ACTIVE")
        queue = peewee.CharField(max_length=100, default="default")
        priority = peewee.IntegerField(default=0)
        args = peewee.TextField(default="[]")
        kwargs = peewee.TextField(default="{}")
        begin_ms = peewee.BigIntegerField()
        run_after_ms = peewee.BigIntegerField()
        claimed_by = peewee.CharField(max_length=36, null=True)
        started_ms = peewee.BigIntegerField(null=True)
        end_ms = peewee.BigIntegerField(null=True)
        attempt = peewee.IntegerField(default=1)
        retry = peewee.TextField(null=True)
        timeout_s = peewee.DoubleField(null=True)
        result = peewee.TextField(null=True)
        error_type = peewee.TextField(null=True)
        error_message = peewee.TextField(null=True)
        error_traceback = peewee.TextField(null=True)
        progress_percent = peewee.DoubleField(null=True)
        progress_text = peewee.TextField(null=True)
        cancel_requested = peewee.BooleanField(default=False)
        scheduled_job = peewee.CharField(max_length=36, null=True)
        parent = peewee.CharField(max_length=36, null=True)
        host = peewee.TextField(default="")
        pid = peewee.IntegerField(null=True)

        class Meta:
            database = db
            table_name = "background_job"

    class JobMessage(peewee.Model):
        id = peewee.BigAutoField()
        job_uuid = peewee.CharField(max_length=36, index=True)
        at_ms = peewee.BigIntegerField()
        text = peewee.TextField()

        class Meta:
            database = db
            table_name = "job_message"

    class Engine(peewee.Model):
        id = peewee.CharField(max_length=36, primary_key=True)
        host = peewee.TextField()
        pid = peewee.IntegerField()
        started_ms = peewee.BigIntegerField()
        heartbeat_ms = peewee.BigIntegerField()

        class Meta:
            database = db
            table_name = "engine"

    db.create_tables([BackgroundJob, JobMessage, Engine])
    # One holder per (method, key) across processes and hosts: the 1C key rule.
    db.execute_sql(
        "CREATE UNIQUE INDEX background_job_key_holder ON background_job (method, key) "
        "WHERE key_held"
    )
    # The claim query walks this index: runnable jobs by priority, then arrival.
    # (No queue column in it: a claim for any queue must walk it in order, with no sort.)
    db.execute_sql(
        "CREATE INDEX background_job_claimable ON background_job (priority DESC, id) "
        "WHERE state = 'ACTIVE' AND claimed_by IS NULL"
    )
    db.execute_sql(
        "CREATE INDEX background_job_key_waiters ON background_job (method, key, id) "
        "WHERE state = 'ACTIVE' AND NOT key_held AND key <> ''"
    )
    # Partial indexes stay out of the insert path: a new job is unclaimed and unfinished.
    db.execute_sql(
        "CREATE INDEX background_job_claimed ON background_job (claimed_by) "
        "WHERE state = 'ACTIVE' AND claimed_by IS NOT NULL"
    )
    db.execute_sql(
        "CREATE INDEX background_job_finished ON background_job (end_ms) WHERE state <> 'ACTIVE'"
    )
    # No index on begin_ms: every insert would write one more page, and the table holds only
    # active jobs and the last 1000 finished ones, so a scan for the console's filters is cheap.


def down(migrator, db):  # type: ignore[no-untyped-def]
    for table in ("job_message", "engine", "background_job"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
