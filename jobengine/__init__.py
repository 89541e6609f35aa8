"""jobengine: 1C-style scheduled and background jobs for Python.

Names are imported on first use, so a worker process that only needs `current_job` does not
pay for the store and its database drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob, BackgroundJobs, Progress
    from jobengine.engine import Engine
    from jobengine.errors import (
        ErrorInfo,
        JobCanceled,
        JobEngineError,
        JobFailed,
        JobGoneError,
        JobKeyConflict,
        RegistryError,
        ResourceLocked,
        ResourceNotFound,
        ScheduleError,
        StoreError,
    )
    from jobengine.resources import ResourceItem, ResourceLock, ResourceQueue, ResourceStatus
    from jobengine.retry import Retry, RetryLater
    from jobengine.runtime import current_job
    from jobengine.schedule import Schedule
    from jobengine.state import JobState

_HOMES = {
    "Engine": "jobengine.engine",
    "BackgroundJob": "jobengine.background",
    "BackgroundJobs": "jobengine.background",
    "Progress": "jobengine.background",
    "JobState": "jobengine.state",
    "current_job": "jobengine.runtime",
    "Schedule": "jobengine.schedule",
    "Retry": "jobengine.retry",
    "RetryLater": "jobengine.retry",
    "JobEngineError": "jobengine.errors",
    "ErrorInfo": "jobengine.errors",
    "JobCanceled": "jobengine.errors",
    "JobFailed": "jobengine.errors",
    "JobGoneError": "jobengine.errors",
    "JobKeyConflict": "jobengine.errors",
    "RegistryError": "jobengine.errors",
    "ScheduleError": "jobengine.errors",
    "StoreError": "jobengine.errors",
    "ResourceLocked": "jobengine.errors",
    "ResourceNotFound": "jobengine.errors",
    "ResourceItem": "jobengine.resources",
    "ResourceLock": "jobengine.resources",
    "ResourceQueue": "jobengine.resources",
    "ResourceStatus": "jobengine.resources",
}

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
    # resource queues
    "ResourceItem",
    "ResourceLock",
    "ResourceQueue",
    "ResourceStatus",
    # errors
    "JobEngineError",
    "ErrorInfo",
    "JobCanceled",
    "JobFailed",
    "JobGoneError",
    "JobKeyConflict",
    "RegistryError",
    "ResourceLocked",
    "ResourceNotFound",
    "ScheduleError",
    "StoreError",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'jobengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
