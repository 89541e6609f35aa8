"""The store: each store runs the peewee models on its own database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading

import peewee

from jobengine.errors import StoreError
from jobengine.store.db import DEFAULT_URL, Target, open_database, parse_url
from jobengine.store.engines import EngineStore
from jobengine.store.jobs import JobStore
from jobengine.store.notify import Notifier, make_notifier, pack
from jobengine.store.records import Batch, Finish, JobRecord, NewJob, Recorded
from jobengine.store.rows import new_record
from jobengine.store.schema import SCHEMA_VERSION, migrate, pending

__all__ = [
    "DEFAULT_URL",
    "SCHEMA_VERSION",
    "Batch",
    "Finish",
    "JobRecord",
    "NewJob",
    "Notifier",
    "Recorded",
    "Store",
    "new_record",
    "pack",
    "pending",
]


class Store:
    """One open store: its own database, its verbs and its notifier.

    Any number of stores, on SQLite files and PostgreSQL servers, may be open in one process
    and used from any threads; each owns its connections (one per thread) and `close()`
    closes all of them.
    """

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.target: Target = parse_url(url)
        self.url = url
        self.db: peewee.Database = open_database(self.target)
        self._closed = False
        self._notifier: Notifier | None = None
        self._notifier_lock = threading.Lock()
        try:
            if auto_migrate:
                migrate(self.db)
            elif pending(self.db):
                raise StoreError(f"store {url!r} needs migrating: run `jobengine migrate`")
        except peewee.PeeweeException as exc:
            self.close()
            raise StoreError(f"store {url!r}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self.jobs = JobStore(self.db)
        self.engines = EngineStore(self.db, self.jobs)

    @property
    def key(self) -> str:
        """The store's identity: equal for two URLs that name the same database."""
        return self.target.key

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def notifier(self) -> Notifier:
        with self._notifier_lock:
            if self._closed:
                raise StoreError(f"store {self.url!r} is closed")
            if self._notifier is None:
                self._notifier = make_notifier(self.target)
            return self._notifier

    def checkpoint(self) -> None:
        """Move SQLite's write-ahead log into the database file (no-op on PostgreSQL).

        PASSIVE: never blocks writers, so the engine can run it beside the hot path.
        """
        if self.target.kind == "sqlite":
            self.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Close the notifier and every thread's connection; idempotent."""
        with self._notifier_lock:
            if self._closed:
                return
            self._closed = True
            notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.close()
        self.db.close_all()
