"""jobengine: 1C-style scheduled and background jobs for Python."""

from jobengine.errors import (
    JobCanceled,
    JobEngineError,
    JobFailed,
    JobKeyConflict,
    RegistryError,
    ScheduleError,
    StoreError,
)
from jobengine.retry import Retry, RetryLater
from jobengine.state import JobState

__all__ = [
    # jobs
    "JobState",
    "Retry",
    "RetryLater",
    # errors
    "JobCanceled",
    "JobEngineError",
    "JobFailed",
    "JobKeyConflict",
    "RegistryError",
    "ScheduleError",
    "StoreError",
]
