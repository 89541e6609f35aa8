"""Job functions the integration tests run in real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
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


def signal_dispositions() -> dict[str, str]:
    """How this worker (and the subprocesses its job starts) handles SIGTERM and SIGHUP."""
    kinds = {signal.SIG_DFL: "default", signal.SIG_IGN: "ignored"}
    handlers = [signal.getsignal(getattr(signal, name)) for name in ("SIGTERM", "SIGHUP")]
    return {
        name: kinds.get(h, "handled") if isinstance(h, signal.Handlers) else "handled"
        for name, h in zip(("SIGTERM", "SIGHUP"), handlers, strict=True)
    }


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


# -- used by tests/integration/test_background*.py ------------------------------------------------


def echo(value: Any) -> Any:
    return value


def wait_for_file(path: str, timeout: float = 60.0) -> str:
    """Block until `path` exists (the test creates it), then return its text."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {timeout} s")
        time.sleep(0.01)
    with open(path) as f:
        return f.read()


def record_span(path: str, tag: str, hold: float, release: str = "") -> str:
    """Append "start <tag> <t>", hold the slot (`hold` s, or until `release` exists), "end"."""
    with open(path, "a") as f:
        f.write(f"start {tag} {time.time():.6f}\n")
    if release:
        wait_for_file(release)
    else:
        time.sleep(hold)
    with open(path, "a") as f:
        f.write(f"end {tag} {time.time():.6f}\n")
    return tag


def fail_deep(text: str) -> None:
    """Fail two calls down, so the traceback names a helper function."""
    _raise_from_helper(text)


def _raise_from_helper(text: str) -> None:
    raise JobError(text)


def progress_until_file(path: str) -> str:
    """Report progress and a message, wait for `path`, then report the rest."""
    job = current_job()
    job.progress(30, "waiting for the file")
    job.message("first message")
    wait_for_file(path)
    job.message("second message")
    job.progress(100, "done")
    return "finished"


def message_and_wait(path: str) -> None:
    current_job().message("kept until purged")
    wait_for_file(path)


def fan_out(count: int) -> dict[str, Any]:
    """Launch `count` children and wait on them (the parent lends its slot)."""
    background = current_job().engine.background
    children = [background.execute("tests.integration.jobs:add", [i, i * 10]) for i in range(count)]
    assert background.wait(children, timeout=60)
    one = children[0].result()
    return {
        "total": sum(child.result() for child in children),
        "first": one,
        "children": [child.uuid for child in children],
    }


def echo_logged(folder: str, value: Any) -> Any:
    """Return `value`; append this job's uuid to a file per engine tag and worker pid."""
    tag = os.environ.get("JOBENGINE_TEST_TAG", "untagged")
    with open(os.path.join(folder, f"{tag}-{os.getpid()}.log"), "a") as f:
        f.write(current_job().uuid + "\n")
    return value


# -- used by tests/integration/test_pool.py (pipelining) ------------------------------------------


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def lend_until_file(path: str) -> str:
    """Lend the slot (as a job waiting on children does) until `path` exists.

    Creates `path` + ".lent" once lending, so a test knows when it started.
    """
    with lending_slot():
        with open(path + ".lent", "w"):
            pass
        return wait_for_file(path)


def launch_child_and_wait(delay: float) -> int:
    """Launch a child, give the dispatcher `delay` s to queue it behind us, then wait on it."""
    background = current_job().engine.background
    child = background.execute("tests.integration.jobs:add", [40, 2])
    time.sleep(delay)
    if not background.wait([child], timeout=20):
        raise TimeoutError("the child did not finish: it is stuck behind its parent")
    return int(child.result())


def retry_until(attempts: int) -> int:
    """Ask for another attempt until the `attempts`-th one, which returns its number."""
    job = current_job()
    if job.attempt < attempts:
        raise RetryLater(delay=0.05)
    return job.attempt


def fail_until(attempts: int) -> int:
    """Fail (a plain exception) until the `attempts`-th attempt."""
    job = current_job()
    if job.attempt < attempts:
        raise ValueError(f"attempt {job.attempt} fails")
    return job.attempt


# -- used by tests/integration/test_pool_limits.py ---------------------------------------------


def big_result(megabytes: int) -> str:
    return "x" * (megabytes * 1024 * 1024)


def message_burst(count: int) -> int:
    job = current_job()
    for i in range(count):
        job.message(f"message {i}")
    return count


def fail_huge(megabytes: int) -> None:
    raise ValueError("e" * (megabytes * 1024 * 1024))


def odd_message(kilobytes: int) -> str:
    current_job().message("\udcff\x00" + "m" * (kilobytes * 1024))
    return "sent"


def nap() -> str:
    """Report progress, then take a second: a run that is still going when looked at."""
    job = current_job()
    job.progress(50, "half way")
    time.sleep(1.0)
    return "rested"


def thread_name() -> str:
    """The name of the thread that runs it (the console runs a job off its UI thread)."""
    return threading.current_thread().name
