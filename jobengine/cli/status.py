"""`jobengine status`: the engines on the store, their workers busy and idle and the queues
they serve, queue depth, job counts and the scheduled-jobs lock."""

from __future__ import annotations

from typing import Any

from jobengine.cli.common import DB_OPTION, cli, client, fmt, out
from jobengine.cli.output import iso, json_option, print_json, show
from jobengine.cli.scheduled import lock_document, lock_line
from jobengine.state import JobState

ENGINE_COLUMNS = [
    ("engine", "id"),
    ("host", "host"),
    ("pid", "pid"),
    ("started", "started_text"),
    ("heartbeat age", "age_text"),
    ("workers", "workers_text"),
    ("busy", "busy"),
    ("idle", "idle_text"),
    ("queues", "queues_text"),
    ("alive", "alive_text"),
]


@cli.command("status")
@DB_OPTION
@json_option
def status_cmd(db: str, as_json: bool) -> None:
    """The engines on the store (host, pid, heartbeat age, workers busy and idle, queues
    served), the jobs waiting in each queue, the active and failed counts, and the
    scheduled-jobs lock."""
    with client(db) as engine:
        status = engine.status.read()
    document = _document(status)
    if as_json:
        print_json(document)
        return
    counts = ", ".join(f"{state.value} {n}" for state, n in status.counts.items())
    waiting = ", ".join(f"{q} {n}" for q, n in status.waiting.items()) or "none"
    for line in (lock_line(status.lock), f"jobs: {counts}", f"waiting to start: {waiting}"):
        out.print(line, markup=False)
    if not status.engines:
        out.print("engines: none registered (start `jobengine run`)", markup=False)
        return
    rows = document["engines"]
    for row, e in zip(rows, status.engines, strict=True):
        row["started_text"] = fmt(e.started_at)
        row["age_text"] = f"{e.heartbeat_age_s:.1f} s"
        row["alive_text"] = "yes" if e.is_alive else "no (stale)"
        row["workers_text"] = str(e.workers) if e.workers else "?"
        row["idle_text"] = str(e.idle) if e.workers else "?"
        row["queues_text"] = "all" if e.queues is None else ", ".join(e.queues)
    show(rows, ENGINE_COLUMNS)


def _document(status: Any) -> dict[str, Any]:
    """`status --json`: stable keys, ISO 8601 instants."""
    return {
        "at": iso(status.at),
        "locked": lock_document(status.lock),
        "counts": {state.value: n for state, n in status.counts.items()},
        "active": status.counts[JobState.ACTIVE],
        "failed": status.counts[JobState.FAILED],
        "waiting": status.waiting,
        "engines": [
            {
                "id": e.id,
                "host": e.host,
                "pid": e.pid,
                "started": iso(e.started_at),
                "heartbeat": iso(e.heartbeat_at),
                "heartbeat_age_s": round(e.heartbeat_age_s, 3),
                "workers": e.workers or None,  # null: not recorded (an older engine)
                "busy": e.busy,
                "idle": e.idle if e.workers else None,
                "queues": list(e.queues) if e.queues is not None else None,  # null: every one
                "alive": e.is_alive,
            }
            for e in status.engines
        ],
    }
