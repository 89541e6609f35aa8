"""Writing what workers report: starts, progress and ends, with the retry and key rules.

Each writer runs inside the caller's write transaction (`JobStore.record`, `end_now`,
`request_cancel`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from jobengine.retry import Retry, retry_delay_s
from jobengine.store.attempts import appended, is_recorded
from jobengine.store.eventlog import end_event, write_events
from jobengine.store.jobbase import JobVerbs
from jobengine.store.models import BackgroundJobRow as J
from jobengine.store.records import Batch, Event, Finish, Recorded
from jobengine.store.revision import bump, runs_ended
from jobengine.store.rows import end_params


class OutcomeWrites(JobVerbs):
    """The writers of a batch of reports."""

    def _ended_plainly(self, batch: Batch, owner: str) -> bool:
        """A lone plain completion (the latency case): one conditional UPDATE, its own
        transaction. False, having written nothing, for anything else."""
        if batch.progress or batch.messages or len(batch.finishes) != 1:
            return False
        fin = batch.finishes[0]
        if not fin.is_plain or fin.state != "COMPLETED" or fin.holds_resources:
            return False
        if len(batch.started) > (fin.uuid in batch.started):
            return False  # other jobs' starts to write: the batch path
        params = (*end_params(fin, None, batch.started.get(fin.uuid)), owner)
        return bool(self._run(self.sql.end_plain, params))

    def _write_started(
        self, batch: Batch, owner: str | None = None, skip: Collection[str] = ()
    ) -> None:
        """Write the batch's starts, but those in `skip` (written with their ends)."""
        starts = [(u, s) for u, s in batch.started.items() if u not in skip]
        if owner is None:
            rows = [(ms, host, pid, uuid) for uuid, (ms, host, pid) in starts]
            self._run_many(self.sql.started, rows)
        else:
            owned = [(ms, host, pid, u, owner) for u, (ms, host, pid) in starts]
            self._run_many(self.sql.started_owned, owned)

    def _write_progress(self, batch: Batch) -> None:
        rows = [(pct, text, uuid) for uuid, (pct, text) in batch.progress.items()]
        self._run_many(self.sql.progress, rows)

    def _write_finishes(
        self,
        finishes: Sequence[Finish],
        owner: str | None = None,
        starts: Mapping[str, tuple[int, str, int]] | None = None,
    ) -> Recorded:
        """End `finishes` (only `owner`'s jobs, if given); `starts` are starts not written
        yet, written with the ends of their jobs."""
        ended: list[str] = []
        retried: list[str] = []
        retry_at: list[int] = []
        notable: list[tuple[Finish, dict[str, Any]]] = []
        if not finishes:
            return Recorded(ended, retried)
        current = self._current([f.uuid for f in finishes], owner)
        # Before any key lock, as a scheduler pass takes it before its inserts' key locks.
        scheduled = any(row["scheduled_job"] for row in current.values())
        revision = bump(self.db) if scheduled else 0
        plain: list[tuple[Any, ...]] = []
        # Sorted so concurrent finishers take the advisory key locks in one order.
        for fin in sorted(finishes, key=lambda f: (current.get(f.uuid, {}).get("key", ""), f.uuid)):
            row = current.get(fin.uuid)
            if row is None:
                continue  # already settled elsewhere (cancel before start, dead-engine settle)
            start = starts.get(fin.uuid) if starts else None
            if start is not None:
                row["started_ms"] = start[0]  # the attempt's history sees it as started
            row["start"] = start
            delay = _retry_delay(fin, row)
            if delay is not None:
                retry_at.append(self._send_back(fin, row, delay))
                retried.append(fin.uuid)
            elif row["key"]:
                self._end(fin, row)
                ended.append(fin.uuid)
            elif is_recorded(fin, row):
                self._exec(self.sql.end_attempts, end_params(fin, appended(fin, row), start))
                ended.append(fin.uuid)
            else:
                plain.append(end_params(fin, None, start))
                ended.append(fin.uuid)
            if delay is None:
                notable.append((fin, row))
        self._run_many(self.sql.end, plain)
        self._log_ends(notable, revision)
        # An attempt that ended (retried or final) holds nothing any more: its process is gone.
        gone = [f.uuid for f in finishes if f.holds_resources and f.uuid in current]
        if gone:  # resource queues load only when a job has used one
            from jobengine.store.resources import release_holders

            release_holders(self.db, gone, max(f.end_ms for f in finishes))
        return Recorded(ended, retried, min(retry_at, default=None))

    def _current(self, uuids: Sequence[str], owner: str | None) -> dict[str, dict[str, Any]]:
        """What ending them needs of the ACTIVE ones among `uuids` (only `owner`'s, if given)."""
        current: dict[str, dict[str, Any]] = {}
        names = ("method", "key", "key_held", "attempt", "retry", "scheduled_job", "started_ms")
        for i in range(0, len(uuids), 500):
            chunk = list(uuids[i : i + 500])
            query, params = self.sql.current(len(chunk), owner), [*chunk]
            if owner is not None:
                params.append(owner)
            for u, *values, attempts in self._run(query, params):
                row = dict(zip(names, values, strict=True))
                row["key_held"] = bool(row["key_held"])
                row["attempts"] = attempts
                current[u] = row
        return current

    def _log_ends(self, ends: Sequence[tuple[Finish, dict[str, Any]]], revision: int) -> None:
        """Events for runs of scheduled jobs and for failures, and the scheduled jobs' new
        state, in the transaction that ends the runs. Plain jobs that complete log nothing:
        the hot path writes no event."""
        events: list[Event] = []
        runs: list[tuple[str, str, int]] = []
        for fin, row in ends:
            sj = row["scheduled_job"]
            if sj is None and fin.state != "FAILED":
                continue
            if sj is not None:
                runs.append((sj, fin.uuid, fin.end_ms))
            events.append(end_event(fin, row["method"], sj))
        if runs:
            runs_ended(self.db, runs, revision)
        write_events(self.db, events)

    def _send_back(self, fin: Finish, row: dict[str, Any], delay_s: float) -> int:
        """Queue the job again for its next attempt; returns when it may run."""
        run_after_ms = fin.end_ms + int(delay_s * 1000)
        start = row.get("start")
        place = {"host": start[1], "pid": start[2]} if start else {}  # where the attempt ran
        J.update(
            **place,
            claimed_by=None,
            started_ms=None,
            attempt=row["attempt"] + 1,
            run_after_ms=run_after_ms,
            error_type=fin.error_type,
            error_message=fin.error_message,
            error_traceback=fin.error_traceback,
            attempts=appended(fin, row),
        ).where(J.uuid == fin.uuid).execute(self.db)
        return run_after_ms

    def _end(self, fin: Finish, row: dict[str, Any]) -> None:
        self._lock_key(row["method"], row["key"])
        start = row.get("start")
        if is_recorded(fin, row):
            self._exec(self.sql.end_attempts, end_params(fin, appended(fin, row), start))
        else:
            self._exec(self.sql.end, end_params(fin, None, start))
        if row["key_held"]:
            self._promote(row["method"], row["key"])


def _retry_delay(fin: Finish, row: dict[str, Any]) -> float | None:
    """Seconds until another attempt, or None when this outcome is final (`retry_delay_s`)."""
    if fin.state != "FAILED":
        return None
    policy = Retry(**json.loads(row["retry"])) if row["retry"] else None
    return retry_delay_s(int(row["attempt"]), policy, fin.retry_delay_s)
