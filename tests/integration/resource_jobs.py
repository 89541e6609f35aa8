"""Job functions the resource-queue tests run in real worker processes (Robin's robots)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from jobengine.errors import ResourceLocked
from jobengine.resources import ResourceQueue
from jobengine.runtime import current_job
from tests.integration.jobs import wait_for_file


def _queue(name: str) -> ResourceQueue:
    return current_job().engine.resources.queue(name)


def robot(queue: str, pause_s: float = 0.0) -> list[int]:
    """Take, mark and finish resources until none is left; return the ids it processed."""
    rq = _queue(queue)
    me = current_job().uuid
    done: list[int] = []
    while (item := rq.take(lock="both")) is not None:
        time.sleep(pause_s)
        rq.update(item.id, value={**item.value, "by": me})
        rq.finish(item.id, "processed")
        done.append(item.id)
    return done


def take_and_hang(queue: str, ready: str, lock: str = "both") -> None:
    """Take one resource, say so in the file `ready` (its id), then never end by itself."""
    item = _queue(queue).take(lock=lock)
    assert item is not None
    with open(ready + ".tmp", "w") as f:
        f.write(str(item.id))
    os.replace(ready + ".tmp", ready)
    time.sleep(1000)


def take_until_file(queue: str, ready: str, release: str, lock: str) -> int:
    """Take one resource, report its id in `ready`, wait for `release`, then finish it."""
    rq = _queue(queue)
    item = rq.take(lock=lock)
    assert item is not None
    with open(ready + ".tmp", "w") as f:
        f.write(str(item.id))
    os.replace(ready + ".tmp", ready)
    wait_for_file(release)
    rq.finish(item.id, "processed")
    return item.id


def take_dated(queue: str, seconds: float) -> int:
    """Take one resource with a read lock dated `seconds` from now, and end without releasing."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    item = _queue(queue).take(lock="read", until=until)
    assert item is not None
    return item.id


def try_take(queue: str) -> int | None:
    item = _queue(queue).take()
    return None if item is None else item.id


def timed(queue: str, verb: str, item_id: int, wait: float) -> dict[str, Any]:
    """Read (`get`) or change (`update`) a resource, waiting up to `wait`; what happened."""
    rq = _queue(queue)
    start = time.monotonic()
    try:
        if verb == "get":
            item = rq.get(item_id, wait=wait)
            outcome = "ok" if item is not None else "missing"
        else:
            rq.update(item_id, priority=1, wait=wait)
            outcome = "ok"
    except ResourceLocked as exc:
        outcome = f"locked: {exc} [{exc.holder}]"
    return {"outcome": outcome, "elapsed": time.monotonic() - start}


def change_after_file(queue: str, ready: str, go: str) -> str:
    """Take with a write lock, report, wait for `go`, then try to change the resource."""
    rq = _queue(queue)
    item = rq.take(lock="write")
    assert item is not None
    with open(ready, "w") as f:
        f.write(str(item.id))
    wait_for_file(go)
    try:
        rq.update(item.id, priority=2)
    except ResourceLocked as exc:
        return str(exc)
    return "changed"
