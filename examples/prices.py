"""A nightly price upload, restarted after a failure (1C RestartCountOnFailure).

Run: python -m examples.prices

The demo registry (schedules/demo.yaml) declares it as `PriceUpload`: daily in a 05:00-07:00
window, restarted up to 3 times, 10 minutes after each failure. The upload here is
simulated: it writes a price file and fails with a transient error on its first attempt, so
every run shows a restart.

The demo starts an engine on a temporary SQLite file with a registry that declares the same
job, due now and restarted after 1 second, and prints its runs and the event log.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobengine import Engine, current_job

PRICES_DIR = "JOBENGINE_PRICES_DIR"  # where upload() writes; a temp folder by default


class PriceServiceUnavailable(Exception):
    """The simulated transient error of the first attempt."""


def prices() -> dict[str, float]:
    """Today's price list (made up)."""
    return {"apple": 1.20, "pear": 1.85, "plum": 2.40}


def upload() -> int:
    """Upload today's prices: write them to a file; returns how many were uploaded.

    The first attempt of each run fails as a flaky price service would; the scheduler's
    restart (attempt 2) succeeds.
    """
    job = current_job()
    if job.attempt == 1:
        raise PriceServiceUnavailable("price service unavailable (simulated), try again later")
    folder = Path(os.environ.get(PRICES_DIR) or Path(tempfile.gettempdir(), "jobengine-prices"))
    folder.mkdir(parents=True, exist_ok=True)
    items = prices()
    target = folder / f"prices-{datetime.now(UTC):%Y-%m-%d}.json"
    target.write_text(json.dumps(items, indent=1))
    job.message(f"uploaded {len(items)} prices to {target.name} (attempt {job.attempt})")
    return len(items)


REGISTRY = """\
allowed_modules: [examples]
scheduled_jobs:
  PriceUpload:
    method: examples.prices:upload
    description: Upload prices to the website
    key: prices
    use: true
    predefined: true
    restart_on_failure: {{count: 3, interval: 1}}
    schedule:
      days_repeat_period: 1
      begin_time: "{begin:%H:%M:%S}"
      end_time: "{end:%H:%M:%S}"
      timezone: UTC
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[PRICES_DIR] = tmp  # the workers inherit it
        now = datetime.now(UTC)
        registry = Path(tmp, "prices.yaml")
        registry.write_text(
            REGISTRY.format(begin=now - timedelta(minutes=2), end=now + timedelta(minutes=10))
        )
        with Engine(f"sqlite:///{tmp}/prices.db", registry=str(registry), workers=2) as engine:
            (job,) = engine.scheduled.get(metadata="PriceUpload")
            print(f"{job.metadata}: {job.schedule}; restarts {job.restart_count}")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                runs = job.history()
                if runs and runs[0].state.value == "COMPLETED":
                    break
                time.sleep(0.2)
            for run in reversed(job.history()):
                outcome = run.error if run.error else f"{run.result()} prices uploaded"
                print(f"attempt {run.attempt}: {run.state.value} ({outcome})")
            print("files:", sorted(p.name for p in Path(tmp).glob("prices-*.json")))
            print("event log:")
            for event in reversed(engine.log.get(scheduled_job=job)):
                print(f"  {event.time:%H:%M:%S} {event.level:7} {event.event:13} {event.message}")


if __name__ == "__main__":
    main()
