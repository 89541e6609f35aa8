"""`jobengine submit|jobs|show|wait|cancel|delete|restart`: background jobs from the CLI."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from jobengine import codec
from jobengine.cli.common import (
    DB_OPTION,
    REGISTRY_OPTION,
    Seconds,
    cli,
    client,
    fail,
    fmt,
    out,
    parse_arg,
    registry_folder,
    state_text,
)
from jobengine.cli.output import iso, json_option, print_json, show
from jobengine.cli.waiting import report, warn_if_no_engine
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
        warn_if_no_engine(engine)
        sys.exit(report(job, timeout))


STATES = click.Choice([s.value for s in JobState], case_sensitive=False)
JOB_COLUMNS = [
    ("uuid", "uuid"),
    ("method", "method"),
    ("key", "key"),
    ("queue", "queue"),
    ("state", "state_text"),
    ("begin", "begin_text"),
    ("end", "end_text"),
    ("location", "location"),
    ("progress", "progress_text"),
    ("error", "error_text"),
]


def job_document(job: Any) -> dict[str, Any]:
    """A background job for JSON: stable keys, ISO 8601 instants, null for what is not set."""
    progress = job.last_progress
    error = job.error
    return {
        "uuid": job.uuid,
        "method": job.method,
        "description": job.description,
        "key": job.key,
        "queue": job.queue,
        "priority": job.priority,
        "state": job.state.value,
        "begin": iso(job.begin),
        "started": iso(job.started),
        "end": iso(job.end),
        "attempt": job.attempt,
        "retry_at": iso(job.retry_at),
        "location": job.location or None,
        "scheduled_job": job.scheduled_job,
        "parent": job.parent,
        "cancel_requested": job.cancel_requested,
        "progress": {"percent": progress.percent, "text": progress.text} if progress else None,
        "error": {"type": error.type, "message": error.message} if error else None,
    }


def _job_row(job: Any) -> dict[str, Any]:
    """A job's line in the `jobs` table: its JSON fields and their text forms."""
    row = job_document(job)
    progress = job.last_progress
    row["begin_text"], row["end_text"] = fmt(job.begin), fmt(job.end)
    row["progress_text"] = f"{progress.percent:g}% {progress.text}".rstrip() if progress else ""
    row["error_text"] = str(job.error or "")
    row["state_text"] = state_text(job)
    return row


@cli.command()
@DB_OPTION
@click.option("--state", type=STATES)
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
@json_option
def jobs(db: str, limit: int, as_json: bool, waiting_retry: bool, **filters: str | None) -> None:
    """List background jobs (newest last); a job waiting for a retry shows as
    "ACTIVE (retry N at HH:MM:SS)"."""
    state = filters.pop("state")
    with client(db) as engine:
        newest = engine.background.get(
            state=state.upper() if state else None,
            waiting_retry=True if waiting_retry else None,
            limit=limit or None,
            newest_first=True,
            **filters,
        )
        found = newest[::-1]
        if as_json:
            print_json({"jobs": [job_document(j) for j in found]})
        else:
            show([_job_row(j) for j in found], JOB_COLUMNS)


@cli.command("show")
@DB_OPTION
@click.argument("uuid")
@json_option
def show_cmd(db: str, uuid: str, as_json: bool) -> None:
    """Show one job: fields, progress, messages, error with traceback."""
    with client(db) as engine:
        job = _find(engine, uuid).refresh()
        if as_json:
            print_json(_detail_document(job))
            return
        rows = [
            ("uuid", job.uuid),
            ("method", job.method),
            ("args", codec.dumps(job.args)),
            ("key", job.key),
            ("description", job.description),
            ("state", state_text(job)),
            ("queue", job.queue),
            ("begin", fmt(job.begin)),
            ("started", fmt(job.started)),
            ("end", fmt(job.end)),
            ("attempt", str(job.attempt)),
            ("location", job.location),
            ("scheduled job", job.scheduled_job or ""),
            ("parent", job.parent or ""),
        ]
        progress = job.last_progress
        if progress is not None:
            rows.append(("progress", f"{progress.percent:g}% {progress.text}"))
        if job.state is JobState.COMPLETED:
            rows.append(("result", codec.dumps(job.result())))
        rows += [("message", text) for text in job.messages()]
        for name, value in rows:
            out.print(f"{name:>14}: {value}", markup=False)
        for attempt in job.attempts:  # tracebacks: `job.attempts` in Python
            out.print(f"{'history':>14}: {attempt}", markup=False)
        if job.error:
            out.print(f"{'error':>14}: {job.error}", markup=False)
            if job.error.traceback:
                out.print(job.error.traceback.rstrip(), markup=False)


def _detail_document(job: Any) -> dict[str, Any]:
    """`show --json`: the job's fields, arguments, result, messages and traceback."""
    document = job_document(job)
    document["args"] = json.loads(codec.dumps(job.args))
    document["kwargs"] = json.loads(codec.dumps(job.kwargs))
    completed = job.state is JobState.COMPLETED
    document["result"] = json.loads(codec.dumps(job.result())) if completed else None
    document["messages"] = job.messages()
    if job.error is not None:
        document["error"]["traceback"] = job.error.traceback
    return document


@cli.command("wait")
@DB_OPTION
@click.argument("uuid")
@click.option("--timeout", type=Seconds(endless=True), default=None)
def wait_cmd(db: str, uuid: str, timeout: float | None) -> None:
    """Wait for a job to finish; print its result (exit 2 failed, 3 canceled, 4 timeout)."""
    with client(db) as engine:
        code = report(_find(engine, uuid), timeout)
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
