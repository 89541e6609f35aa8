"""`jobengine run` (the engine and its worker pool in this process) and `jobengine migrate`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

import click

from jobengine.cli.common import (
    DB_OPTION,
    REGISTRY_OPTION,
    RET_MAX_JOBS,
    RET_OK,
    Seconds,
    cli,
    fail,
    open_engine,
    out,
    registry_folder,
    say,
)
from jobengine.methods import describe_allowed

logger = logging.getLogger(__name__)


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--grace", default=10.0, show_default=True, type=Seconds(), help="Seconds running jobs get."
)
@click.option(
    "--keep-finished",
    default=86400.0,
    show_default=True,
    type=Seconds(),
    help="Seconds finished jobs are kept.",
)
@click.option(
    "--max-finished",
    default=1000,
    show_default=True,
    type=click.IntRange(0, 2**31 - 1),
    help="Most finished jobs kept; the oldest go first.",
)
@click.option(
    "--queues",
    "queue_names",
    multiple=True,
    help="Serve only these queues (comma-separated, or the option repeated); default: all.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1),
    default=None,
    help="Run at most N jobs, then exit: 0 when nothing due was left, 5 when some were.",
)
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Exit once no job of the served queues is due and none runs (for cron).",
)
def run(
    db: str,
    registry: str,
    workers: int,
    grace: float,
    keep_finished: float,
    max_finished: int,
    queue_names: tuple[str, ...],
    max_jobs: int | None,
    exit_when_idle: bool,
) -> None:
    """Run the engine and its worker pool until Ctrl-C or SIGTERM (or, with --max-jobs or
    --exit-when-idle, until its work is done: what a system crontab calls every minute)."""
    folder = registry_folder(registry)
    queues = [q.strip() for names in queue_names for q in names.split(",") if q.strip()]
    engine = open_engine(
        db,
        registry=folder,
        workers=workers,
        grace=grace,
        keep_finished=timedelta(seconds=keep_finished),
        max_finished=max_finished,
        queues=queues or None,
        max_jobs=max_jobs,
    )
    allowed = describe_allowed(engine.allowed_modules)
    logger.info("jobs may run methods of: %s", allowed)
    stop = threading.Event()
    engine.on_failure = lambda _: stop.set()  # the engine stopped itself (its file is gone)
    with _stop_signals(stop):
        engine.start()
        say(
            f"jobengine: running on {engine.url} with {workers} workers"
            + (f", registry {folder}" if folder else "")
            + "; Ctrl-C or SIGTERM stops"
        )
        say(f"jobengine: jobs may run methods of: {allowed}")
        _print_schedule(engine)
        if exit_when_idle or max_jobs is not None:
            _stop_when_done(engine, stop, exit_when_idle)
        stop.wait()
        if engine.failure is not None:
            engine.close()
            fail(f"{engine.failure}; the engine stopped")
        say(f"jobengine: stopping (running jobs get {grace:g} s)")
        engine.stop()
        code = _cap_code(engine, queues or None)
        engine.close()
    say("jobengine: stopped")
    sys.exit(code)


def _stop_when_done(engine: Any, stop: threading.Event, exit_when_idle: bool) -> None:
    """Set `stop` once the engine is idle (`exit_when_idle`) or has run its --max-jobs."""

    def wait() -> None:
        try:
            if exit_when_idle:
                engine.wait_idle()
            else:
                engine.wait_max_jobs()
        finally:
            stop.set()

    threading.Thread(target=wait, name="jobengine-idle", daemon=True).start()


def _cap_code(engine: Any, queues: list[str] | None) -> int:
    """RET_MAX_JOBS when the engine stopped at --max-jobs with due jobs of its queues left."""
    if engine.max_jobs is None or not engine.max_jobs_reached:
        return RET_OK
    left = engine.background.count_due(queues)
    if not left:
        return RET_OK
    say(f"jobengine: ran {engine.max_jobs} jobs (--max-jobs); {left} due jobs are left")
    return RET_MAX_JOBS


def _print_schedule(engine: Any) -> None:
    """What the scheduler will do: the enabled jobs and when each starts next."""
    enabled = engine.scheduled.get(use=True)
    line = f"jobengine: {len(enabled)} scheduled jobs enabled"
    if engine.scheduled.locked:
        line += " (the scheduled-jobs lock is on: none will start; `jobengine unlock`)"
    say(line)
    for job, at in engine.scheduler.upcoming(limit=5):
        say(f"jobengine:   next {job.metadata}: {at:%Y-%m-%d %H:%M:%S} UTC")


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: warm stop (grace period). Second: cold, exit at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # cold stop; workers die with their process group's parent
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@cli.command()
@DB_OPTION
def migrate(db: str) -> None:
    """Create or upgrade the store's schema."""
    from jobengine.store import Store

    store = Store(db)
    store.close()
    out.print(f"store {db} is up to date")
