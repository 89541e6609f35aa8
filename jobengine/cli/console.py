"""`jobengine console`: the job console (TUI) on a client engine; it never starts one."""

from __future__ import annotations

import click

from jobengine.cli.common import DB_OPTION, cli, client


@cli.command()
@DB_OPTION
@click.option("--read-only", is_flag=True, help="Show only: run, cancel, delete and lock are off.")
def console(db: str, read_only: bool) -> None:
    """Show and steer scheduled jobs, background jobs and the event log (keys in the footer)."""
    from jobengine.console.app import ConsoleApp  # Textual loads only for this command

    with client(db) as engine:
        ConsoleApp(engine, read_only=read_only).run()
