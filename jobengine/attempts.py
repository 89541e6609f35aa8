"""A background job's attempts as the API shows them (`BackgroundJob.attempts`), read from the
history the store keeps on the job (store/attempts.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from jobengine.clock import from_ms
from jobengine.errors import ErrorInfo


@dataclass(frozen=True)
class Attempt:
    """One attempt that ended: its number (1 = the first run), when it started (None if it
    never did) and ended, how it ended (COMPLETED, FAILED or CANCELED) and its error."""

    number: int
    start: datetime | None
    end: datetime | None
    state: str
    error: ErrorInfo | None

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.state}" + (f" ({self.error})" if self.error else "")


def read_attempts(text: str | None) -> list[Attempt]:
    """The attempts in a job's stored history (JSON text or None), oldest first."""
    if not text:
        return []
    out: list[Attempt] = []
    for entry in json.loads(text):
        kind = entry.get("error_type")
        error = (
            ErrorInfo(kind, entry.get("error_message") or "", entry.get("error_traceback") or "")
            if kind
            else None
        )
        start = from_ms(entry.get("start_ms"))
        out.append(
            Attempt(
                int(entry["number"]),
                start,
                from_ms(entry.get("end_ms")),
                str(entry.get("state", "FAILED")),
                error,
            )
        )
    return out
