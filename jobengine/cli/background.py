"""`jobengine submit|jobs|show|wait|cancel|delete|restart`: background jobs from the CLI."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from jobengine import codec
from jobengine.cli.common import (
    DB_OPTION,
    REGISTRY_OPTION,
    RET_JOB_CANCELED,
    RET_JOB_FAILED,
    RET_OK,
    RET_TIMEOUT,
    Seconds,
    cli,
    client,
    err,
    fail,
    fmt,
    out,
    parse_arg,
    registry_folder,
    state_text,
)
from jobengine.state import JobState


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.argument("method")
@click.argument("args", nargs=-1)
@click.option("--key", default="", help="Exclusivity key: one active job per (method, key).")
@click.option("--description", default="")
@click.option("--on-conflict", type=click.Choice(["error", "queue", "skip"]), default="error")
@click.option("--wait", "wait_", is_flag=True, help="Wait for the job and print its result.")
@click.option(
    "--timeout",
    type=Seconds(endless=True),
    default=None,
    help="With --wait: give up after seconds.",
)
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
    with client(db, registry=registry_folder(registry)) as engine:
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
@click.option("--queue", default=None, help="Only the jobs of this queue.")
@click.option(
    "--waiting-retry",
    is_flag=True,
    help="Only ACTIVE jobs waiting for their next attempt after a failed one.",
)
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(0),
    help="The newest N jobs (0: all).",
)
def jobs(
    db: str,
    state: str | None,
    key: str | None,
    method: str | None,
    queue: str | None,
    waiting_retry: bool,
    limit: int,
) -> None:
    """List background jobs (newest last); a job waiting for a retry shows as
    "ACTIVE (retry N at HH:MM:SS)"."""
    with client(db) as engine:
        newest = engine.background.get(
            state=state.upper() if state else None,
            key=key,
            method=method,
            queue=queue,
            waiting_retry=True if waiting_retry else None,
            limit=limit or None,
            newest_first=True,
        )
        found = newest[::-1]
        table = Table(
            "uuid", "method", "key", "queue", "state", "begin", "end", "location", "error"
        )
        for j in found:
            table.add_row(
                j.uuid,
                j.method,
                j.key,
                j.queue,
                state_text(j),
                fmt(j.begin),
                fmt(j.end),
                j.location,
                str(j.error or ""),
            )
        out.print(table)


@cli.command()
@DB_OPTION
@click.argument("uuid")
def show(db: str, uuid: str) -> None:
    """Show one job: fields, progress, messages, error with traceback."""
    with client(db) as engine:
        job = _find(engine, uuid)
        rows = [
            ("uuid", job.uuid),
            ("method", job.method),
            ("args", codec.dumps(job.args)),
            ("key", job.key),
            ("description", job.description),
            ("state", state_text(job)),
            ("begin", fmt(job.begin)),
            ("started", fmt(job.started)),
            ("end", fmt(job.end)),
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
        for attempt in job.attempts:  # tracebacks: `job.attempts` in Python
            out.print(f"{'history':>14}: {attempt}")
        if job.error:
            out.print(f"{'error':>14}: {job.error}")
            if job.error.traceback:
                out.print(job.error.traceback.rstrip())


@cli.command("wait")
@DB_OPTION
@click.argument("uuid")
@click.option("--timeout", type=Seconds(endless=True), default=None)
def wait_cmd(db: str, uuid: str, timeout: float | None) -> None:
    """Wait for a job to finish; print its result (exit 2 failed, 3 canceled, 4 timeout)."""
    with client(db) as engine:
        code = _report(_find(engine, uuid), timeout)
    sys.exit(code)


@cli.command()
@DB_OPTION
@click.argument("uuid")
def cancel(db: str, uuid: str) -> None:
    """Ask a job to stop (it is killed after the engine's grace period)."""
    with client(db) as engine:
        job = _find(engine, uuid)
        job.cancel()
        out.print(
            f"{job.uuid}: {job.state.value}"
            + (" (cancel requested)" if not job.is_finished else "")
        )


def _find(engine: Any, uuid: str) -> Any:
    job = engine.background.find(uuid)
    if job is None:
        raise click.ClickException(f"no background job {uuid}")
    return job


@cli.command()
@DB_OPTION
@click.argument("uuids", nargs=-1)
@click.option("--queue", default=None, help="Every job of this queue (with --state: of it).")
@click.option("--state", type=click.Choice([s.value for s in JobState], case_sensitive=False))
def delete(db: str, uuids: tuple[str, ...], queue: str | None, state: str | None) -> None:
    """Delete jobs that are finished or not started yet (waiting, delayed, waiting for a
    retry): the UUIDs given, or those of --queue (and --state). Running jobs are refused."""
    if bool(uuids) == bool(queue or state):
        raise click.UsageError("give job UUIDs, or --queue and/or --state (not both)")
    with client(db) as engine:
        if uuids:
            wanted = [_find(engine, u).uuid for u in uuids]
        else:
            chosen = engine.background.get(queue=queue, state=state.upper() if state else None)
            wanted = [j.uuid for j in chosen]
        removed = set(engine.background.delete(wanted, unstarted=True))
        out.print(f"deleted {len(removed)} jobs")
        running = [u for u in wanted if u not in removed and engine.background.find(u)]
        if running:
            fail(
                f"{len(running)} running jobs not deleted (cancel them first): " + " ".join(running)
            )


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.argument("uuid")
@click.option("--on-conflict", type=click.Choice(["error", "queue", "skip"]), default="error")
def restart(db: str, registry: str, uuid: str, on_conflict: str) -> None:
    """Execute a FAILED or CANCELED job again (same method, arguments, key, queue, priority and
    retry policy); prints the new job's uuid."""
    with client(db, registry=registry_folder(registry)) as engine:
        job = engine.background.restart(_find(engine, uuid), on_conflict=on_conflict)
        out.print(job.uuid)
