"""`jobengine schedule describe|next`: the registry's schedules from the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from jobengine.cli.common import REGISTRY_OPTION, cli, out
from jobengine.cli.complete import complete_registry_names
from jobengine.cli.output import iso, json_option, print_json


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
@click.argument("name", shell_complete=complete_registry_names)
def schedule_describe(registry: str, name: str) -> None:
    """Print NAME's schedule in words (1C structure)."""
    out.print(str(_metadata(registry, name).schedule))


@schedule.command("next")
@REGISTRY_OPTION
@click.argument("name", shell_complete=complete_registry_names)
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", default=None, help="ISO date-time to start from (default: now).")
@json_option
def schedule_next(registry: str, name: str, count: int, after: str | None, as_json: bool) -> None:
    """Print NAME's next COUNT runs, each start taken as the last one (wall time of its zone)."""
    sched = _metadata(registry, name).schedule
    try:
        at = datetime.fromisoformat(after) if after else datetime.now().astimezone()
    except ValueError as exc:
        raise click.ClickException(f"--after {after!r} is not an ISO date-time") from exc
    runs = _runs(sched, at, count)
    if as_json:
        listed = [{"start": iso(run), "finish_by": iso(by)} for run, by in runs]
        print_json({"name": name, "schedule": str(sched), "runs": listed})
        return
    for run, by in runs:
        out.print(run.isoformat(sep=" ") + (f"  finish by {by.isoformat(sep=' ')}" if by else ""))
    if len(runs) < count:
        out.print("(no more runs)")


def _runs(sched: Any, at: datetime, count: int) -> list[tuple[datetime, datetime | None]]:
    """Up to `count` runs from `at` with their deadlines, each start taken as the last one."""
    runs: list[tuple[datetime, datetime | None]] = []
    last = None
    for _ in range(count):
        try:
            run = sched.next_run(at, last_begin=last)
            deadline = sched.deadline(run) if run is not None else None
        except (OverflowError, ValueError) as exc:  # at the end of the datetime range
            raise click.ClickException(f"no run can be computed after {at}: {exc}") from exc
        if run is None:
            break
        runs.append((run, deadline))
        last, at = run, run
    return runs
