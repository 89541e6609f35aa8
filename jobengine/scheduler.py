"""The scheduler: a heap of when each enabled scheduled job needs a look, and a thin loop.

It never scans every job on a tick. It keeps, per enabled job, the instant its next
occurrence (or restart) is due, in a heap, and sleeps on the clock until the earliest, a
run's deadline, or a hint (an edit, a sync, the lock, a run's end, another engine's
notification). A hint only makes it read the rows whose revision moved. What to do with a
due job is decided in the store under the job's row lock (`jobengine.decide`), so any number
of schedulers, in this process or on other hosts, start each occurrence once.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobengine import codec
from jobengine.clock import Clock, from_ms, to_ms
from jobengine.decide import Decider, next_start
from jobengine.errors import JobEngineError, log_retry
from jobengine.schedule import Schedule
from jobengine.store import Store
from jobengine.store.records import Event, RunState, ScheduledRecord
from jobengine.store.scheduled import PassOutcome

if TYPE_CHECKING:
    from jobengine.background import BackgroundJob, BackgroundJobs
    from jobengine.scheduled import ScheduledJob, ScheduledJobs

logger = logging.getLogger(__name__)

PASS_CHUNK = 200  # due jobs decided per transaction
HOUSEKEEPING_S = 60.0
KEY_RETRY_MS = 5000  # how soon an occurrence blocked by a held key is tried again


@dataclass
class _Entry:
    record: ScheduledRecord
    schedule: Schedule
    wake_ms: int | None
    seq: int


@dataclass(frozen=True)
class SchedulerConfig:
    poll_s: float = 1.0  # how often the loop checks the revision when no hint came
    overdue_s: float = 60.0  # an occurrence this late means no scheduler was running
    keep_events_s: float = 30 * 86_400.0
    keep_occurrences_s: float = 7 * 86_400.0


class Scheduler:
    """`run_due()` is one pass at `clock.now()`; `serve()` is the loop a started engine runs."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        background: BackgroundJobs,
        scheduled: ScheduledJobs,
        announce_new: Callable[[], None],
        announce_cancel: Callable[[str], None],
        config: SchedulerConfig | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.background = background
        self.scheduled = scheduled
        self.announce_new = announce_new
        self.announce_cancel = announce_cancel
        self.cfg = config or SchedulerConfig()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._deadlines: list[tuple[int, str, str]] = []  # (ms, run uuid, scheduled uuid)
        self._seq = itertools.count()
        self._revision = -1
        self._schedules: dict[str, Schedule] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_housekeeping = 0.0
        self._runs: set[str] = set()  # scheduled runs seen active: their end wakes the loop

    # -- public ---------------------------------------------------------------------------

    def run_due(self) -> list[BackgroundJob]:
        """One pass at `clock.now()`: start every scheduled job that is due (and restarts
        due after a failure), record each occurrence's decision, stop runs past their
        deadline. Safe beside the loop and beside other engines.

        Returns:
            The runs started by this pass.
        """
        with self._lock:
            now = to_ms(self.clock.now())
            self._refresh(now)
            due = self._pop_due(now)
            outcomes: list[PassOutcome] = []
            decider = Decider(
                now, self._schedule_of, lambda: str(uuidlib.uuid4()), int(self.cfg.overdue_s * 1000)
            )
            for i in range(0, len(due), PASS_CHUNK):
                outcomes.extend(self.store.scheduled.run_pass(due[i : i + PASS_CHUNK], decider))
            started = self._settle_outcomes(due, outcomes, now)
            self._enforce_deadlines(now)
        if started:
            self.announce_new()
        return [job for job in (self.background.find(u) for u in started) if job is not None]

    def upcoming(self, limit: int = 10) -> list[tuple[ScheduledJob, datetime]]:
        """The next starts, soonest first: (scheduled job, when), an overdue one at now."""
        with self._lock:
            now = to_ms(self.clock.now())
            self._refresh(now)
            soon = heapq.nsmallest(
                limit,
                (
                    (max(ms, now), e.record.uuid)
                    for e in self._entries.values()
                    if (ms := self._next_of(e, now)) is not None
                ),
            )
        out: list[tuple[ScheduledJob, datetime]] = []
        for ms, uuid in soon:
            job = self.scheduled.find(uuid)
            at = from_ms(ms)
            if job is not None and at is not None:
                out.append((job, at))
        return out

    def ended(self, uuids: Sequence[str]) -> None:
        """Runs ended (a hint): look again if one of them was a scheduled run."""
        if any(u in self._runs for u in uuids):
            self._wake.set()

    def _next_of(self, entry: _Entry, now: int) -> int | None:
        """When the job next starts as a person reads it: after a pause, not while in it."""
        if not entry.record.paused:
            return entry.wake_ms
        return next_start(entry.record, entry.schedule, None, now)

    def wake(self) -> None:
        """Look again soon: something changed (a hint; the store says what)."""
        self._wake.set()

    def next_wake_ms(self) -> int | None:
        with self._lock:
            times = [self._heap[0][0]] if self._heap else []
            if self._deadlines:
                times.append(self._deadlines[0][0])
            return min(times) if times else None

    # -- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name="jobengine-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
                self._housekeeping()
            except Exception:
                log_retry(logger, "scheduler pass failed")
            if self._stop.is_set():
                return
            now = to_ms(self.clock.now())
            nxt = self.next_wake_ms()
            timeout = self.cfg.poll_s
            if nxt is not None:
                timeout = min(timeout, max(0.0, (nxt - now) / 1000))
            self._wake.clear()
            self.clock.wait(timeout, self._wake)

    def _housekeeping(self) -> None:
        mono = self.clock.monotonic()
        if mono < self._next_housekeeping:
            return
        self._next_housekeeping = mono + HOUSEKEEPING_S
        now = to_ms(self.clock.now())
        self.store.events.purge(now - int(self.cfg.keep_events_s * 1000))
        self.store.scheduled.purge_occurrences(now - int(self.cfg.keep_occurrences_s * 1000))

    # -- state ----------------------------------------------------------------------------

    def _schedule_of(self, rec: ScheduledRecord) -> Schedule:
        found = self._schedules.get(rec.schedule)
        if found is None:
            if len(self._schedules) > 50_000:
                self._schedules.clear()
            found = Schedule.from_dict(codec.loads(rec.schedule) or {})
            self._schedules[rec.schedule] = found
        return found

    def _refresh(self, now: int) -> None:
        """Read the rows changed since the last revision seen (all of them the first time)."""
        revision = self.store.scheduled.revision()
        if revision == self._revision:
            return
        if self._revision < 0:
            rows = self.store.scheduled.select()
        else:
            rows = self.store.scheduled.changed_since(self._revision)
        self._revision = revision
        runs = self.store.scheduled.run_states([r.sched_job for r in rows if r.sched_job])
        for rec in rows:
            run = runs.get(rec.sched_job or "")
            self._place(rec, run[0] if run else None, now)
            if run is not None and run[0].state == "ACTIVE" and rec.use:
                self._watch_deadline(rec, rec.sched_job or "", run[1])

    def _place(self, rec: ScheduledRecord, run: RunState | None, now: int) -> None:
        if not rec.use:
            self._entries.pop(rec.uuid, None)
            return
        try:
            schedule = self._schedule_of(rec)
        except JobEngineError as exc:
            logger.error("scheduled job %s (%s): bad schedule: %s", rec.metadata, rec.uuid, exc)
            self._entries.pop(rec.uuid, None)
            return
        self._set(rec, schedule, next_start(rec, schedule, run, now, honour_pause=False))

    def _set(self, rec: ScheduledRecord, schedule: Schedule, wake_ms: int | None) -> None:
        seq = next(self._seq)
        self._entries[rec.uuid] = _Entry(rec, schedule, wake_ms, seq)
        if wake_ms is not None:
            heapq.heappush(self._heap, (wake_ms, seq, rec.uuid))

    def _pop_due(self, now: int) -> list[str]:
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            _, seq, uuid = heapq.heappop(self._heap)
            entry = self._entries.get(uuid)
            if entry is not None and entry.seq == seq:
                due.append(uuid)
        return due

    def _settle_outcomes(
        self, due: Sequence[str], outcomes: Sequence[PassOutcome], now: int
    ) -> list[str]:
        by_uuid = {o.uuid: o for o in outcomes}
        started: list[str] = []
        for uuid in due:
            entry = self._entries.get(uuid)
            outcome = by_uuid.get(uuid)
            if entry is None:
                continue
            if outcome is None:  # deleted meanwhile
                self._entries.pop(uuid, None)
                continue
            if not entry.record.use and outcome.wake_ms is None:
                self._entries.pop(uuid, None)
                continue
            wake = outcome.wake_ms
            if outcome.decision == "skipped_key":
                # another job holds the key: its end is not announced to schedulers
                wake = min(wake, now + KEY_RETRY_MS) if wake is not None else now + KEY_RETRY_MS
            self._set(entry.record, entry.schedule, wake)
            if outcome.started is not None:
                started.append(outcome.started)
                self._watch_deadline(entry.record, outcome.started, now)
        return started

    # -- deadlines ------------------------------------------------------------------------

    def _watch_deadline(self, rec: ScheduledRecord, run: str, begin_ms: int) -> None:
        if len(self._runs) > 100_000:
            self._runs.clear()  # only a hint: the revision poll still sees every end
        self._runs.add(run)
        try:
            deadline = self._schedule_of(rec).deadline_ms(begin_ms)
        except JobEngineError:
            return
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, run, rec.uuid))

    def _enforce_deadlines(self, now: int) -> None:
        """Ask runs past their schedule's completion time or interval to stop (cooperative
        cancel, then the pool's grace kill); they end CANCELED and are not restarted."""
        late: dict[str, tuple[int, str]] = {}  # run -> (deadline, scheduled job)
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, run, sj = heapq.heappop(self._deadlines)
            # a run is watched again each time its scheduled job's row is re-read
            late.setdefault(run, (deadline, sj))
        if not late:
            return
        records = {r.uuid: r for r in self.store.jobs.find_many(list(late))}
        for run, (deadline, sj) in late.items():
            found = records.get(run)
            if found is None or found.state != "ACTIVE" or found.cancel_requested:
                continue
            rec = self.store.jobs.request_cancel(run, now)
            if rec is None:
                continue
            self.store.events.write(
                [
                    Event(
                        now,
                        "warning",
                        "job.deadline",
                        f"the run reached its schedule's completion limit "
                        f"({from_ms(deadline):%Y-%m-%d %H:%M:%S} UTC): stopping it",
                        run,
                        sj,
                    )
                ]
            )
            self.announce_cancel(run)
