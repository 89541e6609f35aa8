"""Background job states (1C BackgroundJobState), stored as their values."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """ACTIVE while queued or running; the other three are final."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_final(self) -> bool:
        return self is not JobState.ACTIVE
