"""The store: each store runs the peewee models on its own database (SQLite or PostgreSQL)."""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

# First, before any module of the store imports peewee: psycopg waits for PostgreSQL.
from jobengine.store import driver  # noqa: F401  # isort: skip

import peewee

from jobengine.errors import StoreError, StoreLostError
from jobengine.store.db import (
    BUSY_TIMEOUT_MS,
    DEFAULT_URL,
    Target,
    explain_open_error,
    open_database,
    parse_url,
)
from jobengine.store.engines import EngineStore
from jobengine.store.eventlog import EventStore
from jobengine.store.jobs import JobStore
from jobengine.store.notify import Notifier, make_notifier, pack
from jobengine.store.records import Batch, Finish, JobRecord, NewJob, Recorded
from jobengine.store.rows import new_record
from jobengine.store.scheduled import ScheduledStore
from jobengine.store.schema import SCHEMA_VERSION, migrate, pending

if TYPE_CHECKING:
    from jobengine.store.resources import ResourceStore

TRUNCATE_WAIT_MS = 100  # the longest a truncating checkpoint holds new writers off

__all__ = [
    "DEFAULT_URL",
    "SCHEMA_VERSION",
    "Batch",
    "Checkpoint",
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


class Checkpoint(NamedTuple):
    """What an SQLite checkpoint did."""

    finished: bool  # False: other connections kept it from copying or truncating everything
    frames: int  # pages in the write-ahead log when it ran


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
            self._file_id = self._pin_file()
        except (peewee.PeeweeException, OSError) as exc:
            self.close()
            raise StoreError(f"store {url!r}: {explain_open_error(self.target, exc)}") from exc
        except BaseException:
            self.close()
            raise
        self.jobs = JobStore(self.db)
        self.engines = EngineStore(self.db, self.jobs)
        self.events = EventStore(self.db)
        self.scheduled = ScheduledStore(self.db, self.jobs)

    # Resource queues' verbs, made on first use: their module loads only when one is used.
    @functools.cached_property
    def resources(self) -> ResourceStore:
        from jobengine.store.resources import ResourceStore

        return ResourceStore(self.db)

    def _pin_file(self) -> tuple[int, int] | None:
        """The (device, inode) of the SQLite file this store opened; None on PostgreSQL."""
        if self.target.kind != "sqlite":
            return None
        if not self.target.read_only:
            self.db.pin_file(self.target.path)
        st = os.stat(self.target.path)
        return st.st_dev, st.st_ino

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

    def checkpoint(self, *, truncate: bool = False) -> Checkpoint:
        """Move SQLite's write-ahead log into the database file (no-op on PostgreSQL).

        PASSIVE by default: it never blocks writers, so the engine runs it beside the hot path.
        With `truncate` it also empties the -wal file; that holds new writers off while it
        waits for readers, so it waits at most TRUNCATE_WAIT_MS and suits an idle store.
        """
        if self.target.kind != "sqlite":
            return Checkpoint(True, 0)
        if not truncate:
            return self._checkpoint("PASSIVE")
        self._pragma(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
        try:
            return self._checkpoint("TRUNCATE")
        finally:
            self._pragma(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _checkpoint(self, mode: str) -> Checkpoint:
        busy, frames, _ = self._pragma(f"PRAGMA wal_checkpoint({mode})")
        return Checkpoint(not busy, max(0, int(frames)))

    def wal_bytes(self) -> int:
        """The size of SQLite's -wal file (0 when there is none, and on PostgreSQL)."""
        if self.target.kind != "sqlite":
            return 0
        try:
            return os.path.getsize(self.target.path + "-wal")
        except FileNotFoundError:
            return 0

    def check_file(self) -> None:
        """Check that the SQLite file at the store's path is still the one it opened.

        Raises:
            StoreLostError: the file was deleted or replaced (never on PostgreSQL).
        """
        if self._file_id is None:
            return
        try:
            st = os.stat(self.target.path)
        except FileNotFoundError:
            raise StoreLostError(self.target.path, replaced=False) from None
        if (st.st_dev, st.st_ino) != self._file_id:
            raise StoreLostError(self.target.path, replaced=True)

    def _pragma(self, sql: str) -> tuple[Any, ...]:
        row = self.db.execute_sql(sql).fetchone()
        return tuple(row) if row is not None else ()

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
