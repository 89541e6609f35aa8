"""peewee without psycopg until PostgreSQL is used.

peewee imports psycopg when it is itself imported, and psycopg's import (its C library and some
hundred modules) was the largest part of every command's start-up: 0.2-0.3 s of the 0.5 s an
`import peewee` took here, paid by SQLite stores that never use it, and by `jobengine run`
before its first job. So jobengine imports peewee with psycopg hidden, and gives peewee the
names its import would have set (`arm`) when a PostgreSQL store is opened, or when any code of
the process makes a `PostgresqlDatabase` (peewee's init is wrapped to arm first): the user's
own peewee code sees peewee as if nothing were deferred.

Nothing is deferred when psycopg or peewee is already imported, or when this peewee does not
have the names `arm` sets (another peewee version): then peewee is imported as it is.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType
from typing import Any

from jobengine.importing import hidden

_lock = threading.Lock()
_deferred = False


def import_peewee() -> None:
    """Import peewee, deferring psycopg if nothing imported either yet."""
    global _deferred
    if "peewee" in sys.modules or "psycopg" in sys.modules:
        return
    with hidden("psycopg"):
        import peewee
    if not _knows(peewee):  # a peewee whose import sets other names: import it whole
        del sys.modules["peewee"]
        import peewee

        return
    _deferred = True
    _wrap_init(peewee)


def arm() -> None:
    """Import psycopg and set in peewee what its import would have (idempotent)."""
    if not _deferred:
        return
    with _lock:
        import peewee

        try:
            import psycopg
            from psycopg.pq import TransactionStatus
            from psycopg.types.json import Json, Jsonb
        except ImportError:  # not installed: peewee says so when it connects
            return

        if peewee.psycopg is psycopg:
            return
        adapter: Any = peewee.Psycopg3Adapter
        adapter.txn_idle = TransactionStatus.IDLE
        adapter.txn_inerror = TransactionStatus.INERROR
        adapter.txn_unknown = TransactionStatus.UNKNOWN
        peewee.TransactionStatus = TransactionStatus
        peewee.Json_pg3, peewee.Jsonb_pg3 = Json, Jsonb
        peewee.psycopg = psycopg  # last: it is what peewee tests before using the others


def _knows(peewee: ModuleType) -> bool:
    """Is this the peewee whose deferred names `arm` knows (all present, psycopg's None)?"""
    names = vars(peewee)
    return (
        names.get("psycopg", 0) is None
        and all(n in names for n in ("Json_pg3", "Jsonb_pg3"))
        and hasattr(names.get("Psycopg3Adapter"), "server_side_cursor")
        and hasattr(names.get("PostgresqlDatabase"), "init")
    )


def _wrap_init(peewee: ModuleType) -> None:
    original = peewee.PostgresqlDatabase.init

    def init(self: Any, *args: Any, **kwargs: Any) -> Any:
        arm()
        return original(self, *args, **kwargs)

    init.__wrapped__ = original  # type: ignore[attr-defined]
    peewee.PostgresqlDatabase.init = init


import_peewee()
