"""An email queue run by cron, 20 jobs at a time, priorities first (InstantCMS's queue).

Run: python -m examples.instantcms

InstantCMS pushes tasks onto named queues (`pushOn(queue, data, priority)`, `pushOnLater(when,
...)`), and the system crontab starts a runner every minute that executes at most 20 of them,
higher priority first, then in arrival order. Here a task is a background job with `queue=`,
`priority=` and `delay=`, and the runner is `jobengine run --queues email --max-jobs 20
--exit-when-idle`, started twice as a crontab would: the first run stops at 20 jobs (exit code 5:
due jobs are left), the second one runs the rest, including the delayed job now due, and exits 0.
Jobs of other queues are left for their own runners.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jobengine import Engine, current_job

DB = "sqlite:///instantcms.db"
RUNNER = ["run", "--db", DB, "--queues", "email", "--max-jobs", "20", "--exit-when-idle"]


def send_email(to: str, subject: str) -> str:
    """The queue's handler; InstantCMS hands it the attempt number first."""
    attempt = current_job().attempt
    time.sleep(0.01)  # the SMTP conversation
    return f"{subject} sent to {to} (attempt {attempt})"


def make_thumbnail(path: str) -> str:
    return f"thumbnail of {path}"


def cron_run() -> int:
    """What the crontab line does: one runner, to its end; returns its exit code."""
    here = str(Path(__file__).resolve().parents[1])  # the runner imports this module
    paths = [here, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    with tempfile.TemporaryDirectory() as no_registry:  # no scheduled jobs, only the queue
        runner = [sys.executable, "-m", "jobengine", *RUNNER, "--registry", no_registry]
        return subprocess.run(runner, env=env, check=False, capture_output=True).returncode


def push(engine: Engine, subject: str, to: str, priority: int, delay: float | None = None) -> Any:
    """InstantCMS's pushOn / pushOnLater: a job on the email queue."""
    return engine.background.execute(
        send_email, [to, subject], queue="email", priority=priority, delay=delay
    )


def main() -> None:
    engine = Engine(DB)  # a client: the cron runner does the work
    try:
        jobs = [push(engine, "password reset", f"user{n}@example.com", 5) for n in range(4)]
        jobs += [push(engine, "newsletter", f"reader{n}@example.com", 1) for n in range(20)]
        digest = push(engine, "daily digest", "editor@example.com", 1, delay=DIGEST_DELAY_S)
        jobs.append(digest)
        other = engine.background.execute(make_thumbnail, ["/upload/cat.jpg"], queue="images")
        print(
            "queued: 4 password resets (priority 5), 20 newsletters (priority 1), "
            f"1 digest due in {DIGEST_DELAY_S:g} s, 1 thumbnail on queue images"
        )
        for run in (1, 2):
            if run == 2:  # the next minute's run: by then the digest is due
                time.sleep(max(0.0, DIGEST_DELAY_S - (time.time() - digest.begin.timestamp())))
            before = {j.uuid for j in jobs if j.refresh().is_finished}
            code = cron_run()
            ran = sorted(
                (j for j in jobs if j.refresh().is_finished and j.uuid not in before),
                key=lambda j: j.started,
            )
            kinds = Counter(j.args[1] for j in ran)
            summary = ", ".join(f"{n} {subject}" for subject, n in kinds.items())
            print(f"cron run {run}: exit {code}, ran {len(ran)} jobs in this order: {summary}")
        print(f"digest: {digest.state.value}, {digest.result()}")
        print(f"thumbnail: {other.refresh().state.value}, not started (its queue has no runner)")
    finally:
        engine.close()


DIGEST_DELAY_S = 3.0

if __name__ == "__main__":
    main()
