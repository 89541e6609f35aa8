"""The pipe protocol between the pool and its workers, and the pool's reader of report frames.

Messages are marshal-encoded tuples of plain values: cheap to build and to read, and both ends
are this package, so nothing foreign is ever decoded. The first item says what follows.
  pool -> worker: ("J", uuid, method, args, kwargs, attempt, db_url) | ("X",) stop
  worker -> pool: ("S", uuid, pid) started    ("P", uuid, percent, text) progress
                  ("M", uuid, text) message   ("L", uuid) lent   ("R", uuid) resumed
                  ("B", uuid) given back unstarted
                  ("F", uuid, state, result, error_type, error_message, traceback, retry_s,
                   holds_resources)
Workers send no instants: the pool stamps each report with its own clock when it reads it.

Pipelining: the pool may send a worker up to `pipeline` jobs; the ones not yet running wait in
the pipe itself, so taking the next job costs the worker one read and no wake-up.

The pool steers jobs through `shared`, `pipeline + 2` int64 that need no reader. The n-th job
sent to a worker (counted from 1) is asked to stop when shared[n % pipeline] == n, so a request
never reaches a job it was not meant for; and every job with n <= shared[pipeline] that has not
started is given back. To have queued jobs back while a job runs (it lends its slot, runs long,
is being stopped), the pool raises shared[pipeline] and writes a byte to the worker's wake-up
pipe: a helper thread, asleep on that pipe otherwise, then reads those jobs off the job pipe.

The last item, shared[pipeline + 1], is the engine's lease (`LEASE`): the CLOCK_MONOTONIC
microsecond until which the engine has proved, through its heartbeat, that it is alive and still
owns its jobs; 0 when the pool has none. Past it a worker starts nothing and kills its running
job, so an engine that was paused and settled by another never runs a job twice (see
`jobengine.heartbeat`).
"""

from __future__ import annotations

import marshal
import socket
import struct
from dataclasses import dataclass

from jobengine.errors import ErrorInfo
from jobengine.events import (
    JobFinished,
    JobMessage,
    JobProgress,
    JobReturned,
    JobSpec,
    JobStarted,
    PoolEvent,
)
from jobengine.state import JobState

LEASE_SLOT = 1  # shared[pipeline + LEASE_SLOT] is the lease
STOP = marshal.dumps(("X",))
CANCELED_BEFORE_START = "canceled before it started"

_HEADER = struct.Struct("!i")  # multiprocess Connection framing: 4-byte size...
_BIG_HEADER = struct.Struct("!Q")  # ...or -1 then an 8-byte size
_CHUNK = 64 * 1024  # one recv() of small frames
_BIG = 64 * 1024  # a frame at least this large is read straight into its own buffer
READ_BUDGET = 8 * 1024 * 1024  # most bytes read from one worker per wake-up; the rest waits


@dataclass(frozen=True)
class SlotChange:
    """A running job started (`is_lent`) or stopped lending its slot while it waits."""

    uuid: str
    is_lent: bool


Report = PoolEvent | SlotChange


def encode_job(spec: JobSpec) -> bytes:
    """Encode the message that hands `spec` to a worker."""
    return marshal.dumps(
        ("J", spec.uuid, spec.method, spec.args, spec.kwargs, spec.attempt, spec.db_url)
    )


def decode_report(data: bytes | bytearray, at: float) -> Report:
    """Decode one message a worker sent to the pool, stamped with the pool's instant `at`."""
    message = marshal.loads(data)
    kind, uuid = message[0], message[1]
    if kind == "F":
        state, result, error_type, error_message, tb, retry_s = message[2:8]
        holds = bool(message[8]) if len(message) > 8 else True
        error = None if error_type is None else ErrorInfo(error_type, error_message, tb or "")
        return JobFinished(uuid, JobState(state), at, result, error, retry_s, holds)
    if kind == "S":
        return JobStarted(uuid, message[2], at)
    if kind == "P":
        return JobProgress(uuid, message[2], message[3], at)
    if kind == "M":
        return JobMessage(uuid, message[2], at)
    if kind == "B":
        return JobReturned(uuid)
    return SlotChange(uuid, is_lent=kind == "L")


def frame(data: bytes) -> bytes:
    """Frame `data` as multiprocess's `Connection.send_bytes` does (for fakes and tests)."""
    if len(data) > 0x7FFFFFFF:
        return _HEADER.pack(-1) + _BIG_HEADER.pack(len(data)) + data
    return _HEADER.pack(len(data)) + data


class FrameReader:
    """Split what a worker writes to its pipe into whole messages, without ever blocking.

    A frame of any size is read: a large one goes straight into a buffer of its own size, so a
    50 MB result costs one copy, not a quadratic growth. Each `read()` takes at most
    `READ_BUDGET` bytes, so one chatty worker does not starve the others; what it leaves stays in
    the pipe, which keeps the pipe readable for the next wait. Every whole message read is
    returned, however many there are.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()  # small frames and headers
        self._body: bytearray | None = None  # a large frame being filled
        self._filled = 0
        self.is_open = True  # False once the pipe reached EOF (the worker is exiting)

    def read(self, budget: int = READ_BUDGET) -> list[bytearray]:
        """Return the whole messages that arrived, oldest first; possibly none."""
        frames: list[bytearray] = []
        while budget > 0 and self.is_open:
            got = self._fill_body(budget) if self._body is not None else self._recv(budget)
            if got <= 0:
                break
            budget -= got
            if self._body is not None and self._filled == len(self._body):
                frames.append(self._body)
                self._body = None
            if self._body is None:
                self._split(frames)
        return frames

    def close(self) -> None:
        self._sock.close()

    def _recv(self, budget: int) -> int:
        try:
            chunk = self._sock.recv(min(_CHUNK, budget), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            chunk = b""
        if not chunk:
            self.is_open = False  # exiting; its sentinel tells when it is gone
            return 0
        self._buf += chunk
        return len(chunk)

    def _fill_body(self, budget: int) -> int:
        body = self._body
        assert body is not None
        view = memoryview(body)[self._filled : self._filled + budget]
        try:
            got = self._sock.recv_into(view, len(view), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            got = 0
        finally:
            view.release()
        if got == 0:
            self.is_open = False
            return 0
        self._filled += got
        return got

    def _split(self, frames: list[bytearray]) -> None:
        """Move the whole frames in the buffer to `frames`; start a large one's own buffer."""
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = _HEADER.unpack_from(buf, pos)
            start = pos + 4
            if size == -1:
                if len(buf) - pos < 12:
                    break
                (size,) = _BIG_HEADER.unpack_from(buf, start)
                start += 8
            if len(buf) >= start + size:
                frames.append(buf[start : start + size])
                pos = start + size
                continue
            if size >= _BIG:  # read the rest of it straight into its own buffer
                self._body = bytearray(size)
                have = len(buf) - start
                self._body[:have] = buf[start:]
                self._filled = have
                pos = len(buf)
            break
        del buf[:pos]  # once per read: deleting per frame would move the buffer each time
