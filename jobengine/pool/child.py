"""The worker process side of the pool: run one background job at a time, report over the pipe.

A worker imports the job's method (with `methods.resolve`, the resolver clients use too), calls
it with the decoded arguments and reports progress, messages and the outcome to the pool; the
pipe protocol is in `jobengine.pool.protocol`.
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
from collections.abc import Callable, Iterator
from typing import Any

from jobengine import codec
from jobengine.errors import JobCanceled, MethodError, SerializationError
from jobengine.limits import Limits, clip, result_error
from jobengine.methods import resolve
from jobengine.pool.process import WorkerOptions
from jobengine.pool.protocol import CANCELED_BEFORE_START
from jobengine.retry import RetryLater
from jobengine.runtime import RunningJob, activate
from jobengine.state import JobState

LEASE_CHECK_S = 0.25  # how often a busy worker looks at the engine's lease

_Outcome = tuple[str, str | None, str | None, str | None, str | None, float | None]


class _PipeChannel:
    """The worker's end of the pipes: jobs in, reports out, and the pool's requests.

    The main thread reads the next job straight from the job pipe. When the pool asks for queued
    jobs back while a job runs, the helper thread reads them off the pipe instead and gives them
    back; the main thread waits for it before its next read.
    """

    def __init__(self, conn: Any, shared: Any, wakeup: Any, engine_pid: int | None = None) -> None:
        self._engine_stat = f"/proc/{engine_pid}/stat" if engine_pid else None
        self._conn = conn
        self._shared = shared
        self._pipeline = len(shared) - 2
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

    def is_lease_lapsed(self) -> bool:
        """True once the engine's lease ran out (see protocol): it may have been settled."""
        lease = int(self._shared[self._pipeline + 1])
        return lease > 0 and time.monotonic_ns() // 1000 > lease

    def _is_engine_stopped(self) -> bool:
        """True while the engine process is stopped (Ctrl-Z, SIGSTOP): it cannot record a
        start, and another engine may settle it, so nothing starts until it runs again."""
        if self._engine_stat is None:
            return False
        try:
            with open(self._engine_stat, "rb") as f:
                state = f.read().rpartition(b")")[2][1:2]
        except OSError:
            return False  # not Linux, or gone: the lease and PDEATHSIG cover it
        return state in (b"T", b"t")

    def verdict(self, seq: int) -> str:
        """What to do with job `seq` before it starts: "run", "cancel" or "give back"."""
        if (
            seq <= self._shared[self._pipeline]
            or self.is_lease_lapsed()
            or self._is_engine_stopped()
        ):
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
        threading.Thread(target=self._watch_lease, name="jobengine-lease", daemon=True).start()

    def _watch_lease(self) -> None:
        """Kill this worker's process group once the engine's lease lapses during a job.

        The engine stopped proving it owns the job (it is paused, or cut off from the store);
        before anyone may settle it and run the job elsewhere, the job stops here.
        """
        while True:
            time.sleep(LEASE_CHECK_S)
            if self._current is not None and self.is_lease_lapsed():
                with contextlib.suppress(OSError):
                    os.killpg(os.getpgid(0), signal.SIGKILL)

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


def worker_main(conn: Any, shared: Any, wakeup: Any, stderr: Any, options: WorkerOptions) -> None:
    """Run jobs from `conn` one at a time until told to stop, EOF or `options.max_jobs` are done.

    Args:
        conn: this worker's end of the pipe to the pool.
        shared: `pipeline + 1` shared int64 through which the pool asks jobs to stop or to be
            given back (see `jobengine.pool.protocol`).
        wakeup: the read end of a pipe on which the pool asks for queued jobs back.
        stderr: the write end of a pipe that gets this process's stderr while it starts, so
            the pool can tell why a worker died before it took a job.
        options: the pool's worker options (limits, allowed modules, modules to preload).
    """
    # multiprocess has already given this process the pool's sys.path and working directory, so
    # job modules import as they do in the pool.
    with _stderr_to(stderr):
        _bootstrap(options)
    channel = _PipeChannel(conn, shared, wakeup, options.engine_pid)
    channel.start_helper()
    functions: dict[str, Callable[..., Any]] = {}
    done = 0
    while options.max_jobs is None or done < options.max_jobs:
        received = channel.next_job()
        if received is None:
            return
        seq, message = received
        verdict = channel.verdict(seq)
        if verdict == "give back":
            channel.send(("B", message[1]))
            continue
        if verdict == "cancel":
            state = JobState.CANCELED.value
            error = ("JobCanceled", CANCELED_BEFORE_START, None, None)
            channel.send(("F", message[1], state, None, *error, False))
        else:
            _run_job(seq, message, channel, functions, options)
        done += 1


@contextlib.contextmanager
def _stderr_to(pipe: Any) -> Iterator[None]:
    """Send fd 2 to `pipe` for the block; a failure in it prints its traceback there."""
    _flush_stderr()
    saved = os.dup(2)
    os.dup2(pipe.fileno(), 2)
    yield  # on an exception fd 2 stays on the pipe, where the traceback goes as the child exits
    _flush_stderr()
    os.dup2(saved, 2)
    os.close(saved)
    pipe.close()


def _flush_stderr() -> None:
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()


def _bootstrap(options: WorkerOptions) -> None:
    """Lead a process group, so that killing the group also stops the job's own subprocesses;
    leave Ctrl-C in a terminal to the engine, which stops jobs itself; take back the default
    SIGTERM and SIGHUP the fork server ignores (serverside.py); import the preloads."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _die_with_parent()
    for module in options.preload:
        importlib.import_module(module)


def _run_job(
    seq: int,
    message: tuple[Any, ...],
    channel: _PipeChannel,
    functions: dict[str, Callable[..., Any]],
    options: WorkerOptions,
) -> None:
    _, uuid, method, args, kwargs, attempt, db_url = message
    channel.begin(uuid, seq)
    channel.send(("S", uuid, os.getpid()))
    job = RunningJob(
        uuid, attempt=attempt, method=method, db_url=db_url, channel=channel, limits=options.limits
    )
    try:
        with activate(job):
            outcome = _call(method, args, kwargs, channel, functions, options)
    finally:
        channel.end()
    channel.send(("F", uuid, *outcome, job.holds_resources))


def _call(
    method: str,
    args: str,
    kwargs: str,
    channel: _PipeChannel,
    functions: dict[str, Callable[..., Any]],
    options: WorkerOptions,
) -> _Outcome:
    limits = options.limits
    try:
        function = functions.get(method)
        if function is None:
            function = functions[method] = resolve(method, options.allowed_modules)
        value = function(*codec.loads(args), **codec.loads(kwargs))
    except JobCanceled as exc:
        return (JobState.CANCELED.value, None, "JobCanceled", str(exc), None, None)
    except RetryLater as exc:
        return _failed(exc, limits, retry_s=exc.delay)
    except BaseException as exc:  # the process boundary: whatever the job raises is its outcome
        return _failed(exc, limits)
    if channel.is_cancel_requested():
        message = "the job returned after it was asked to stop"
        return (JobState.CANCELED.value, None, "JobCanceled", message, None, None)
    try:
        result = codec.dumps(value, what="result")
    except SerializationError as exc:
        return (JobState.FAILED.value, None, "SerializationError", str(exc), None, None)
    refusal = result_error(result, limits.result_bytes)
    if refusal is not None:  # not shipped: the pool would only refuse to store it
        return (JobState.FAILED.value, None, "ResultError", refusal, None, None)
    return (JobState.COMPLETED.value, result, None, None, None, None)


def _failed(exc: BaseException, limits: Limits, *, retry_s: float | None = None) -> _Outcome:
    tb = "".join(traceback.format_exception(exc))
    cause = exc.__cause__
    if isinstance(exc, MethodError) and isinstance(cause, ImportError):
        exc = cause  # the job's module does not import: say why, not just that
    cut = limits.error_bytes
    return (
        JobState.FAILED.value,
        None,
        _type_name(type(exc)),
        clip(str(exc), cut, "error message"),
        clip(tb, cut, "traceback"),
        retry_s,
    )


def _type_name(cls: type[BaseException]) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
