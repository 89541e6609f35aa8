"""Waiting for one background job from the command line (`wait`, `submit --wait`,
`run-now --wait`): its progress bar on stderr, then its result and exit code."""

from __future__ import annotations

import time
from typing import Any

from jobengine import codec
from jobengine.cli.common import RET_JOB_CANCELED, RET_JOB_FAILED, RET_OK, RET_TIMEOUT, err, out
from jobengine.state import JobState

LOOK_S = 0.25  # how often the bar reads the job's progress (its end wakes the wait at once)
ALIVE_MS = 15_000  # an engine that beat within this long counts as running


def is_engine_running(engine: Any) -> bool:
    """True when some engine beat on the store lately."""
    from jobengine.clock import to_ms

    return bool(engine.store.engines.alive(to_ms(engine.clock.now()), ALIVE_MS))


def warn_if_no_engine(engine: Any) -> None:
    """Say on stderr that nothing will run the job when no engine beats on the store."""
    if not is_engine_running(engine):
        err.print("jobengine: no engine is running on this store; start `jobengine run`")


def report(job: Any, timeout: float | None) -> int:
    """Wait for `job` (its bar on stderr when that is a terminal), print its result or error,
    and return the exit code."""
    if not (_wait_drawing(job, timeout) if err.is_terminal else job.wait(timeout)):
        err.print(f"jobengine: job {job.uuid} did not finish in {timeout:g} s")
        return RET_TIMEOUT
    if job.state is JobState.COMPLETED:
        result = job.result()
        out.print(result if isinstance(result, str) else codec.dumps(result), markup=False)
        return RET_OK
    error = job.error
    err.print(f"jobengine: job {job.uuid} {job.state.value}: {error}" if error else job.state.value)
    return RET_JOB_FAILED if job.state is JobState.FAILED else RET_JOB_CANCELED


def _wait_drawing(job: Any, timeout: float | None) -> bool:
    """Wait up to `timeout` s, redrawing the job's progress bar; True once it finished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(job.method, total=100.0)
        while True:
            shown = job.progress()  # refreshes the job too
            if shown is not None:
                text = f"{job.method} {shown.text}".rstrip()
                bar.update(task, completed=shown.percent, description=text)
            if job.is_finished:
                return True
            left = LOOK_S if deadline is None else min(LOOK_S, deadline - time.monotonic())
            if left <= 0:
                return False
            job.wait(left)  # when it ends, the next turn draws its last progress
