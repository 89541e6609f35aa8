"""`python -m jobengine`: the command line."""

import os
import sys

if sys.argv[1:2] == ["run"]:
    # `run` starts its workers from a fork server: start that first, so that its start-up
    # overlaps the command line's imports (the store and its drivers, some 0.5 s). The server
    # hands workers today's sys.path, so the working directory goes on it first, as
    # `cli.main` would put it (job methods are named by import path).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    from jobengine.pool.mainless import start_fork_server

    start_fork_server()

from jobengine.cli import main

main()
