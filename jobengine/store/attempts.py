"""The attempts of a background job, kept as JSON on its row (`attempts`) as each one ends.

An attempt is recorded when it fails (retried or final), when it is canceled after it started,
and when it completes after earlier attempts; a job that completes on its first attempt records
nothing, so the hot path writes no more than before.
"""

from __future__ import annotations

import json
from typing import Any

from jobengine.limits import KB, clip
from jobengine.store.records import Finish

# The history keeps the newest attempts, and each one's error text up to a size: the job's
# own error fields hold the last error whole.
ATTEMPTS_KEPT = 100
ATTEMPT_TEXT_BYTES = 16 * KB


def is_recorded(fin: Finish, row: dict[str, Any]) -> bool:
    """Whether the attempt `fin` ends goes into the job's history (see the module's rule)."""
    if fin.state == "FAILED":
        return True
    if fin.state == "COMPLETED":
        return int(row["attempt"]) > 1
    return row.get("started_ms") is not None  # canceled before it started: not an attempt


def appended(fin: Finish, row: dict[str, Any]) -> str:
    """The job's history (`row["attempts"]`, JSON or None) with the attempt `fin` ends added."""
    history: list[dict[str, Any]] = json.loads(row["attempts"]) if row.get("attempts") else []
    history.append(
        {
            "number": int(row["attempt"]),
            "start_ms": row.get("started_ms"),
            "end_ms": fin.end_ms,
            "state": fin.state,
            "error_type": fin.error_type,
            "error_message": _cut(fin.error_message, "error message"),
            "error_traceback": _cut(fin.error_traceback, "traceback"),
        }
    )
    return json.dumps(history[-ATTEMPTS_KEPT:])


def _cut(text: str | None, what: str) -> str | None:
    return clip(text, ATTEMPT_TEXT_BYTES, what) if text is not None else None
