"""The worker process side of the pool, and the pipe protocol both sides speak.

A worker runs one background job at a time: it imports the job's method, calls it with the
decoded arguments and reports progress, messages and the outcome to the pool over its pipe.
"""

from __future__ import annotations

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
from jobengine.events import JobFinished, JobMessage, JobProgress, JobSpec, JobStarted, PoolEvent
from jobengine.retry import RetryLater
from jobengine.runtime import RunningJob, activate
from jobengine.state import JobState

# Messages are marshal-encoded tuples of plain values: cheap to build and to read, and both ends
# are this module, so nothing foreign is ever decoded. The first item says what follows.
#   pool -> worker: ("J", uuid, method, args, kwargs, attempt, db_url) | ("X",) stop
#   worker -> pool: ("S", uuid, pid, at) started        ("P", uuid, percent, text, at) progress
#                   ("M", uuid, text, at) message       ("L", uuid) lent  ("R", uuid) resumed
#                   ("F", uuid, state, at, result, error_type, error_message, traceback, retry_s)
STOP = marshal.dumps(("X",))

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
    return SlotChange(uuid, is_lent=kind == "L")


class _PipeChannel:
    """The running job's way to the pool: the pipe plus the cancel flag the pool sets."""

    def __init__(self, conn: Any, flag: Any) -> None:
        self._conn = conn
        self._flag = flag
        self._lock = threading.Lock()  # a job's own threads may report at the same time

    def send(self, message: tuple[Any, ...]) -> None:
        data = marshal.dumps(message)
        with self._lock:
            self._conn.send_bytes(data)

    def is_cancel_requested(self) -> bool:
        return bool(self._flag.value)


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


def worker_main(conn: Any, flag: Any, max_jobs: int | None) -> None:
    """Run jobs from `conn` one at a time until told to stop, EOF or `max_jobs` are done.

    Args:
        conn: this worker's end of the pipe to the pool.
        flag: a shared byte the pool sets to ask the current job to stop.
        max_jobs: exit after this many jobs so the pool replaces the process; None for never.
    """
    # multiprocess has already given this process the pool's sys.path and working directory, so
    # job modules import as they do in the pool. Lead a process group, so that killing the group
    # also stops the job's own subprocesses; Ctrl-C in a terminal is for the engine, which stops
    # jobs itself.
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    channel = _PipeChannel(conn, flag)
    functions: dict[str, Callable[..., Any]] = {}
    done = 0
    while max_jobs is None or done < max_jobs:
        try:
            message = marshal.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the pool is gone
        if message[0] != "J":
            return
        _run_job(message, channel, functions)
        done += 1


def _run_job(
    message: tuple[Any, ...], channel: _PipeChannel, functions: dict[str, Callable[..., Any]]
) -> None:
    _, uuid, method, args, kwargs, attempt, db_url = message
    channel.send(("S", uuid, os.getpid(), time.time()))
    job = RunningJob(uuid, attempt=attempt, method=method, db_url=db_url, channel=channel)
    with activate(job):
        outcome = _call(method, args, kwargs, channel, functions)
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
