"""One worker process as the pool sees it: the jobs it holds, its pipe, how to kill it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from jobengine.events import JobSpec

# A job is queued only behind one that started less than this ago, and jobs queued behind one
# running longer come back to run elsewhere: the queue saves round trips for short jobs without
# holding any job long behind a slow one.
QUEUE_BEHIND_S = 0.1
READ_CAP = 1 << 20  # most bytes buffered from one worker per read
_HEADER = struct.Struct("!i")  # multiprocess Connection framing: 4-byte size...
_BIG_HEADER = struct.Struct("!Q")  # ...or -1 then an 8-byte size


@dataclass
class InFlightJob:
    spec: JobSpec
    seq: int  # the how-many-th job sent to its worker; names it in the worker's stop requests
    is_cancel_requested: bool = False  # asked to stop, for any reason
    is_canceled: bool = False  # by cancel(): should it come back unstarted, it ends CANCELED
    started: float | None = None  # monotonic, when the worker reported the start
    kill_at: float | None = None  # monotonic; set once the job was asked to stop
    stop_reason: str = ""  # why it was asked to stop
    grace_s: float = 0.0
    is_lending: bool = False

    def deadline(self) -> float | None:
        if self.started is None or self.spec.timeout_s is None:
            return None
        return self.started + self.spec.timeout_s


@dataclass(eq=False)
class WorkerProcess:
    process: Any
    conn: Any
    shared: Any  # int64 array: stop requests for jobs by number, then "give back up to" number
    wakeup: Any  # write end of the pipe that asks the worker to give back jobs now
    jobs: list[InFlightJob] = field(default_factory=list)  # in flight, in order; the first one runs
    sent: int = 0  # jobs sent so far
    jobs_done: int = 0
    is_retiring: bool = False  # told to exit (or exits by itself); takes no more jobs
    is_open: bool = True  # its pipe has not reached EOF
    reader: socket.socket | None = None  # a dup of the pipe, read without blocking
    inbuf: bytearray | None = None  # bytes read but not yet a whole message

    @property
    def job(self) -> InFlightJob | None:
        """The job running (or about to start) in this worker."""
        return self.jobs[0] if self.jobs else None

    def find(self, uuid: str) -> InFlightJob | None:
        return next((job for job in self.jobs if job.spec.uuid == uuid), None)

    def takes_queue(self, now: float) -> bool:
        """Whether a job may queue behind the running one (see QUEUE_BEHIND_S)."""
        job = self.jobs[0]
        return not (
            self.is_retiring
            or job.is_lending
            or job.is_cancel_requested
            or job.kill_at is not None
            or (job.started is not None and now - job.started >= QUEUE_BEHIND_S)
        )

    def read_frames(self, limit: int) -> list[bytes]:
        """Whole messages waiting on the pipe (multiprocess Connection framing), read without
        blocking; at most `limit`, the rest stay buffered."""
        buf, reader = self.inbuf, self.reader
        assert buf is not None and reader is not None
        while self.is_open and len(buf) < READ_CAP:
            try:
                chunk = reader.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.is_open = False  # exiting; its sentinel tells when it is gone
                break
            buf += chunk
        out: list[bytes] = []
        while len(out) < limit and len(buf) >= 4:
            (size,) = _HEADER.unpack_from(buf)
            start = 4
            if size == -1:
                if len(buf) < 12:
                    break
                (size,) = _BIG_HEADER.unpack_from(buf, 4)
                start = 12
            if len(buf) < start + size:
                break
            out.append(bytes(buf[start : start + size]))
            del buf[: start + size]
        return out


def timers(job: InFlightJob) -> list[float]:
    if job.kill_at is not None:
        return [job.kill_at]
    deadline = job.deadline()
    return [] if deadline is None else [deadline]


def describe_exit(code: int | None) -> str:
    if code is None or code >= 0:
        return str(code)
    try:
        return f"{code} ({signal.Signals(-code).name})"
    except ValueError:
        return str(code)


def kill_group(pid: int | None, *, is_alive: bool = True) -> None:
    """SIGKILL the process group `pid` leads.

    A live worker that has not made its group yet is killed alone. For a dead one only the group
    is tried: the group cannot be reused while it has members, but the bare pid can.
    """
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
        return
    except (ProcessLookupError, PermissionError):
        if not is_alive:
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def kill_all(workers: list[WorkerProcess]) -> None:
    """Last resort at exit: idle workers see their pipe close; busy ones are killed."""
    for worker in workers:
        if worker.jobs:
            kill_group(worker.process.pid)
        worker.conn.close()
