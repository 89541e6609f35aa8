"""Peewee models of the store; instants are epoch milliseconds, payloads tagged-JSON text.

The models carry no database: every query names its store's (`query.execute(db)`), so any
number of stores live in one process and a query that forgets fails instead of writing to
another store.
"""

from __future__ import annotations

import peewee


class BaseModel(peewee.Model):  # type: ignore[misc]
    class Meta:
        database = None
        legacy_table_names = False


class BackgroundJobRow(BaseModel):
    """One background job. `key_held` marks the job that owns its (method, key) right now."""

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
    handed = peewee.BooleanField(default=False)  # given to a worker: it may have started
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
    attempts = peewee.TextField(null=True)  # JSON: the attempts that ended (store/attempts.py)

    class Meta:
        table_name = "background_job"


class JobMessageRow(BaseModel):
    """A user message a job emitted (1C GetUserMessages)."""

    id = peewee.BigAutoField()
    job_uuid = peewee.CharField(max_length=36, index=True)
    at_ms = peewee.BigIntegerField()
    text = peewee.TextField()

    class Meta:
        table_name = "job_message"


class EngineRow(BaseModel):
    """A running engine and its heartbeat; a stale one is settled by the next engine."""

    id = peewee.CharField(max_length=36, primary_key=True)
    host = peewee.TextField()
    pid = peewee.IntegerField()
    started_ms = peewee.BigIntegerField()
    heartbeat_ms = peewee.BigIntegerField()
    workers = peewee.IntegerField(default=0)  # 0: unknown (registered before migration 0007)
    queues = peewee.TextField(null=True)  # JSON list of the queues it serves; NULL: every queue

    class Meta:
        table_name = "engine"


class ScheduledJobRow(BaseModel):
    """A scheduled job (1C ScheduledJob). `last_begin_ms`/`last_end_ms` are the schedule's own
    (scheduler starts only); `due_from_ms` is where the search for its next occurrence begins;
    `revision` orders changes, so schedulers re-read only what changed."""

    uuid = peewee.CharField(max_length=36, primary_key=True)
    metadata = peewee.TextField()
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
    revision = peewee.BigIntegerField(default=0)
    origin = peewee.TextField(default="{}")  # the registry's values at the last sync (JSON)

    class Meta:
        table_name = "scheduled_job"


class OccurrenceRow(BaseModel):
    """One due occurrence of a scheduled job and what was decided; unique per nominal instant."""

    id = peewee.BigAutoField()
    scheduled_job = peewee.CharField(max_length=36)
    nominal_ms = peewee.BigIntegerField()
    decision = peewee.CharField(max_length=16)
    job = peewee.CharField(max_length=36, null=True)
    at_ms = peewee.BigIntegerField()
    host = peewee.TextField(default="")

    class Meta:
        table_name = "occurrence"


class EventLogRow(BaseModel):
    """One event of the log (1C registration log)."""

    id = peewee.BigAutoField()
    at_ms = peewee.BigIntegerField()
    level = peewee.CharField(max_length=8)
    event = peewee.CharField(max_length=40)
    message = peewee.TextField(default="")
    job = peewee.CharField(max_length=36, null=True)
    scheduled_job = peewee.CharField(max_length=36, null=True)
    host = peewee.TextField(default="")

    class Meta:
        table_name = "event_log"


class SettingRow(BaseModel):
    """A store-wide setting: the scheduled-jobs lock, the scheduled-job revision counter."""

    name = peewee.CharField(max_length=100, primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "setting"


class ResourceRow(BaseModel):
    """A resource of a named resource queue (Robin). A lock is held while its holder column is
    set and its `*_until_ms` is NULL or later than now; a holder is a background job's uuid or
    ``person:<user>@<host>``."""

    id = peewee.BigAutoField()
    queue = peewee.CharField(max_length=100)
    value = peewee.TextField(default="null")
    params = peewee.TextField(default="{}")
    tags = peewee.TextField(default="[]")
    priority = peewee.IntegerField(default=0)
    status = peewee.CharField(max_length=16, default="new")
    created_ms = peewee.BigIntegerField()
    changed_ms = peewee.BigIntegerField()
    read_holder = peewee.CharField(max_length=255, null=True)
    read_until_ms = peewee.BigIntegerField(null=True)
    write_holder = peewee.CharField(max_length=255, null=True)
    write_until_ms = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "resource"


class ResourceTagRow(BaseModel):
    """One tag of a resource, for searches by tag."""

    resource = peewee.BigIntegerField()
    tag = peewee.CharField(max_length=30)

    class Meta:
        table_name = "resource_tag"
        primary_key = peewee.CompositeKey("resource", "tag")
