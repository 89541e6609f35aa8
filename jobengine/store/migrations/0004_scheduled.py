"""Scheduled jobs, their occurrences, the event log and store-wide settings (the lock)."""

import peewee


def up(migrator, db):  # type: ignore[no-untyped-def]
    class ScheduledJob(peewee.Model):
        uuid = peewee.CharField(max_length=36, primary_key=True)
        metadata = peewee.TextField(index=True)
        method = peewee.TextField()
        predefined = peewee.BooleanField(default=False)
        description = peewee.TextField(default="")
        key = peewee.TextField(default="")
        use = peewee.BooleanField(default=False)
        schedule = peewee.TextField(default="{}")
        params = peewee.TextField(default="[]")
        user_name = peewee.TextField(default="")
        restart_count = peewee.IntegerField(default=3)
        restart_interval = peewee.IntegerField(default=10)
        paused = peewee.BooleanField(default=False)
        paused_until_ms = peewee.BigIntegerField(null=True)
        pause_reason = peewee.TextField(default="")
        due_from_ms = peewee.BigIntegerField()
        last_begin_ms = peewee.BigIntegerField(null=True)
        last_end_ms = peewee.BigIntegerField(null=True)
        sched_job = peewee.CharField(max_length=36, null=True)
        last_job = peewee.CharField(max_length=36, null=True)
        created_ms = peewee.BigIntegerField()
        changed_ms = peewee.BigIntegerField()
        revision = peewee.BigIntegerField(default=0, index=True)
        origin = peewee.TextField(default="{}")

        class Meta:
            database = db
            table_name = "scheduled_job"

    class Occurrence(peewee.Model):
        id = peewee.BigAutoField()
        scheduled_job = peewee.CharField(max_length=36)
        nominal_ms = peewee.BigIntegerField()
        decision = peewee.CharField(max_length=16)
        job = peewee.CharField(max_length=36, null=True)
        at_ms = peewee.BigIntegerField(index=True)
        host = peewee.TextField(default="")

        class Meta:
            database = db
            table_name = "occurrence"
            indexes = ((("scheduled_job", "nominal_ms"), True),)

    class EventLog(peewee.Model):
        id = peewee.BigAutoField()
        at_ms = peewee.BigIntegerField(index=True)
        level = peewee.CharField(max_length=8)
        event = peewee.CharField(max_length=40)
        message = peewee.TextField(default="")
        job = peewee.CharField(max_length=36, null=True)
        scheduled_job = peewee.CharField(max_length=36, null=True)
        host = peewee.TextField(default="")

        class Meta:
            database = db
            table_name = "event_log"

    class Setting(peewee.Model):
        name = peewee.CharField(max_length=100, primary_key=True)
        value = peewee.TextField()

        class Meta:
            database = db
            table_name = "setting"

    db.create_tables([ScheduledJob, Occurrence, EventLog, Setting])
    db.execute_sql(
        "CREATE INDEX event_log_scheduled ON event_log (scheduled_job, at_ms) "
        "WHERE scheduled_job IS NOT NULL"
    )
    db.execute_sql("CREATE INDEX event_log_job ON event_log (job) WHERE job IS NOT NULL")
    # "Is a run of this scheduled job active?": asked for every due occurrence. Partial, so
    # plain background jobs never write to it.
    db.execute_sql(
        "CREATE INDEX background_job_scheduled_active ON background_job (scheduled_job) "
        "WHERE state = 'ACTIVE' AND scheduled_job IS NOT NULL"
    )
    db.execute_sql(
        "CREATE INDEX background_job_scheduled ON background_job (scheduled_job, id) "
        "WHERE scheduled_job IS NOT NULL"
    )
    db.execute_sql("INSERT INTO setting (name, value) VALUES ('scheduled_revision', '0')")


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP INDEX IF EXISTS background_job_scheduled_active")
    db.execute_sql("DROP INDEX IF EXISTS background_job_scheduled")
    for table in ("setting", "event_log", "occurrence", "scheduled_job"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
