"""`jobengine <args>` (the CLI, as `python -m jobengine` runs it), plus one sleeping thread that
writes the engine's thread names and native ids to $BENCH_THREADS_FILE, so the scheduler
benchmark can read one thread's CPU time from /proc (Python 3.11 does not name OS threads).

    python bench/engine_threads.py run --db URL --workers 2 --registry DIR
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path


def _publish(path: Path, seconds: float = 30.0) -> None:
    """Write {thread name: native id} whenever the set changes, for `seconds`."""
    last: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = {
            t.name: t.native_id
            for t in threading.enumerate()
            if t.native_id is not None and t is not threading.current_thread()
        }
        if now != last:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(now))
            tmp.replace(path)
            last = now
        time.sleep(0.2)


def main() -> None:
    target = os.environ.get("BENCH_THREADS_FILE")
    if target:
        threading.Thread(
            target=_publish, args=(Path(target),), name="bench-threads", daemon=True
        ).start()
    from jobengine.cli import main as cli_main

    sys.argv[0] = "jobengine"
    cli_main()


if __name__ == "__main__":
    main()
