"""APScheduler 3's BackgroundScheduler running the scheduler benchmark's interval jobs, in its
own process: `python bench/peer_apscheduler.py SPEC.json OUT.json`.

SPEC: {"jobs": [[id, first_start_epoch_s, period_s], ...], "until": epoch_s}. Each job is
`IntervalTrigger(seconds=period, start_date=first_start)` on the default thread pool (10
threads); the job function records `time.time()` as its first statement. A listener records,
per run, the `scheduled_run_time` APScheduler reports (EVENT_JOB_EXECUTED) and when the run was
submitted (EVENT_JOB_SUBMITTED, in the scheduler's thread). OUT: {"runs": [[id, scheduled_s,
submitted_s, started_s], ...], "missed": n}.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

_lock = threading.Lock()
_started: dict[str, deque[float]] = defaultdict(deque)
_submitted: dict[tuple[str, float], float] = {}  # (job, scheduled run time): seen
_runs: list[tuple[str, float, float]] = []  # (job, scheduled run time, started)
_missed = 0


def tick(job_id: str) -> None:
    """The no-op job: note when it began."""
    started = time.time()
    with _lock:
        _started[job_id].append(started)


def _listen(event) -> None:  # type: ignore[no-untyped-def]
    global _missed
    with _lock:
        if event.code == EVENT_JOB_SUBMITTED:  # may come after the run's end: keyed
            seen = time.time()
            for at in event.scheduled_run_times:
                _submitted[(event.job_id, at.timestamp())] = seen
        elif event.code == EVENT_JOB_MISSED:
            _missed += 1
        else:  # executed or error: one run of this job is over (max_instances=1: in order)
            started = _started[event.job_id].popleft()
            _runs.append((event.job_id, event.scheduled_run_time.timestamp(), started))


def main() -> int:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_listener(
        _listen, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    for job_id, first, period in spec["jobs"]:
        trigger = IntervalTrigger(
            seconds=period, start_date=datetime.fromtimestamp(first, UTC), timezone=UTC
        )
        scheduler.add_job(tick, trigger, args=[job_id], id=job_id, misfire_grace_time=60)
    scheduler.start()
    print(f"apscheduler: {len(spec['jobs'])} jobs scheduled", flush=True)
    time.sleep(max(0.0, spec["until"] - time.time()))
    scheduler.shutdown(wait=True)
    with _lock:
        runs = [[j, at, _submitted.get((j, at)), started] for j, at, started in _runs]
        out = {"runs": runs, "missed": _missed}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
