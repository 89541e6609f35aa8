"""`jobengine schedule describe|next`: the registry's schedules from the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from jobengine.cli.common import REGISTRY_OPTION, cli, out


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
        try:
            run = sched.next_run(at, last_begin=last)
            deadline = sched.deadline(run) if run is not None else None
        except (OverflowError, ValueError) as exc:  # at the end of the datetime range
            raise click.ClickException(f"no run can be computed after {at}: {exc}") from exc
        if run is None:
            out.print("(no more runs)")
            return
        out.print(
            run.isoformat(sep=" ")
            + (f"  finish by {deadline.isoformat(sep=' ')}" if deadline else "")
        )
        last, at = run, run
