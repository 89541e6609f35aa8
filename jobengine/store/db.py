"""Connect to the store: the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import peewee

from jobengine.errors import StoreError

DEFAULT_URL = "sqlite:///jobengine.db"

# One proxy that every model binds to; `connect` initialises it per process.
database_proxy = peewee.DatabaseProxy()


@dataclass(frozen=True)
class Target:
    """A parsed store URL."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    path: str = ""  # SQLite file path (absolute)


def parse_url(url: str) -> Target:
    """Parse `sqlite:///relative.db`, `sqlite:////abs.db` or `postgresql://...`.

    Raises:
        StoreError: for any other scheme, or an SQLite URL without a file.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw = unquote(url[len("sqlite://") :])
        path = raw[1:] if raw.startswith("/") else raw
        if not path or path == ":memory:":
            raise StoreError(f"store URL {url!r}: give an SQLite file, e.g. sqlite:///jobengine.db")
        return Target("sqlite", url, os.path.abspath(path))
    if parsed.scheme in ("postgresql", "postgres"):
        return Target("postgresql", url)
    raise StoreError(
        f"store URL {url!r}: unknown scheme {parsed.scheme!r} "
        "(use sqlite:///FILE or postgresql://USER@HOST:PORT/DB)"
    )


class _Tracked:
    """Keeps every thread's connection, so closing the store closes them all.

    Peewee opens one connection per thread; a thread that ends without closing its own would
    leak it. Connections of threads that have ended are closed when the next one opens.
    """

    def _connect(self) -> Any:
        conn = super()._connect()  # type: ignore[misc]
        with _tracked_lock:
            live = []
            for ref, c in _tracked.get(id(self), []):
                if ref() is None or not ref().is_alive():  # type: ignore[union-attr]
                    with contextlib.suppress(Exception):
                        c.close()
                else:
                    live.append((ref, c))
            live.append((weakref.ref(threading.current_thread()), conn))
            _tracked[id(self)] = live
        return conn

    def close_all(self) -> None:
        """Close the connections of every thread (call when the store is no longer used)."""
        with _tracked_lock:
            conns = _tracked.pop(id(self), [])
        for _, c in conns:
            with contextlib.suppress(Exception):
                c.close()
        with contextlib.suppress(Exception):
            self.close()  # type: ignore[attr-defined]


_tracked_lock = threading.Lock()
_tracked: dict[int, list[tuple[weakref.ref[threading.Thread], Any]]] = {}


class _SqliteDatabase(_Tracked, peewee.SqliteDatabase):  # type: ignore[misc]
    pass


class _PostgresqlDatabase(_Tracked, peewee.PostgresqlDatabase):  # type: ignore[misc]
    pass


def open_database(target: Target) -> peewee.Database:
    """Open a peewee database for `target` (connections are per thread)."""
    if target.kind == "sqlite":
        return _SqliteDatabase(
            target.path,
            pragmas={
                "journal_mode": "wal",
                # WAL + NORMAL: a commit survives a process crash; only an OS crash may lose
                # the last transactions, which is the usual trade for a job store.
                "synchronous": "normal",
                "busy_timeout": 30000,
                # Checkpoints fsync and take ~10 ms: a started engine runs them on a thread of
                # their own (Store.checkpoint); this only bounds the WAL when none is running.
                "wal_autocheckpoint": 20000,
                "foreign_keys": 1,
            },
            timeout=30,
            check_same_thread=False,
        )
    return _PostgresqlDatabase(target.url, prefer_psycopg3=True)


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def immediate(db: peewee.Database) -> Any:
    """A write transaction: BEGIN IMMEDIATE on SQLite (one writer), plain BEGIN on PostgreSQL."""
    if is_sqlite(db):
        return db.atomic("IMMEDIATE")
    return db.atomic()
