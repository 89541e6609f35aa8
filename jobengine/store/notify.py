"""Cross-process wake-ups: LISTEN/NOTIFY on PostgreSQL, datagram sockets on one SQLite host.

Messages are short strings: ``"n"`` (new runnable jobs), ``"d <uuid> ..."`` (jobs ended),
``"c <uuid> ..."`` (cancel requested), ``"s"`` (scheduled jobs changed), ``"r <queue>"``
(resources of a resource queue changed or were unlocked). They are hints only: a listener
re-reads the store before acting, so a forged or malformed message costs at most a query. A lost
message costs only latency: every listener also re-checks the store on a slow timer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import socket
import stat
import tempfile
from collections.abc import Sequence
from typing import Any, Protocol

from jobengine.errors import StoreError
from jobengine.store.db import Target

logger = logging.getLogger(__name__)

CHANNEL = "jobengine"
# A resource queue's name: what "r <queue>" wake-ups carry.
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_PG_PAYLOAD_MAX = 7000  # NOTIFY payloads must stay under 8000 bytes


class Notifier(Protocol):
    """Publishes to every listening process of one store; one listener per process."""

    def publish(self, messages: Sequence[str]) -> None:
        """Send `messages` to all listeners (this process's own included); never raises."""
        ...

    def fileno(self) -> int:
        """A descriptor that becomes readable when messages arrive."""
        ...

    def drain(self) -> list[str]:
        """Return the messages received so far without blocking."""
        ...

    def close(self) -> None: ...


def pack(prefix: str, uuids: Sequence[str], limit: int = _PG_PAYLOAD_MAX) -> list[str]:
    """Pack uuids into as few ``"<prefix> u1 u2 ..."`` messages as fit `limit` bytes."""
    out: list[str] = []
    per = max(1, (limit - len(prefix) - 1) // 37)
    for i in range(0, len(uuids), per):
        out.append(" ".join([prefix, *uuids[i : i + per]]))
    return out


_SUN_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the terminating NUL


def private_folder(*parts: str) -> str:
    """A folder under the temp directory that only this user can enter (0700, owned by us).

    Raises:
        StoreError: the folder exists but belongs to another user.
    """
    top = os.path.join(tempfile.gettempdir(), f"jobengine-{os.getuid()}")
    os.makedirs(top, mode=0o700, exist_ok=True)
    info = os.lstat(top)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise StoreError(f"wake-up folder {top} is not a folder of this user; remove it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(top, 0o700)  # only our own processes may reach the sockets inside
    folder = os.path.join(top, *parts)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


class SocketNotifier:
    """One datagram socket file per process, in a per-database folder only this user can enter."""

    def __init__(self, db_path: str) -> None:
        digest = hashlib.sha1(os.path.realpath(db_path).encode()).hexdigest()[:16]
        self.folder = private_folder(digest)
        self._name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._entry = os.path.join(self.folder, self._name)
        if len(os.fsencode(self._entry)) > _SUN_PATH_MAX:
            raise StoreError(
                f"wake-up socket path {self._entry!r} is too long; set TMPDIR to a shorter folder"
            )
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self._entry)
        self._sock.setblocking(False)
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._seen: list[str] = []
        self._seen_mtime = -1

    def publish(self, messages: Sequence[str]) -> None:
        if not messages:
            return
        for name in self._listeners():
            if name == self._name:
                continue  # this process signals itself directly, not through the socket
            for msg in messages:
                if not self._send(name, msg.encode()):
                    break

    def _listeners(self) -> list[str]:
        """The folder's entries, re-read only when the folder changed (a stat, not a listdir)."""
        try:
            mtime = os.stat(self.folder).st_mtime_ns
            if mtime != self._seen_mtime:
                self._seen = os.listdir(self.folder)
                self._seen_mtime = mtime
        except OSError:
            return []
        return self._seen

    def _send(self, name: str, data: bytes) -> bool:
        try:
            self._out.sendto(data, os.path.join(self.folder, name))
        except (ConnectionRefusedError, FileNotFoundError):
            # The listener is gone (its process died): drop its entry.
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.folder, name))
            return False
        except BlockingIOError:
            return False  # its buffer is full: it has wake-ups pending anyway
        except OSError:
            logger.debug("notify %s failed", name, exc_info=True)
            return False
        return True

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                out.append(self._sock.recv(65536).decode("utf-8", "replace"))
            except (BlockingIOError, InterruptedError):
                return out
            except OSError:
                return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._entry)
        self._sock.close()
        self._out.close()


class PgNotifier:
    """LISTEN on a dedicated autocommit connection; NOTIFY on another.

    A connection the server drops is opened again: at the next publish, and by `drain()` for
    the listener. Messages sent while it was gone are lost; the fallback polls cover them.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._listen = self._listener()
        self._talk = self._connect()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._url, autocommit=True)

    def _listener(self) -> Any:
        conn = self._connect()
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def publish(self, messages: Sequence[str]) -> None:
        for attempt in (1, 2):
            try:
                for msg in messages:
                    self._talk.execute("SELECT pg_notify(%s, %s)", (CHANNEL, msg))
                return
            except Exception:
                if attempt == 2:
                    logger.warning("NOTIFY failed; listeners fall back to polling", exc_info=True)
                    return
                with contextlib.suppress(Exception):
                    self._talk.close()
                try:
                    self._talk = self._connect()
                except Exception:
                    logger.warning("NOTIFY connection lost; listeners fall back to polling")
                    return

    def fileno(self) -> int:
        return int(self._listen.fileno())

    def drain(self) -> list[str]:
        try:
            return [n.payload for n in self._listen.notifies(timeout=0)]
        except Exception:
            logger.warning("LISTEN connection lost; opening it again")
            with contextlib.suppress(Exception):
                self._listen.close()
            try:
                self._listen = self._listener()
            except Exception:
                logger.warning("cannot LISTEN now; waiters fall back to polling")
            return []

    def close(self) -> None:
        for conn in (self._listen, self._talk):
            with contextlib.suppress(Exception):
                conn.close()


def make_notifier(target: Target) -> Notifier:
    if target.kind == "sqlite":
        return SocketNotifier(target.path)
    return PgNotifier(target.url)
