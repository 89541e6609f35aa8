"""Connect to the store: the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlparse

import peewee

from jobengine.errors import JobEngineError, StoreError
from jobengine.store import driver

DEFAULT_URL = "sqlite:///jobengine.db"
BUSY_TIMEOUT_MS = 30_000  # how long an SQLite statement waits for another writer
IDLE_IN_TRANSACTION_MS = 5_000  # PostgreSQL ends a transaction left idle this long


@dataclass(frozen=True)
class Target:
    """A parsed store URL and its canonical identity.

    `key` is equal for two spellings of one store: the resolved file path for SQLite
    (relative, absolute, through a symlink), ``postgresql://user@host:port/dbname`` with
    libpq's defaults filled in for PostgreSQL.
    """

    kind: str  # "sqlite" or "postgresql"
    url: str
    path: str = ""  # SQLite file path (absolute)
    key: str = ""
    read_only: bool = False  # SQLite `?mode=ro`: the file is opened read-only


def parse_url(url: str) -> Target:
    """Parse `sqlite:///relative.db`, `sqlite:////abs.db` (either with `?mode=ro` to open the
    file read-only) or `postgresql://...`.

    Raises:
        StoreError: for any other scheme, an SQLite URL without a file, or an SQLite option
            other than `mode=ro`.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw, _, query = url[len("sqlite://") :].partition("?")
        raw = unquote(raw)
        path = raw[1:] if raw.startswith("/") else raw
        if not path or path == ":memory:":
            raise StoreError(f"store URL {url!r}: give an SQLite file, e.g. sqlite:///jobengine.db")
        options = parse_qs(query, keep_blank_values=True)
        if options and options != {"mode": ["ro"]}:
            raise StoreError(f"store URL {url!r}: the only SQLite option is ?mode=ro (read-only)")
        return Target(
            "sqlite", url, os.path.abspath(path), os.path.realpath(path), read_only=bool(options)
        )
    if parsed.scheme in ("postgresql", "postgres"):
        # One spelling for the driver: libpq reads a URI given as the database name only when
        # it starts with postgresql://.
        url = "postgresql://" + url.partition("://")[2]
        return Target("postgresql", url, key=_pg_key(url))
    raise StoreError(
        f"store URL {url!r}: unknown scheme {parsed.scheme!r} "
        "(use sqlite:///FILE or postgresql://USER@HOST:PORT/DB)"
    )


def explain_open_error(target: Target, exc: BaseException) -> str:
    """Why the store could not be opened, in words a user can act on."""
    text = str(exc)
    if target.kind != "sqlite":
        return text
    folder = os.path.dirname(target.path)
    if not os.path.isdir(folder):
        return f"{text}: the folder {folder} does not exist"
    if "locked" in text:
        return f"{text}: another process holds a lock on {target.path}"
    if not os.path.exists(target.path) and not os.access(folder, os.W_OK):
        return f"{text}: the folder {folder} is not writable"
    return text


def _pg_key(url: str) -> str:
    """``postgresql://user@host:port/dbname``, with libpq's defaults (environment, then
    built-in) for what the URL leaves out; query parameters override the URL's parts."""
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items() if v}
    env = os.environ
    host = query.get("host") or unquote(parsed.hostname or "") or env.get("PGHOST") or "localhost"
    port = query.get("port") or (str(parsed.port) if parsed.port else env.get("PGPORT", "5432"))
    user = query.get("user") or unquote(parsed.username or "") or env.get("PGUSER") or ""
    user = user or getpass.getuser()
    dbname = query.get("dbname") or unquote(parsed.path.lstrip("/")) or env.get("PGDATABASE")
    return f"postgresql://{user}@{host.lower()}:{port}/{dbname or user}"


class _Tracked:
    """Keeps every thread's connection, so closing the store closes them all.

    Peewee opens one connection per thread; a thread that ends without closing its own would
    leak it. Connections of threads that have ended are closed when the next one opens. The
    list belongs to the database object, so nothing outlives it and stores never mix.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conns: list[tuple[weakref.ref[threading.Thread], Any]] = []
        self._conns_lock = threading.Lock()
        self._released = False
        super().__init__(*args, **kwargs)

    def _connect(self) -> Any:
        if self._released:
            # A closed store stays closed: a late call must not open a connection nobody
            # will close.
            raise peewee.InterfaceError("the store is closed")
        conn = super()._connect()  # type: ignore[misc]
        with self._conns_lock:
            live = []
            for ref, c in self._conns:
                thread = ref()
                if thread is None or not thread.is_alive():
                    with contextlib.suppress(Exception):
                        c.close()
                else:
                    live.append((ref, c))
            live.append((weakref.ref(threading.current_thread()), conn))
            self._conns = live
        return conn

    def cursor(self, named_cursor: Any = None) -> Any:
        # A connection the server dropped (restart, failover, idle kill) is replaced at the next
        # statement outside a transaction; the statement that found it broken failed already.
        db: Any = self
        if not db.is_closed() and db.transaction_depth() == 0 and not db.is_connection_usable():
            with contextlib.suppress(Exception):
                db._state.conn.close()
            db._state.reset()
        return super().cursor(named_cursor)  # type: ignore[misc]

    def close_all(self) -> None:
        """Close the connections of every thread; the database opens no new ones after this."""
        with self._conns_lock:
            self._released = True
            conns, self._conns = self._conns, []
        for _, c in conns:
            with contextlib.suppress(Exception):
                c.close()
        with contextlib.suppress(Exception):
            self.close()  # type: ignore[attr-defined]

    def open_connections(self) -> int:
        """How many connections this database holds open (for tests of leaks)."""
        with self._conns_lock:
            return len(self._conns)


class _SqliteDatabase(_Tracked, peewee.SqliteDatabase):  # type: ignore[misc]
    def pin_file(self, path: str) -> None:
        """Open later connections only on a file that exists at `path` (SQLite's mode=rw).

        Once the store has opened its file, a thread that connects after the file was deleted
        fails instead of creating an empty database nobody else would see.
        """
        if not self.connect_params.get("uri"):
            self.database = f"file:{quote(path)}?mode=rw"
            self.connect_params["uri"] = True


class _PostgresqlDatabase(_Tracked, peewee.PostgresqlDatabase):  # type: ignore[misc]
    def _connect(self) -> Any:
        conn = super()._connect()
        # A process stopped inside a transaction (SIGSTOP, a paused VM) would keep its row
        # locks for as long as it stays stopped, and the engine settling it would wait on them
        # as long: the server ends such a transaction instead. Ours last milliseconds.
        conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        return conn


def open_database(target: Target) -> peewee.Database:
    """Open a peewee database for `target` (connections are per thread)."""
    if target.kind == "sqlite":
        # Turning WAL on writes the file: a read-only one keeps the journal mode it has.
        pragmas = {} if target.read_only else {"journal_mode": "wal"}
        return _SqliteDatabase(
            f"file:{quote(target.path)}?mode=ro" if target.read_only else target.path,
            uri=target.read_only,
            pragmas={
                **pragmas,
                # WAL + NORMAL: a commit survives a process crash; only an OS crash may lose
                # the last transactions, which is the usual trade for a job store.
                "synchronous": "normal",
                "busy_timeout": BUSY_TIMEOUT_MS,
                # Checkpoints fsync and take ~10 ms: a started engine runs them on a thread of
                # their own (Store.checkpoint); this only bounds the WAL when none is running.
                "wal_autocheckpoint": 20000,
                "foreign_keys": 1,
            },
            timeout=30,
            check_same_thread=False,
        )
    # A server that never answers fails a connect in 10 s instead of the OS's minutes; a URL
    # that names its own connect_timeout keeps it.
    extra = {} if "connect_timeout" in target.url else {"connect_timeout": 10}
    driver.arm()
    return _PostgresqlDatabase(target.url, prefer_psycopg3=True, **extra)


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def immediate(db: peewee.Database) -> Any:
    """A write transaction: BEGIN IMMEDIATE on SQLite (one writer), plain BEGIN on PostgreSQL."""
    if is_sqlite(db):
        return db.atomic("IMMEDIATE")
    return db.atomic()


_DRIVER_ERRORS: tuple[type[BaseException], ...] = (peewee.PeeweeException, sqlite3.Error)
_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def driver_errors() -> Any:
    """A context that turns raw driver exceptions into peewee's (then StoreError upstairs)."""
    return peewee.__dict__["__exception_wrapper__"]


def translate_errors(cls: type[_T]) -> type[_T]:
    """Wrap every public method, those of jobengine's base classes too, so no driver or
    peewee exception leaves the store.

    JobEngineError subclasses (a key conflict) pass through unchanged.
    """
    public: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # bases first: a subclass's own method wins
        if klass.__module__.startswith("jobengine."):
            public.update(
                (name, func)
                for name, func in vars(klass).items()
                if callable(func) and not name.startswith("_")
            )
    for name, func in public.items():
        setattr(cls, name, _translated(func))
    return cls


def _translated(func: _F) -> _F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except JobEngineError:
            raise
        except _DRIVER_ERRORS as exc:
            raise StoreError(f"store error in {func.__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]
