"""The `jobengine` command (and `python -m jobengine`): `run` forks its helpers first."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        # Job methods are named by import path: the working directory goes on sys.path first,
        # as `cli.main` puts it, so that the fork server hands it to workers.
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        from jobengine.pool.early import start_helpers

        start_helpers()  # before the command line's imports, while nothing else runs
    from jobengine.cli import main as cli_main

    cli_main()
