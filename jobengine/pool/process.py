"""How the pool starts worker processes: the `ProcessFactory` seam and the real factory.

The real factory starts workers from a multiprocess `forkserver` (or `spawn`) context without
the user's main module (see `jobengine.pool.mainless`): workers need only jobengine and the
modules of the jobs they run, each job naming its module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import Any, Protocol

import multiprocess

from jobengine.limits import DEFAULT_LIMITS, Limits
from jobengine.pool.mainless import install_main_filter, without_main
from jobengine.pool.preload import PRELOAD

CONTEXTS = ("forkserver", "spawn")


@dataclass(frozen=True)
class WorkerOptions:
    """What every worker of a pool is started with; plain data, sent to the child."""

    pipeline: int = 2
    max_jobs: int | None = 10_000
    allowed_modules: tuple[str, ...] | None = None
    limits: Limits = DEFAULT_LIMITS
    preload: tuple[str, ...] = ()  # modules each worker imports before it takes jobs
    engine_pid: int | None = None  # a worker starts nothing while this process is stopped


class WorkerHandle(Protocol):
    """A started worker process, as the pool watches and ends it."""

    @property
    def pid(self) -> int | None: ...

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable once the process has ended."""
        ...

    @property
    def exitcode(self) -> int | None: ...

    def join(self, timeout: float | None = None) -> None:
        """Wait up to `timeout` for the process to end and reap it."""

    def kill_group(self, *, is_alive: bool = True) -> None:
        """SIGKILL the process and the process group it leads (its job's children)."""


class Sender(Protocol):
    def send_bytes(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class WorkerLink:
    """One started worker: the process and the pool's ends of its pipes."""

    handle: WorkerHandle
    conn: Sender  # jobs and STOP, framed as multiprocess Connection does
    reports: socket.socket  # reports, read without blocking (see protocol.FrameReader)
    wakeup: Sender  # a byte here asks the worker to give back its queued jobs now
    shared: MutableSequence[int]  # stop and give-back requests (see protocol)
    stderr: int | None = None  # read end of what the worker writes to stderr while starting


class ProcessFactory(Protocol):
    """Starts worker processes for a pool; tests pass one whose processes live in memory.

    A pool calls `prepare` once when it starts, then `start` from its one thread whenever it
    needs a worker. Whatever `start` raises, the pool logs and retries later.
    """

    def prepare(self) -> None:
        """Get ready to start workers quickly (e.g. preload modules in a fork server)."""

    def start(self, options: WorkerOptions) -> WorkerLink:
        """Start one worker process running `child.worker_main` with `options`."""
        ...


class MultiprocessFactory:
    """Real worker processes from a multiprocess `forkserver` (default) or `spawn` context."""

    def __init__(self, context: str = "forkserver") -> None:
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        self._context_name = context
        self._ctx = multiprocess.get_context(context)

    def prepare(self) -> None:
        install_main_filter()
        if self._context_name == "forkserver":
            # The fork server imports the worker side once (and hands it sys.path); nothing of
            # the user's program: a job imports its own module when it first runs.
            self._ctx.set_forkserver_preload(PRELOAD)

    def start(self, options: WorkerOptions) -> WorkerLink:
        from jobengine.pool.child import worker_main

        ctx = self._ctx
        parent_conn, child_conn = ctx.Pipe()
        wakeup_r, wakeup_w = ctx.Pipe(duplex=False)
        stderr_r, stderr_w = ctx.Pipe(duplex=False)
        shared = ctx.RawArray("q", options.pipeline + 2)  # see protocol: the last is the lease
        process = ctx.Process(
            target=worker_main,
            args=(child_conn, shared, wakeup_r, stderr_w, options),
            name="jobengine-worker",
        )
        try:
            with without_main():
                process.start()
        except BaseException:
            for conn in (parent_conn, child_conn, wakeup_r, wakeup_w, stderr_r, stderr_w):
                conn.close()
            raise
        child_conn.close()
        wakeup_r.close()
        stderr_w.close()
        reports = socket.socket(fileno=os.dup(parent_conn.fileno()))
        stderr_fd = os.dup(stderr_r.fileno())
        stderr_r.close()
        os.set_blocking(stderr_fd, False)
        return WorkerLink(_Process(process), parent_conn, reports, wakeup_w, shared, stderr_fd)


class _Process:
    """A multiprocess Process as a `WorkerHandle`."""

    def __init__(self, process: Any) -> None:
        self._process = process

    @property
    def pid(self) -> int | None:
        return self._process.pid  # type: ignore[no-any-return]

    @property
    def sentinel(self) -> int:
        return self._process.sentinel  # type: ignore[no-any-return]

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode  # type: ignore[no-any-return]

    def join(self, timeout: float | None = None) -> None:
        self._process.join(timeout)

    def kill_group(self, *, is_alive: bool = True) -> None:
        kill_group(self._process.pid, is_alive=is_alive)


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
