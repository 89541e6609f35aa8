"""Job functions the integration tests run in real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from jobengine.errors import JobCanceled
from jobengine.retry import RetryLater
from jobengine.runtime import current_job, lending_slot


class JobError(Exception):
    """An exception type defined outside builtins, to check qualified names."""


def add(a: int, b: int) -> int:
    return a + b


def noop() -> int:
    return 1


def fail(text: str) -> None:
    raise JobError(text)


def fail_value(text: str) -> None:
    raise ValueError(text)


def sleep_forever() -> None:
    time.sleep(1000)


def os_exit(code: int) -> None:
    os._exit(code)


def whoami() -> dict[str, Any]:
    job = current_job()
    return {"uuid": job.uuid, "attempt": job.attempt, "pid": os.getpid(), "pgid": os.getpgid(0)}


def report_progress() -> str:
    job = current_job()
    job.progress(50, "half way")
    job.message("hello from the job")
    job.progress(100)
    return "done"


def bad_progress() -> None:
    current_job().progress(150)


def check_cancel_loop() -> str:
    job = current_job()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if job.cancel_requested:
            raise JobCanceled(job.uuid, "saw cancel_requested")
        time.sleep(0.01)
    return "never canceled"


def return_after_cancel() -> str:
    job = current_job()
    while not job.cancel_requested:
        time.sleep(0.01)
    return "returned anyway"


def return_unstorable() -> object:
    return object()


def retry_later(delay: float) -> None:
    raise RetryLater(delay)


def spawn_grandchild_and_sleep(pid_file: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
    with open(pid_file, "w") as f:
        f.write(str(child.pid))
    time.sleep(1000)


def lend_and_sleep() -> None:
    with lending_slot():
        time.sleep(1000)


def lend_until_canceled() -> str:
    job = current_job()
    with lending_slot():
        while not job.cancel_requested:
            time.sleep(0.01)
    return "resumed"


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
