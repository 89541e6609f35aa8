"""`jobengine scheduled|enable|disable|pause|resume|run-now|lock|unlock|log|backfill|drain`:
scheduled jobs in the store, their lock and the event log, from the command line.

NAME is a scheduled job's metadata name (when one job has it) or its uuid.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from typing import Any

import click

from jobengine.cli.common import (
    DB_OPTION,
    REGISTRY_OPTION,
    RET_OK,
    RET_TIMEOUT,
    Seconds,
    cli,
    client,
    err,
    fmt,
    out,
    registry_folder,
)
from jobengine.cli.complete import complete_store_names
from jobengine.cli.output import iso, json_option, print_json, show
from jobengine.cli.waiting import is_engine_running, report, warn_if_no_engine

LEVELS = ("info", "warning", "error")
DRAIN_LOOK_S = 0.5  # how often `drain` reads the progress of the runs it waits for


class Instant(click.ParamType[datetime]):
    """An ISO 8601 date-time; one without an offset is local time. A bad one is a one-line
    refusal with exit code 1 (a ClickException), like the other bad names and values."""

    name = "iso"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        option = param.opts[0] if param is not None and param.opts else "date"
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            raise click.ClickException(
                f"{option} {value!r} is not an ISO date-time (e.g. 2026-03-01T09:00)"
            ) from None
        return at if at.tzinfo is not None else at.astimezone()


def _named(engine: Any, name: str) -> Any:
    return engine.scheduled.named(name)


def _label(job: Any) -> str:
    return f"{job.metadata} ({job.uuid})"


def _paused_text(job: Any) -> str:
    if not job.paused:
        return ""
    until = fmt(job.paused_until) if job.paused_until else "resumed"
    return f"until {until}" + (f": {job.pause_reason}" if job.pause_reason else "")


def lock_line(info: tuple[str, datetime] | None) -> str:
    """The scheduled-jobs lock in words, from `engine.scheduled.lock_info`."""
    if info is None:
        return "scheduled jobs: not locked"
    by, at = info
    return f"scheduled jobs: LOCKED by {by} at {fmt(at)}"


def lock_document(info: tuple[str, datetime] | None) -> dict[str, Any] | None:
    """The scheduled-jobs lock for JSON: None, or who set it and when."""
    return {"by": info[0], "at": iso(info[1])} if info is not None else None


def _row(job: Any) -> dict[str, Any]:
    last = job.last_job
    return {
        "uuid": job.uuid,
        "name": job.metadata,
        "description": job.description,
        "predefined": job.predefined,
        "use": job.use,
        "schedule": str(job.schedule),
        "next_run": iso(job.next_run()),
        "overdue": job.overdue,
        "last_start": iso(last.begin if last is not None else job.last_begin),
        "last_state": last.state.value if last is not None else None,
        "last_job": last.uuid if last is not None else None,
        "paused": job.paused,
        "paused_until": iso(job.paused_until),
        "pause_reason": job.pause_reason,
    }


@cli.command("scheduled")
@DB_OPTION
@json_option
def scheduled_cmd(db: str, as_json: bool) -> None:
    """List scheduled jobs: schedule, next run, last start and state, pause; and the lock."""
    with client(db) as engine:
        jobs = sorted(engine.scheduled.get(), key=lambda j: (j.metadata, j.uuid))
        rows = [_row(j) for j in jobs]
        if as_json:
            print_json(
                {"locked": lock_document(engine.scheduled.lock_info), "scheduled_jobs": rows}
            )
            return
        for row, job in zip(rows, jobs, strict=True):
            row["use_text"] = "yes" if job.use else "no"
            row["next_text"] = fmt(job.next_run()) + (" (overdue)" if row["overdue"] else "")
            row["last_text"] = fmt(
                datetime.fromisoformat(row["last_start"]) if row["last_start"] else None
            )
            row["paused_text"] = _paused_text(job)
        out.print(lock_line(engine.scheduled.lock_info), markup=False)
        show(
            rows,
            [
                ("name", "name"),
                ("uuid", "uuid"),
                ("use", "use_text"),
                ("schedule", "schedule"),
                ("next run", "next_text"),
                ("last start", "last_text"),
                ("last state", "last_state"),
                ("paused", "paused_text"),
            ],
        )


def _set_use(db: str, registry: str, name: str, use: bool) -> None:
    with client(db, registry=registry_folder(registry)) as engine:
        job = _named(engine, name)
        job.use = use
        job.save()
        nxt = job.next_run()
        out.print(
            f"{_label(job)}: {'enabled' if use else 'disabled'}"
            + (f"; next run {fmt(nxt)}" if use and nxt else ""),
            markup=False,
        )


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.argument("name", shell_complete=complete_store_names)
def enable(db: str, registry: str, name: str) -> None:
    """Let the scheduler start NAME (use = true); its schedule counts from now."""
    _set_use(db, registry, name, True)


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.argument("name", shell_complete=complete_store_names)
def disable(db: str, registry: str, name: str) -> None:
    """Stop the scheduler starting NAME (use = false); a run going on is not stopped."""
    _set_use(db, registry, name, False)


@cli.command()
@DB_OPTION
@click.argument("name", shell_complete=complete_store_names)
@click.option("--until", "until", type=Instant(), default=None, help="ISO date-time to pause to.")
@click.option("--for", "for_", type=Seconds(), default=None, help="Seconds to pause for.")
@click.option("--reason", default="", help="Why (shown by `scheduled` and in the log).")
def pause(db: str, name: str, until: datetime | None, for_: float | None, reason: str) -> None:
    """Stop scheduler starts of NAME until a time, for a while, or until `resume`."""
    if until is not None and for_ is not None:
        raise click.ClickException("give --until or --for, not both")
    with client(db) as engine:
        job = _named(engine, name)
        job.pause(timedelta(seconds=for_) if for_ is not None else until, reason)
        out.print(f"{_label(job)}: paused {_paused_text(job)}", markup=False)


@cli.command()
@DB_OPTION
@click.argument("name", shell_complete=complete_store_names)
def resume(db: str, name: str) -> None:
    """Lift NAME's pause; occurrences that fell inside it are not made up."""
    with client(db) as engine:
        job = _named(engine, name)
        job.resume()
        nxt = job.next_run()
        out.print(
            f"{_label(job)}: resumed" + (f"; next run {fmt(nxt)}" if nxt else ""), markup=False
        )


@cli.command("run-now")
@DB_OPTION
@REGISTRY_OPTION
@click.argument("name", shell_complete=complete_store_names)
@click.option("--wait", "wait_", is_flag=True, help="Wait for the run and print its result.")
@click.option(
    "--timeout", type=Seconds(endless=True), default=None, help="With --wait: give up after."
)
def run_now(db: str, registry: str, name: str, wait_: bool, timeout: float | None) -> None:
    """Start NAME now, outside its schedule; print the run's uuid (or, with --wait, its
    result: exit 2 failed, 3 canceled, 4 timeout)."""
    with client(db, registry=registry_folder(registry)) as engine:
        run = _named(engine, name).run_now()
        if not wait_:
            out.print(run.uuid)
            return
        warn_if_no_engine(engine)
        sys.exit(report(run, timeout))


@cli.command()
@DB_OPTION
def lock(db: str) -> None:
    """Stop every engine starting scheduled jobs (background jobs and running runs go on)."""
    with client(db) as engine:
        engine.scheduled.lock()
        out.print(lock_line(engine.scheduled.lock_info), markup=False)


@cli.command()
@DB_OPTION
def unlock(db: str) -> None:
    """Let the engines start scheduled jobs again."""
    with client(db) as engine:
        info = engine.scheduled.lock_info
        engine.scheduled.unlock()
        if info is None:
            out.print("scheduled jobs: not locked", markup=False)
        else:
            out.print(f"scheduled jobs: unlocked (locked by {info[0]} at {fmt(info[1])})")


@cli.command()
@DB_OPTION
@click.option("--level", type=click.Choice(LEVELS), default=None, help="That level and worse.")
@click.option("--event", default=None, help="One event, e.g. job.failed or schedule.missed.")
@click.option(
    "--job",
    "job",
    default=None,
    shell_complete=complete_store_names,
    help="A scheduled job (NAME|UUID) or a run's uuid.",
)
@click.option("--since", type=Instant(), default=None)
@click.option("--until", type=Instant(), default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@json_option
def log(
    db: str,
    level: str | None,
    event: str | None,
    job: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """The event log: the newest LIMIT events matching the filters, oldest first."""
    with client(db) as engine:
        scheduled_job, run = _log_target(engine, job)
        events = engine.log.get(
            level=level,
            event=event,
            scheduled_job=scheduled_job,
            job=run,
            since=since,
            until=until,
            limit=limit,
        )[::-1]
        names = {j.uuid: j.metadata for j in engine.scheduled.get()}
        rows = [
            {
                "time": iso(e.time),
                "level": e.level,
                "event": e.event,
                "scheduled_job": e.scheduled_job,
                "name": names.get(e.scheduled_job or "", ""),
                "job": e.job,
                "message": e.message,
                "host": e.host,
            }
            for e in events
        ]
        if as_json:
            print_json({"events": rows})
            return
        for row, e in zip(rows, events, strict=True):
            row["time_text"] = fmt(e.time)
        show(
            rows,
            [
                ("time", "time_text"),
                ("level", "level"),
                ("event", "event"),
                ("scheduled job", "name"),
                ("job", "job"),
                ("message", "message"),
            ],
        )


def _log_target(engine: Any, given: str | None) -> tuple[str | None, str | None]:
    """(scheduled job uuid, run uuid) to filter on: a scheduled job's name or uuid first,
    else a uuid is taken as a background job's (its events outlive the job itself)."""
    if given is None:
        return None, None
    from jobengine.scheduled import is_uuid

    if is_uuid(given):
        found = engine.scheduled.find(given)
        return (found.uuid, None) if found is not None else (None, given)
    return _named(engine, given).uuid, None


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.argument("name", shell_complete=complete_store_names)
@click.option("--from", "start", type=Instant(), required=True, help="ISO date-time.")
@click.option("--to", "end", type=Instant(), required=True, help="ISO date-time.")
@click.option("--dry-run", is_flag=True, help="List the occurrences; start nothing.")
def backfill(
    db: str, registry: str, name: str, start: datetime, end: datetime, dry_run: bool
) -> None:
    """Run NAME once for each occurrence in [--from, --to], one after another (a running
    engine does the work); --dry-run lists them."""
    with client(db, registry=registry_folder(registry)) as engine:
        job = _named(engine, name)
        instants = engine.scheduled.backfill(job, start, end, dry_run=True)  # checks the dates
        if dry_run:
            for at in instants:
                out.print(at.astimezone().isoformat(sep=" "))
            err.print(f"jobengine: {len(instants)} occurrences of {job.metadata}; none started")
            return
        if not is_engine_running(engine):
            raise click.ClickException(
                "no engine is running on this store to run the backfill; start `jobengine run`"
            )
        err.print(f"jobengine: running {len(instants)} occurrences of {job.metadata} in turn")
        runs = engine.scheduled.backfill(job, start, end, dry_run=False)
        for run in runs:
            click.echo(f"{run.uuid}\t{run.state.value}")
        failed = [r for r in runs if r.state.value != "COMPLETED"]
        if failed:
            raise click.ClickException(
                f"{len(failed)} of {len(runs)} backfill runs did not complete"
            )


@cli.command()
@DB_OPTION
@click.option(
    "--timeout",
    type=Seconds(),
    default=60.0,
    show_default=True,
    help="Seconds to wait before canceling the runs left.",
)
def drain(db: str, timeout: float) -> None:
    """Lock scheduled jobs, wait for their running runs, cancel what is left after the
    timeout (exit 4 then). The lock stays on: `jobengine unlock` lifts it."""
    with client(db) as engine:
        engine.scheduled.lock()
        err.print(f"jobengine: {lock_line(engine.scheduled.lock_info)}", markup=False)
        names = {j.uuid: j.metadata for j in engine.scheduled.get()}
        runs = [j for j in engine.background.get(state="ACTIVE") if j.scheduled_job]
        if not runs:
            out.print("drained: no scheduled runs were running", markup=False)
            return
        if not is_engine_running(engine):
            err.print("jobengine: no engine is running on this store; runs will not finish")
        err.print(f"jobengine: waiting up to {timeout:g} s for {len(runs)} scheduled runs")
        pending = _wait_showing(engine, runs, names, timeout)
        for run in pending:
            run.cancel()
            err.print(f"jobengine: {run.uuid} ({names.get(run.scheduled_job, '?')}): canceled")
        finished = len(runs) - len(pending)
        out.print(
            f"drained: {finished} finished by themselves, {len(pending)} canceled "
            f"(scheduled jobs stay locked)",
            markup=False,
        )
        sys.exit(RET_TIMEOUT if pending else RET_OK)


def _wait_showing(engine: Any, runs: list[Any], names: dict[str, str], timeout: float) -> list[Any]:
    """Wait up to `timeout` s for `runs`, printing each one's progress on stderr when it
    changes and its end; returns those still active."""
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    pending = list(runs)
    while True:
        for run in pending:
            progress = run.progress()  # refreshes the run too
            text = f"{progress.percent:g}% {progress.text}".rstrip() if progress else "running"
            if run.is_finished:
                text = run.state.value
            if shown.get(run.uuid) != text:
                shown[run.uuid] = text
                label = names.get(run.scheduled_job, "?")
                err.print(f"jobengine: {run.uuid} ({label}): {text}", markup=False)
        pending = [r for r in pending if not r.is_finished]
        left = deadline - time.monotonic()
        if not pending or left <= 0:
            return pending
        engine.background.wait(pending, min(left, DRAIN_LOOK_S))
