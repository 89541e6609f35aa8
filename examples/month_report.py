"""A month-end report on the last Friday of each month at 18:00.

Run: python -m examples.month_report

The demo registry (schedules/demo.yaml) declares it as `MonthReport`:

    schedule:
      days_repeat_period: 1    # every day ...
      week_days: [5]           # ... that is a Friday ...
      week_day_in_month: -1    # ... in the month's last 7 days: the last Friday
      begin_time: "18:00"

The demo prints the schedule's next 12 run dates, then runs the report once by hand with
`run_now()` on a started engine (a manual run leaves the schedule's own timing alone) and
prints its result. Its registry declares the job disabled (`use: false`), so that the
scheduler does not also start it when the demo happens to run on a last Friday evening.
"""

from __future__ import annotations

import calendar
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from jobengine import Engine, Schedule, current_job

REGISTRY = """\
allowed_modules: [examples]
scheduled_jobs:
  MonthReport:
    method: examples.month_report:month_report
    description: Month-end report
    key: month-report
    use: false
    predefined: true
    schedule:
      days_repeat_period: 1
      week_days: [5]
      week_day_in_month: -1
      begin_time: "18:00"
"""


def month_report() -> dict[str, object]:
    """The report (made up): the current month's working days and its last Friday."""
    today = date.today()
    days = calendar.monthrange(today.year, today.month)[1]
    month = [date(today.year, today.month, d) for d in range(1, days + 1)]
    working = [d for d in month if d.weekday() < 5]
    last_friday = max(d for d in month if d.weekday() == 4)
    current_job().message(f"report for {today:%B %Y}: {len(working)} working days")
    return {
        "month": f"{today:%Y-%m}",
        "working_days": len(working),
        "last_friday": last_friday.isoformat(),
    }


def next_runs(schedule: Schedule, count: int, after: datetime) -> list[datetime]:
    """The next `count` starts of `schedule` after `after`, had each one run on time."""
    runs: list[datetime] = []
    at = schedule.next_run(after)
    while at is not None and len(runs) < count:
        runs.append(at)
        at = schedule.next_run(at + timedelta(seconds=1), at, at)
    return runs


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp, "month.yaml")
        registry.write_text(REGISTRY)
        with Engine(f"sqlite:///{tmp}/month.db", registry=str(registry), workers=1) as engine:
            (job,) = engine.scheduled.get(metadata="MonthReport")
            print(f"{job.metadata}: {job.schedule}")
            for at in next_runs(job.schedule, 12, datetime.now()):
                print(f"  {at:%a %Y-%m-%d %H:%M}")
            run = job.run_now()
            print(f"{run.description}: {run.result(timeout=60)}")
            print(f"schedule's last start unchanged: {job.refresh().last_begin}")


if __name__ == "__main__":
    main()
