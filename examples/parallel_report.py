"""A scheduled parallel computation: the job starts one child background job per region,
waits for them and combines their results (1C's parallel computation, on a schedule).

Run: python -m examples.parallel_report

The demo registry (schedules/demo.yaml) declares it as `SalesReport`: hourly from 08:00 to
20:00 on working days. The demo starts an engine on a temporary SQLite file with a registry
that declares the same job hourly all day, so the scheduler starts it at once; it prints the
combined result, the children and the occurrence the scheduler decided.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from jobengine import Engine, current_job

REGIONS = ("north", "south", "east", "west")

REGISTRY = """\
allowed_modules: [examples]
scheduled_jobs:
  SalesReport:
    method: examples.parallel_report:sales_report
    description: Sales by region
    key: sales-report
    use: true
    predefined: true
    schedule:
      days_repeat_period: 1
      repeat_period_in_day: 3600
"""


def region_total(region: str) -> int:
    """One child: the total of one region's (made-up) orders."""
    seed = sum(map(ord, region))
    return sum((seed * i) % 97 for i in range(100_000))


def sales_report() -> dict[str, int]:
    """The parent: one child per region, then the totals and their sum."""
    job = current_job()
    children = [
        job.engine.background.execute(region_total, [region], description=f"sales of {region}")
        for region in REGIONS
    ]
    job.message(f"started {len(children)} children")
    job.engine.background.wait(children)  # lends this job's worker slot meanwhile
    totals = {region: child.result() for region, child in zip(REGIONS, children, strict=True)}
    totals["all"] = sum(totals.values())
    return totals


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp, "sales.yaml")
        registry.write_text(REGISTRY)
        with Engine(f"sqlite:///{tmp}/sales.db", registry=str(registry), workers=2) as engine:
            (job,) = engine.scheduled.get(metadata="SalesReport")
            print(f"{job.metadata}: {job.schedule}")
            deadline = time.monotonic() + 60
            while not job.history() and time.monotonic() < deadline:
                time.sleep(0.1)
            (run,) = job.history()
            print(f"result: {run.result(timeout=60)}")
            children = [j for j in engine.background.get() if j.parent == run.uuid]
            for child in sorted(children, key=lambda j: j.description):
                print(f"  child {child.description}: {child.state.value} {child.result()}")
            for occurrence in job.occurrences():
                print(f"occurrence: {occurrence.decision}")


if __name__ == "__main__":
    main()
