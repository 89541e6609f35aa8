"""The store: peewee models behind one DatabaseProxy, on SQLite or PostgreSQL; all SQL is here."""

from __future__ import annotations

import threading

import peewee

from jobengine.errors import StoreError
from jobengine.store.db import DEFAULT_URL, Target, database_proxy, open_database, parse_url
from jobengine.store.engines import EngineStore
from jobengine.store.jobs import JobStore
from jobengine.store.notify import Notifier, make_notifier, pack
from jobengine.store.records import Batch, Finish, JobRecord, NewJob, Recorded
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
    "pack",
    "pending",
]

_bound_lock = threading.Lock()
_bound: dict[str, object] = {"key": None, "db": None, "users": 0}


class Store:
    """One open store: the database, its verbs and its notifier."""

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.target: Target = parse_url(url)
        self.url = url
        self.db: peewee.Database = _acquire(self.target)
        self._closed = False
        try:
            if auto_migrate:
                migrate(self.db)
            elif pending(self.db):
                raise StoreError(f"store {url!r} needs migrating: run `jobengine migrate`")
        except peewee.PeeweeException as exc:
            self.close()
            raise StoreError(f"store {url!r}: {exc}") from exc
        self.jobs = JobStore(self.db)
        self.engines = EngineStore(self.db, self.jobs)
        self._notifier: Notifier | None = None
        self._notifier_lock = threading.Lock()

    @property
    def notifier(self) -> Notifier:
        with self._notifier_lock:
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
        if self._closed:
            return
        self._closed = True
        if getattr(self, "_notifier", None) is not None:
            assert self._notifier is not None
            self._notifier.close()
        _release()


def _acquire(target: Target) -> peewee.Database:
    """Bind the process-wide proxy to `target`, or share it if it is bound there already."""
    key = target.path or target.url
    with _bound_lock:
        if _bound["users"] and _bound["key"] != key:
            raise StoreError(
                f"this process already has store {_bound['key']!r} open; "
                f"one process works with one store at a time (asked for {key!r})"
            )
        if not _bound["users"]:
            db = open_database(target)
            database_proxy.initialize(db)
            _bound.update(key=key, db=db)
        _bound["users"] = int(_bound["users"]) + 1  # type: ignore[call-overload]
        db_out = _bound["db"]
        assert isinstance(db_out, peewee.Database)
        return db_out


def _release() -> None:
    with _bound_lock:
        _bound["users"] = int(_bound["users"]) - 1  # type: ignore[call-overload]
        if _bound["users"] <= 0:  # type: ignore[operator]
            db = _bound["db"]
            if isinstance(db, peewee.Database):
                db.close_all()
            _bound.update(key=None, db=None, users=0)
