"""The worker process side of the pool, and the pipe protocol both sides speak.

A worker runs one background job at a time: it imports the job's method, calls it with the
decoded arguments and reports progress, messages and the outcome to the pool over its pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import marshal
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobengine import codec
from jobengine.errors import ErrorInfo, JobCanceled, MethodError, SerializationError
from jobengine.events import (
    JobFinished,
    JobMessage,
    JobProgress,
    JobReturned,
    JobSpec,
    JobStarted,
    PoolEvent,
)
from jobengine.retry import RetryLater
from jobengine.runtime import RunningJob, activate
from jobengine.state import JobState

# Messages are marshal-encoded tuples of plain values: cheap to build and to read, and both ends
# are this module, so nothing foreign is ever decoded. The first item says what follows.
#   pool -> worker: ("J", uuid, method, args, kwargs, attempt, db_url) | ("X",) stop
#   worker -> pool: ("S", uuid, pid, at) started        ("P", uuid, percent, text, at) progress
#                   ("M", uuid, text, at) message       ("L", uuid) lent  ("R", uuid) resumed
#                   ("B", uuid) given back unstarted
#                   ("F", uuid, state, at, result, error_type, error_message, traceback, retry_s)
#
# Pipelining: the pool may send a worker up to `pipeline` jobs; the ones not yet running wait in
# the pipe itself, so taking the next job costs the worker one read and no wake-up.
#
# The pool steers jobs through `shared`, `pipeline + 1` int64 that need no reader. The n-th job
# sent to a worker (counted from 1) is asked to stop when shared[n % pipeline] == n, so a request
# never reaches a job it was not meant for; and every job with n <= shared[pipeline] that has not
# started is given back. To have queued jobs back while a job runs (it lends its slot, runs long,
# is being stopped), the pool raises shared[pipeline] and writes a byte to the worker's wake-up
# pipe: a helper thread, asleep on that pipe otherwise, then reads those jobs off the job pipe.
STOP = marshal.dumps(("X",))
CANCELED_BEFORE_START = "canceled before it started"

_Outcome = tuple[str, str | None, str | None, str | None, str | None, float | None]


@dataclass(frozen=True)
class SlotChange:
    """A running job started (`is_lent`) or stopped lending its slot while it waits."""

    uuid: str
    is_lent: bool


def encode_job(spec: JobSpec) -> bytes:
    """Encode the message that hands `spec` to a worker."""
    return marshal.dumps(
        ("J", spec.uuid, spec.method, spec.args, spec.kwargs, spec.attempt, spec.db_url)
    )


def decode_report(data: bytes) -> PoolEvent | SlotChange:
    """Decode one message a worker sent to the pool."""
    message = marshal.loads(data)
    kind, uuid = message[0], message[1]
    if kind == "F":
        _, _, state, at, result, error_type, error_message, tb, retry_s = message
        error = None if error_type is None else ErrorInfo(error_type, error_message, tb or "")
        return JobFinished(uuid, JobState(state), at, result, error, retry_s)
    if kind == "S":
        return JobStarted(uuid, message[2], message[3])
    if kind == "P":
        return JobProgress(uuid, message[2], message[3], message[4])
    if kind == "M":
        return JobMessage(uuid, message[2], message[3])
    if kind == "B":
        return JobReturned(uuid)
    return SlotChange(uuid, is_lent=kind == "L")


class _PipeChannel:
    """The worker's end of the pipes: jobs in, reports out, and the pool's requests.

    The main thread reads the next job straight from the job pipe. When the pool asks for queued
    jobs back while a job runs, the helper thread reads them off the pipe instead and gives them
    back; the main thread waits for it before its next read.
    """

    def __init__(self, conn: Any, shared: Any, wakeup: Any) -> None:
        self._conn = conn
        self._shared = shared
        self._pipeline = len(shared) - 1
        self._wakeup = wakeup
        self._send_lock = threading.Lock()  # a job's own threads may report at the same time
        self._state = threading.Condition(threading.Lock())
        self._received = 0  # jobs read from the pipe; the n-th job has number n
        self._is_busy = False  # the main thread holds a job, so the helper may read the pipe
        self._is_helping = False  # the helper is reading the pipe
        self._seq = 0  # number of the running job
        self._current: str | None = None  # its uuid

    def send(self, message: tuple[Any, ...]) -> None:
        data = marshal.dumps(message)
        with self._send_lock:
            self._conn.send_bytes(data)

    def is_cancel_requested(self) -> bool:
        seq = self._seq
        return seq > 0 and self._shared[seq % self._pipeline] == seq

    def set_lending(self, uuid: str, is_lent: bool) -> None:
        if uuid == self._current:  # not a thread the job left behind
            self.send(("L" if is_lent else "R", uuid))

    # -- main thread ----------------------------------------------------------------------------

    def next_job(self) -> tuple[int, tuple[Any, ...]] | None:
        """Block until the next job arrives; None on STOP or EOF."""
        with self._state:
            while self._is_helping:
                self._state.wait()
            self._is_busy = False
        try:
            message = marshal.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            return None  # the pool is gone
        if message[0] != "J":
            return None
        with self._state:
            self._received += 1
            self._is_busy = True
            return self._received, message

    def verdict(self, seq: int) -> str:
        """What to do with job `seq` before it starts: "run", "cancel" or "give back"."""
        if seq <= self._shared[self._pipeline]:
            return "give back"
        if self._shared[seq % self._pipeline] == seq:
            return "cancel"
        return "run"

    def begin(self, uuid: str, seq: int) -> None:
        self._current, self._seq = uuid, seq

    def end(self) -> None:
        self._current, self._seq = None, 0

    # -- helper thread --------------------------------------------------------------------------

    def start_helper(self) -> None:
        threading.Thread(target=self._help, name="jobengine-give-back", daemon=True).start()

    def _help(self) -> None:
        while True:
            try:
                self._wakeup.recv_bytes()
            except (EOFError, OSError):
                return  # the pool is gone
            with self._state:
                if not self._is_busy:
                    continue  # the main thread reads the next job itself and gives it back
                self._is_helping = True
            try:
                while self._received < self._shared[self._pipeline]:
                    message = marshal.loads(self._conn.recv_bytes())
                    if message[0] != "J":
                        break  # nothing but jobs precede a give-back request
                    with self._state:
                        self._received += 1
                    self.send(("B", message[1]))
            except (EOFError, OSError):
                pass
            finally:
                with self._state:
                    self._is_helping = False
                    self._state.notify_all()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies.

    A worker's parent is the forkserver, which exits when the engine does, so a job stuck in
    a long call does not outlive an engine killed with SIGKILL. Elsewhere the worker still
    exits at its next read from the closed pipe.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    _release_forkserver()


def _release_forkserver() -> None:
    """Close the fork server's "engine alive" pipe end that every forked child inherits.

    The fork server exits when that pipe reaches EOF; while a worker holds a write end, an
    engine killed with SIGKILL leaves the fork server and its workers running forever.
    """
    try:
        from multiprocess import forkserver
    except ImportError:
        return
    server: Any = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.close(fd)
    # Jobs that use the forkserver context themselves get a fork server of their own.
    server._forkserver_alive_fd = None
    server._forkserver_address = None


def worker_main(conn: Any, shared: Any, wakeup: Any, max_jobs: int | None) -> None:
    """Run jobs from `conn` one at a time until told to stop, EOF or `max_jobs` are done.

    Args:
        conn: this worker's end of the pipe to the pool.
        shared: `pipeline + 1` shared int64 through which the pool asks jobs to stop or to be
            given back (see the protocol notes at the top of this module).
        wakeup: the read end of a pipe on which the pool asks for queued jobs back.
        max_jobs: exit after this many jobs so the pool replaces the process; None for never.
    """
    # multiprocess has already given this process the pool's sys.path and working directory, so
    # job modules import as they do in the pool. Lead a process group, so that killing the group
    # also stops the job's own subprocesses; Ctrl-C in a terminal is for the engine, which stops
    # jobs itself.
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    channel = _PipeChannel(conn, shared, wakeup)
    channel.start_helper()
    functions: dict[str, Callable[..., Any]] = {}
    done = 0
    while max_jobs is None or done < max_jobs:
        received = channel.next_job()
        if received is None:
            return
        seq, message = received
        verdict = channel.verdict(seq)
        if verdict == "give back":
            channel.send(("B", message[1]))
            continue
        if verdict == "cancel":
            canceled = JobState.CANCELED.value, None, "JobCanceled", CANCELED_BEFORE_START
            channel.send(("F", message[1], canceled[0], time.time(), *canceled[1:], None, None))
        else:
            _run_job(seq, message, channel, functions)
        done += 1


def _run_job(
    seq: int,
    message: tuple[Any, ...],
    channel: _PipeChannel,
    functions: dict[str, Callable[..., Any]],
) -> None:
    _, uuid, method, args, kwargs, attempt, db_url = message
    channel.begin(uuid, seq)
    channel.send(("S", uuid, os.getpid(), time.time()))
    job = RunningJob(uuid, attempt=attempt, method=method, db_url=db_url, channel=channel)
    try:
        with activate(job):
            outcome = _call(method, args, kwargs, channel, functions)
    finally:
        channel.end()
    state, result, error_type, error_message, tb, retry_s = outcome
    channel.send(("F", uuid, state, time.time(), result, error_type, error_message, tb, retry_s))


def _call(
    method: str,
    args: str,
    kwargs: str,
    channel: _PipeChannel,
    functions: dict[str, Callable[..., Any]],
) -> _Outcome:
    try:
        function = functions.get(method) or functions.setdefault(method, _resolve(method))
        value = function(*codec.loads(args), **codec.loads(kwargs))
    except JobCanceled as exc:
        return (JobState.CANCELED.value, None, "JobCanceled", str(exc), None, None)
    except RetryLater as exc:
        return _failed(exc, retry_s=exc.delay)
    except BaseException as exc:  # the process boundary: whatever the job raises is its outcome
        return _failed(exc)
    if channel.is_cancel_requested():
        message = "the job returned after it was asked to stop"
        return (JobState.CANCELED.value, None, "JobCanceled", message, None, None)
    try:
        result = codec.dumps(value, what="result")
    except SerializationError as exc:
        return (JobState.FAILED.value, None, "SerializationError", str(exc), None, None)
    return (JobState.COMPLETED.value, result, None, None, None, None)


def _failed(exc: BaseException, *, retry_s: float | None = None) -> _Outcome:
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    tb = "".join(traceback.format_exception(exc))
    return (JobState.FAILED.value, None, name, str(exc), tb, retry_s)


def _resolve(method: str) -> Callable[..., Any]:
    """Import the function a "pkg.module:function" path names."""
    module_name, sep, attr_path = method.partition(":")
    if not sep or not module_name or not attr_path:
        raise MethodError(f"method {method!r} is not a 'pkg.module:function' path")
    target: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise MethodError(f"method {method!r}: {attr!r} not found") from None
    if not callable(target):
        raise MethodError(f"method {method!r} is not callable")
    return target  # type: ignore[no-any-return]
