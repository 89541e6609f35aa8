"""One worker process as the pool sees it: the jobs it holds, its pipes, its start-up output."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field

from jobengine.events import JobSpec
from jobengine.pool.process import WorkerLink
from jobengine.pool.protocol import FrameReader

# A job is queued only behind one that started less than this ago, and jobs queued behind one
# running longer come back to run elsewhere: the queue saves round trips for short jobs without
# holding any job long behind a slow one.
QUEUE_BEHIND_S = 0.1
# Behind jobs that take a while, a worker's queue holds about this much work: short jobs fill
# the whole pipeline (a worker never waits for the dispatcher), slower ones queue one or two
# (few jobs wait behind a slow one, and few are marked handed should the engine be settled).
QUEUED_WORK_S = 0.05
_TAIL = 4096  # bytes of start-up output kept to find its last line


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

    def timers(self) -> list[float]:
        if self.kill_at is not None:
            return [self.kill_at]
        deadline = self.deadline()
        return [] if deadline is None else [deadline]


@dataclass(eq=False)
class WorkerProcess:
    link: WorkerLink
    reader: FrameReader
    jobs: list[InFlightJob] = field(default_factory=list)  # in flight, in order; the first one runs
    sent: int = 0  # jobs sent so far
    jobs_done: int = 0
    is_retiring: bool = False  # told to exit (or exits by itself); takes no more jobs
    took_job: bool = False  # it started a job (so it did not die as it started)
    last_run_s: float | None = None  # how long its last job ran, as seen here; None: none yet
    stderr_tail: bytes = b""  # the end of what it wrote to stderr while starting

    @property
    def pid(self) -> int | None:
        return self.link.handle.pid

    @property
    def shared(self) -> list[int]:
        return self.link.shared  # type: ignore[return-value]

    @property
    def job(self) -> InFlightJob | None:
        """The job running (or about to start) in this worker."""
        return self.jobs[0] if self.jobs else None

    def find(self, uuid: str) -> InFlightJob | None:
        return next((job for job in self.jobs if job.spec.uuid == uuid), None)

    def takes_queue(self, now: float, queue_behind_s: float) -> bool:
        """Whether a job may queue behind the running one (see QUEUE_BEHIND_S)."""
        job = self.jobs[0]
        return not (
            self.is_retiring
            or job.is_lending
            or job.is_cancel_requested
            or job.kill_at is not None
            or (job.started is not None and now - job.started >= queue_behind_s)
        )

    def read_stderr(self) -> bool:
        """Copy what the worker wrote to stderr while starting to ours, keeping its end.

        Returns:
            False once the worker closed it (it started, or it is gone); the pool then stops
            watching it and calls `close_stderr`.
        """
        fd = self.link.stderr
        if fd is None:
            return False
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                chunk = b""
            if not chunk:
                return False
            self.stderr_tail = (self.stderr_tail + chunk)[-_TAIL:]
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(chunk.decode("utf-8", "replace"))
                sys.stderr.flush()

    def last_stderr_line(self) -> str:
        lines = self.stderr_tail.decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def close_stderr(self) -> None:
        fd, self.link.stderr = self.link.stderr, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """Close the pool's ends of the worker's pipes."""
        self.reader.close()
        self.link.conn.close()
        self.link.wakeup.close()
        self.close_stderr()


def describe_exit(code: int | None) -> str:
    if code is None or code >= 0:
        return str(code)
    try:
        return f"{code} ({signal.Signals(-code).name})"
    except ValueError:
        return str(code)


def kill_all(workers: list[WorkerProcess]) -> None:
    """Last resort at exit: idle workers see their pipe close; busy ones are killed."""
    for worker in workers:
        if worker.jobs:
            worker.link.handle.kill_group()
        worker.link.conn.close()
