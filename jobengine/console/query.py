"""The listings' filters beyond the typed text: what the filter form (f) chose for the
background jobs (state, period, scheduled job, queue), the event log (level, event, job,
period) and the resource items (queue, status, tag), and how the title says it. Pure; the
managers apply them in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PERIODS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "all": None,
}
PERIOD_NAMES = {"1h": "the last hour", "24h": "the last 24 h", "all": "any time"}
STATES = ("ACTIVE", "COMPLETED", "FAILED", "CANCELED")
LEVELS = ("info", "warning", "error")
EVENTS = (
    "job.started",
    "job.completed",
    "job.failed",
    "job.canceled",
    "job.restart",
    "schedule.missed",
    "worker.lost",
    "lock.on",
    "lock.off",
    "registry.synced",
    "scheduled.changed",
)


@dataclass(frozen=True)
class Query:
    """One listing's filters; "" is "any". A view uses the fields it has: background jobs
    state, period, scheduled_job, queue; the event log level, event, job, period; resource
    items queue, state (the item's status) and tag."""

    period: str = "1h"
    state: str = ""
    scheduled_job: str = ""  # a scheduled job's uuid
    queue: str = ""  # a background job's queue, or a resource queue
    tag: str = ""  # resource items with this tag
    level: str = ""
    event: str = ""
    job: str = ""  # a background job's uuid (events), or a scheduled job's with job_is_scheduled
    job_is_scheduled: bool = False
    label: str = ""  # how the title names scheduled_job or job

    def since(self, now: datetime) -> datetime | None:
        span = PERIODS[self.period]
        return now - span if span is not None else None

    def describe(self, view: str) -> str:
        """The active filters in words, for the title ("" when there are none)."""
        parts = []
        if view == "background":
            parts.append(f"begun in {PERIOD_NAMES[self.period]}")
            parts += [f"state {self.state}"] if self.state else []
            parts += [f"of {self.label}"] if self.scheduled_job else []
            parts += [f"queue {self.queue}"] if self.queue else []
        elif view == "events":
            parts += [f"level {self.level} and worse"] if self.level else []
            parts += [f"event {self.event}"] if self.event else []
            parts += [f"job {self.label}"] if self.job else []
            parts += [f"in {PERIOD_NAMES[self.period]}"] if self.period != "all" else []
        elif view == "resources":
            parts += [f"queue {self.queue}"] if self.queue else []
            parts += [f"status {self.state}"] if self.state else []
            parts += [f"tag {self.tag}"] if self.tag else []
        return ", ".join(parts)
