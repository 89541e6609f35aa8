"""`jobengine console`: the job console (TUI) on a client engine; it never starts one."""

from __future__ import annotations

import click

from jobengine.cli.common import DB_OPTION, REGISTRY_OPTION, cli, client, registry_folder


@cli.command()
@DB_OPTION
@REGISTRY_OPTION
@click.option("--read-only", is_flag=True, help="Show only: every action is off.")
def console(db: str, registry: str, read_only: bool) -> None:
    """Show and steer scheduled jobs, background jobs and the event log (keys in the footer)."""
    from jobengine.console.app import ConsoleApp  # Textual loads only for this command

    # The registry's allowed_modules let R execute a failed job of those modules again; a
    # read-only console loads none, since loading one syncs its predefined jobs (a write).
    folder = None if read_only else registry_folder(registry)
    with client(db, registry=folder) as engine:
        ConsoleApp(engine, read_only=read_only).run()
