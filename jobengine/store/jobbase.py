"""What the background-job verbs share: their database, the hot SQL and how it is run, and the
key rule's lock and hand-over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee

from jobengine.store.db import driver_errors, is_sqlite
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.rows import ACTIVE
from jobengine.store.sql import HotSql


class JobVerbs:
    """The base of the background-job verb classes, over one peewee database."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db
        self._sqlite = is_sqlite(db)
        self.sql = HotSql(db.param, self._sqlite)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.db.execute_sql(sql, params).fetchall())

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.execute_sql(sql, params)

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) == 1:
            # psycopg runs executemany in pipeline mode, which costs an extra sync for the
            # one-row case of every lone job's report.
            self._exec(sql, rows[0])
        elif rows:
            with driver_errors():
                self.db.cursor().executemany(sql, rows)

    def _lock_key(self, method: str, key: str) -> None:
        if not self._sqlite:
            self.db.execute_sql(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (method + "\x1f" + key,)
            )

    def _promote(self, method: str, key: str) -> None:
        """Hand the (method, key) to the oldest job queued behind it."""
        nxt = (
            J.select(J.id)
            .where(
                (J.method == method) & (J.key == key) & (J.state == ACTIVE) & (J.key_held == False)  # noqa: E712
            )
            .order_by(J.id)
            .limit(1)
            .tuples()
            .execute(self.db)
        )
        ids = [r[0] for r in nxt]
        if ids:
            J.update(key_held=True).where(J.id == ids[0]).execute(self.db)
