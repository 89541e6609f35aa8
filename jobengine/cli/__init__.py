"""The `jobengine` command line: run the engine, submit and inspect background jobs."""

from __future__ import annotations

import os
import sys

from jobengine.cli.common import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one line and exit non-zero, never a traceback."""
    # Job methods are named by import path, so the project the command runs in must import:
    # put the working directory on sys.path, as `python -m` would (workers inherit it).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    cli.main(args=argv, prog_name="jobengine")
