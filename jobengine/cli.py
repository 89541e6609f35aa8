"""The `jobengine` command line: run the engine, submit and inspect background jobs."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from jobengine import codec
from jobengine.errors import JobEngineError
from jobengine.state import JobState
from jobengine.store import DEFAULT_URL

RET_OK = 0
RET_ERROR = 1  # a user mistake or a refusal: one line on stderr
RET_JOB_FAILED = 2  # the job ended FAILED
RET_JOB_CANCELED = 3  # the job ended CANCELED
RET_TIMEOUT = 4  # waiting ran out of time

# Piped output keeps whole uuids and texts on one line instead of rich's 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DB_OPTION = click.option(
    "--db",
    "db",
    envvar="JOBENGINE_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Store URL: sqlite:///FILE or postgresql://USER@HOST:PORT/DB ($JOBENGINE_DB).",
)
REGISTRY_OPTION = click.option(
    "--registry",
    envvar="JOBENGINE_REGISTRY",
    default="schedules/",
    show_default=True,
    help="Folder of registry YAML files ($JOBENGINE_REGISTRY).",
)


def _engine(db: str, **kwargs: Any) -> Any:
    from jobengine.engine import Engine

    return Engine(db, **kwargs)


@contextmanager
def _client(db: str, **kwargs: Any) -> Iterator[Any]:
    """A client engine (not started) for one command, closed when it is done."""
    engine = _engine(db, **kwargs)
    try:
        yield engine
    finally:
        engine.close()


def parse_arg(text: str) -> Any:
    """A command-line ARG: JSON when it parses, else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _fmt(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else ""


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """jobengine: 1C-style scheduled and background jobs."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option("--grace", default=10.0, show_default=True, help="Seconds running jobs get on stop.")
@click.option(
    "--keep-finished", default=86400.0, show_default=True, help="Seconds finished jobs are kept."
)
@click.option(
    "--max-finished",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="Most finished jobs kept; the oldest go first.",
)
def run(
    db: str, registry: str, workers: int, grace: float, keep_finished: float, max_finished: int
) -> None:
    """Run the engine and its worker pool until Ctrl-C or SIGTERM."""
    registry_dir = registry if os.path.isdir(registry) else None
    engine = _engine(
        db,
        registry=registry_dir,
        workers=workers,
        grace=grace,
        keep_finished=timedelta(seconds=keep_finished),
        max_finished=max_finished,
    )
    stop = threading.Event()
    with _stop_signals(stop):
        engine.start()
        err.print(
            f"jobengine: running on {engine.url} with {workers} workers"
            + (f", registry {registry_dir}" if registry_dir else "")
            + "; Ctrl-C or SIGTERM stops"
        )
        stop.wait()
        err.print(f"jobengine: stopping (running jobs get {grace:g} s)")
        engine.close()
    err.print("jobengine: stopped")


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
@REGISTRY_OPTION
@click.argument("method")
@click.argument("args", nargs=-1)
@click.option("--key", default="", help="Exclusivity key: one active job per (method, key).")
@click.option("--description", default="")
@click.option("--on-conflict", type=click.Choice(["error", "queue", "skip"]), default="error")
@click.option("--wait", "wait_", is_flag=True, help="Wait for the job and print its result.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after seconds.")
def submit(
    db: str,
    registry: str,
    method: str,
    args: tuple[str, ...],
    key: str,
    description: str,
    on_conflict: str,
    wait_: bool,
    timeout: float | None,
) -> None:
    """Launch METHOD (module:function) with ARGS (JSON where they parse, else strings)."""
    # With the registry loaded, a method outside its allowed_modules is refused here and now,
    # not later by the engine that would run it.
    with _client(db, registry=registry if os.path.isdir(registry) else None) as engine:
        job = engine.background.execute(
            method,
            [parse_arg(a) for a in args],
            key=key,
            description=description,
            on_conflict=on_conflict,
        )
        if not wait_:
            out.print(job.uuid)
            return
        if not _engine_running(engine):
            err.print("jobengine: no engine is running on this store; start `jobengine run`")
        sys.exit(_report(job, timeout))


def _engine_running(engine: Any) -> bool:
    from jobengine.clock import to_ms

    return bool(engine.store.engines.alive(to_ms(engine.clock.now()), 15_000))


def _report(job: Any, timeout: float | None) -> int:
    """Wait for `job`, print its result or error, and return the exit code."""
    if not job.wait(timeout):
        err.print(f"jobengine: job {job.uuid} did not finish in {timeout:g} s")
        return RET_TIMEOUT
    if job.state is JobState.COMPLETED:
        out.print(codec.dumps(job.result()) if not isinstance(job.result(), str) else job.result())
        return RET_OK
    error = job.error
    err.print(f"jobengine: job {job.uuid} {job.state.value}: {error}" if error else job.state.value)
    return RET_JOB_FAILED if job.state is JobState.FAILED else RET_JOB_CANCELED


@cli.command()
@DB_OPTION
@click.option("--state", type=click.Choice([s.value for s in JobState], case_sensitive=False))
@click.option("--key", default=None)
@click.option("--method", default=None)
@click.option("--limit", default=100, show_default=True, help="Newest N jobs.")
def jobs(db: str, state: str | None, key: str | None, method: str | None, limit: int) -> None:
    """List background jobs (newest last)."""
    with _client(db) as engine:
        found = engine.background.get(
            state=state.upper() if state else None, key=key, method=method
        )[-limit:]
        table = Table("uuid", "method", "key", "state", "begin", "end", "location", "error")
        for j in found:
            table.add_row(
                j.uuid,
                j.method,
                j.key,
                j.state.value,
                _fmt(j.begin),
                _fmt(j.end),
                j.location,
                str(j.error or ""),
            )
        out.print(table)


@cli.command()
@DB_OPTION
@click.argument("uuid")
def show(db: str, uuid: str) -> None:
    """Show one job: fields, progress, messages, error with traceback."""
    with _client(db) as engine:
        job = _find(engine, uuid)
        rows = [
            ("uuid", job.uuid),
            ("method", job.method),
            ("args", codec.dumps(job.args)),
            ("key", job.key),
            ("description", job.description),
            ("state", job.state.value),
            ("begin", _fmt(job.begin)),
            ("started", _fmt(job.started)),
            ("end", _fmt(job.end)),
            ("attempt", str(job.attempt)),
            ("location", job.location),
            ("scheduled job", job.scheduled_job or ""),
            ("parent", job.parent or ""),
        ]
        progress = job.progress()
        if progress is not None:
            rows.append(("progress", f"{progress.percent:g}% {progress.text}"))
        if job.state is JobState.COMPLETED:
            rows.append(("result", codec.dumps(job.result())))
        for name, value in rows:
            out.print(f"{name:>14}: {value}")
        for text in job.messages():
            out.print(f"{'message':>14}: {text}")
        if job.error:
            out.print(f"{'error':>14}: {job.error}")
            if job.error.traceback:
                out.print(job.error.traceback.rstrip())


@cli.command("wait")
@DB_OPTION
@click.argument("uuid")
@click.option("--timeout", type=float, default=None)
def wait_cmd(db: str, uuid: str, timeout: float | None) -> None:
    """Wait for a job to finish; print its result (exit 2 failed, 3 canceled, 4 timeout)."""
    with _client(db) as engine:
        code = _report(_find(engine, uuid), timeout)
    sys.exit(code)


@cli.command()
@DB_OPTION
@click.argument("uuid")
def cancel(db: str, uuid: str) -> None:
    """Ask a job to stop (it is killed after the engine's grace period)."""
    with _client(db) as engine:
        job = _find(engine, uuid)
        job.cancel()
        out.print(
            f"{job.uuid}: {job.state.value}"
            + (" (cancel requested)" if not job.is_finished else "")
        )


@cli.group()
def schedule() -> None:
    """Read the schedules the registry declares."""


def _metadata(registry: str, name: str) -> Any:
    from jobengine.registry import load

    jobs = load(registry).jobs
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise click.ClickException(f"no scheduled job {name!r} in {registry} (known: {known})")
    return jobs[name]


@schedule.command("describe")
@REGISTRY_OPTION
@click.argument("name")
def schedule_describe(registry: str, name: str) -> None:
    """Print NAME's schedule in words (1C structure)."""
    out.print(str(_metadata(registry, name).schedule))


@schedule.command("next")
@REGISTRY_OPTION
@click.argument("name")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", default=None, help="ISO date-time to start from (default: now).")
def schedule_next(registry: str, name: str, count: int, after: str | None) -> None:
    """Print NAME's next COUNT runs, each start taken as the last one (wall time of its zone)."""
    sched = _metadata(registry, name).schedule
    try:
        at = datetime.fromisoformat(after) if after else datetime.now().astimezone()
    except ValueError as exc:
        raise click.ClickException(f"--after {after!r} is not an ISO date-time") from exc
    last = None
    for _ in range(count):
        run = sched.next_run(at, last_begin=last)
        if run is None:
            out.print("(no more runs)")
            return
        deadline = sched.deadline(run)
        out.print(
            run.isoformat(sep=" ")
            + (f"  finish by {deadline.isoformat(sep=' ')}" if deadline else "")
        )
        last, at = run, run


@cli.command()
@DB_OPTION
def migrate(db: str) -> None:
    """Create or upgrade the store's schema."""
    from jobengine.store import Store

    store = Store(db)
    store.close()
    out.print(f"store {db} is up to date")


def _find(engine: Any, uuid: str) -> Any:
    job = engine.background.find(uuid)
    if job is None:
        raise click.ClickException(f"no background job {uuid}")
    return job


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one line and exit non-zero, never a traceback."""
    # Job methods are named by import path, so the project the command runs in must import:
    # put the working directory on sys.path, as `python -m` would (workers inherit it).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        cli.main(args=argv, prog_name="jobengine", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("jobengine: aborted")
        sys.exit(RET_ERROR)
    except click.ClickException as exc:
        err.print(f"jobengine: {exc.format_message()}")
        sys.exit(exc.exit_code or RET_ERROR)
    except JobEngineError as exc:
        err.print(f"jobengine: {exc}")
        sys.exit(RET_ERROR)
