"""jobengine: 1C-style scheduled and background jobs for Python."""

from jobengine.background import BackgroundJob, BackgroundJobs, Progress
from jobengine.engine import Engine
from jobengine.errors import (
    ErrorInfo,
    JobCanceled,
    JobEngineError,
    JobFailed,
    JobKeyConflict,
    RegistryError,
    ScheduleError,
    StoreError,
)
from jobengine.retry import Retry, RetryLater
from jobengine.runtime import current_job
from jobengine.schedule import Schedule
from jobengine.state import JobState

__all__ = [  # noqa: RUF022 - grouped by area, not sorted
    # engine and jobs
    "Engine",
    "BackgroundJob",
    "BackgroundJobs",
    "JobState",
    "Progress",
    "current_job",
    # schedules
    "Schedule",
    # queue behaviours
    "Retry",
    "RetryLater",
    # errors
    "JobEngineError",
    "ErrorInfo",
    "JobCanceled",
    "JobFailed",
    "JobKeyConflict",
    "RegistryError",
    "ScheduleError",
    "StoreError",
]
