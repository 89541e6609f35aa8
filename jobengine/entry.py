"""The `jobengine` command (and `python -m jobengine`): `run` forks its helpers first."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        from jobengine.importing import working_directory_on_path
        from jobengine.pool.early import start_helpers

        working_directory_on_path()  # first, so that the fork server hands it to workers
        start_helpers()  # before the command line's imports, while nothing else runs
    from jobengine.cli import main as cli_main

    cli_main()
