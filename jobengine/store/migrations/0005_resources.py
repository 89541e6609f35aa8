"""Resource queues (Robin): resources with read and write locks, and their tags."""

import peewee


def up(migrator, db):  # type: ignore[no-untyped-def]
    class Resource(peewee.Model):
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
            database = db
            table_name = "resource"
            # take(): the next item in status new of a queue, priority first, then age.
            indexes = ((("queue", "status", "priority", "id"), False),)

    class ResourceTag(peewee.Model):
        resource = peewee.BigIntegerField()
        tag = peewee.CharField(max_length=30)

        class Meta:
            database = db
            table_name = "resource_tag"
            primary_key = peewee.CompositeKey("resource", "tag")
            indexes = ((("tag", "resource"), False),)

    db.create_tables([Resource, ResourceTag])
    # The finish transaction of every background job releases the locks its job held: partial
    # indexes, so that look-up stays an empty index probe while no resource is locked.
    db.execute_sql(
        "CREATE INDEX resource_read_holder ON resource (read_holder) WHERE read_holder IS NOT NULL"
    )
    db.execute_sql(
        "CREATE INDEX resource_write_holder ON resource (write_holder) "
        "WHERE write_holder IS NOT NULL"
    )


def down(migrator, db):  # type: ignore[no-untyped-def]
    for table in ("resource_tag", "resource"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
