"""The fork server's own set-up, run as it imports its preloads (see `preload.PRELOAD`).

It ignores SIGTERM and SIGHUP, as multiprocess's resource tracker does. A signal sent to the
engine's whole process group (`timeout`, a service manager stopping the group, a closed
terminal) must reach the engine alone, which stops its workers in order and then closes the
pipe whose end makes the fork server exit. Killed by it, the fork server took the news of
every worker with it: each idle worker was reported dead before it took a job, an error logged
in the middle of an orderly stop. Workers put both signals back to their defaults (child.py),
so jobs and their subprocesses get them as usual.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

_SERVER_MAIN = (os.path.join("multiprocess", "forkserver.py"), "main")


def _is_fork_server_starting() -> bool:
    """Whether multiprocess's fork server main is importing this module (nowhere else may
    the signals be changed: any other process importing it is left as it is)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(_SERVER_MAIN[0]) and code.co_name == _SERVER_MAIN[1]:
            return True
        frame = frame.f_back
    return False


if _is_fork_server_starting():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
