"""A `ProcessFactory` whose worker "processes" live in memory, for tests of the pool.

A `FakeProcess` is the test's hand on one worker: it reads the jobs the pool sent, reports on
them exactly as a real worker would (same frames, same messages), and dies on request. The pipe
the pool reads and the sentinel are real file descriptors, so the pool's selector treats fakes
as it treats real workers; nothing sleeps and no process starts.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import os
import socket
from typing import Any

from jobengine.pool.process import WorkerLink, WorkerOptions
from jobengine.pool.protocol import frame

_pids = itertools.count(5_000_000)  # above Linux's largest pid_max (2**22): never real


class FakeConn:
    """The pool's end of a fake pipe: it records what was sent; closed once the worker exits."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.is_closed = False
        self.is_peer_gone = False

    def send_bytes(self, data: bytes) -> None:
        if self.is_closed or self.is_peer_gone:
            raise BrokenPipeError("fake worker is gone")
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.is_closed = True


class FakeProcess:
    """One fake worker process; also its `WorkerHandle`."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.pid: int | None = next(_pids)
        self.exitcode: int | None = None
        self.killed = False
        self.conn = FakeConn()
        self.wakeup = FakeConn()
        self.shared: list[int] = [0] * (options.pipeline + 2)
        self._reports, self._pool_reports = socket.socketpair()
        self._sentinel_r, self._sentinel_w = os.pipe()
        self._stderr_r, self._stderr_w = os.pipe()
        os.set_blocking(self._stderr_r, False)
        self._read = 0  # messages from the pool read so far
        self._closed = False
        self._link = WorkerLink(
            self, self.conn, self._pool_reports, self.wakeup, self.shared, self._stderr_r
        )

    def link(self) -> WorkerLink:
        return self._link

    # -- WorkerHandle ---------------------------------------------------------------------------

    @property
    def sentinel(self) -> int:
        return self._sentinel_r

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: a fake ends the moment it is told to."""

    def kill_group(self, *, is_alive: bool = True) -> None:
        if self.exitcode is None:
            self.killed = True
            self.exit(-9)

    # -- the test's side ------------------------------------------------------------------------

    @property
    def is_alive(self) -> bool:
        return self.exitcode is None

    def received(self) -> list[tuple[Any, ...]]:
        """The messages the pool sent that the test has not read yet (jobs, STOP)."""
        new = self.conn.sent[self._read :]
        self._read = len(self.conn.sent)
        return [marshal.loads(data) for data in new]

    def send(self, *message: Any) -> None:
        """Report `message` (a protocol tuple) to the pool as a worker does."""
        self._reports.sendall(frame(marshal.dumps(message)))

    def start(self, uuid: str) -> None:
        self.send("S", uuid, self.pid)

    def progress(self, uuid: str, percent: float, text: str = "") -> None:
        self.send("P", uuid, float(percent), text)

    def message(self, uuid: str, text: str) -> None:
        self.send("M", uuid, text)

    def lend(self, uuid: str, is_lent: bool = True) -> None:
        self.send("L" if is_lent else "R", uuid)

    def give_back(self, uuid: str) -> None:
        self.send("B", uuid)

    def finish(
        self,
        uuid: str,
        state: str = "COMPLETED",
        result: str | None = "null",
        error: tuple[str, str, str] | None = None,
        retry_s: float | None = None,
    ) -> None:
        error_type, message, tb = error or (None, None, None)
        if state != "COMPLETED":
            result = None
        self.send("F", uuid, state, result, error_type, message, tb, retry_s)

    def write_stderr(self, text: str) -> None:
        os.write(self._stderr_w, text.encode())

    def exit(self, code: int = 0, stderr: str = "") -> None:
        """End the process with `code`, having written `stderr` first."""
        if self.exitcode is not None:
            return
        if stderr:
            self.write_stderr(stderr)
        self.exitcode = code
        self.conn.is_peer_gone = self.wakeup.is_peer_gone = True
        for fd in (self._stderr_w, self._sentinel_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reports.close()

    def close(self) -> None:
        """Release what is left of the fake's file descriptors (the pool closes its own)."""
        if self._closed:
            return
        self._closed = True
        self.exit(self.exitcode or 0)
        with contextlib.suppress(OSError):
            os.close(self._sentinel_r)  # a real process's sentinel belongs to it, not the pool
        if self._link.stderr is not None:  # the pool sets it to None when it closes it
            os.close(self._link.stderr)
            self._link.stderr = None
        self._pool_reports.close()


class FakeProcessFactory:
    """Starts `FakeProcess`es.

    Set `die_at_start` to `(code, stderr)` to have every new process die as it starts, or
    `fail_start` to an exception for `start` to raise.
    """

    def __init__(self) -> None:
        self.die_at_start: tuple[int, str] | None = None
        self.fail_start: Exception | None = None
        self.prepared = 0
        self.processes: list[FakeProcess] = []

    def prepare(self) -> None:
        self.prepared += 1

    def start(self, options: WorkerOptions) -> WorkerLink:
        if self.fail_start is not None:
            raise self.fail_start
        process = FakeProcess(options)
        self.processes.append(process)
        if self.die_at_start is not None:
            process.exit(*self.die_at_start)
        return process.link()

    @property
    def alive(self) -> list[FakeProcess]:
        return [p for p in self.processes if p.is_alive]

    def close(self) -> None:
        for process in self.processes:
            process.close()
