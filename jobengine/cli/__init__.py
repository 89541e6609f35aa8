"""The `jobengine` command line: run the engine, submit and inspect background jobs."""

from __future__ import annotations

from jobengine.cli.common import cli
from jobengine.importing import working_directory_on_path

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one line and exit non-zero, never a traceback."""
    working_directory_on_path()
    cli.main(args=argv, prog_name="jobengine")
