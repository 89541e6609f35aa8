"""What a scheduler pass decides for one scheduled job at one instant: pure, no I/O.

Occurrences. A scheduled job's next occurrence is `next_run(base, last_begin, last_end)`,
where `base` is the later of the job's `due_from` (set when it was created, enabled, edited
or resumed, and moved past occurrences already decided) and its last scheduler start. It is
a function of the stored state alone, so every engine computes the same nominal instant,
whatever its clock says; the occurrence row is unique on (job, nominal instant).

At `now` (spec section 7, rules P11/P12):
- Occurrences that came and went while no scheduler ran are *missed*: each gets a row and an
  event. If the schedule is still due now, the latest one is decided; otherwise the search
  moves on from now (no run for a window that has closed).
- The latest due occurrence starts a run unless the scheduled-jobs lock is on (*locked*),
  the job is paused (*paused*) or a run of it is active (*skipped_active*); the store turns
  a start whose key is held into *skipped_key*. A blocked occurrence may still start later
  in its window, once the block goes.
- With no occurrence due, a FAILED last run is restarted `restart_count` times,
  `restart_interval` seconds after each failure, as a new run with `attempt` one higher.
  Restarts ignore the window but respect `use`, the lock, a pause and an active run; a
  normal start resets the count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from jobengine.schedule import Schedule
from jobengine.store.records import Event, NewJob, RunState, ScheduledRecord
from jobengine.store.scheduled import PassInput, PassOutcome

MAX_OCCURRENCES = 1000  # occurrences looked at in one pass (a long downtime of a fast job)
MAX_MISSED_EVENTS = 100  # then one event sums up the rest


def base_ms(rec: ScheduledRecord, now_ms: int) -> int:
    """Where the search for the next occurrence begins."""
    base = rec.due_from_ms
    if rec.last_begin_ms is not None and rec.last_begin_ms > base:
        base = rec.last_begin_ms
    until = rec.paused_until_ms
    if rec.paused and until is not None and base < until <= now_ms:
        base = until  # a pause that has ended: what fell inside it is not made up
    return base


def pause_active(rec: ScheduledRecord, now_ms: int) -> bool:
    return rec.paused and (rec.paused_until_ms is None or now_ms < rec.paused_until_ms)


def restart_at(rec: ScheduledRecord, run: RunState | None) -> int | None:
    """When the last scheduler run, if it FAILED, is due for a restart; None for none."""
    if run is None or run.state != "FAILED" or run.attempt - 1 >= rec.restart_count:
        return None
    return (run.end_ms or 0) + rec.restart_interval * 1000


def next_start(
    rec: ScheduledRecord,
    schedule: Schedule,
    run: RunState | None,
    now_ms: int,
    *,
    honour_pause: bool = True,
) -> int | None:
    """When the scheduler will next start the job (an occurrence or a restart), assuming
    nothing else blocks it; may be before `now_ms` when it is due. None: never, as things
    are. Without `honour_pause`: when its next occurrence comes due, paused or not (the
    scheduler records a paused occurrence as such)."""
    if not rec.use:
        return None
    paused = honour_pause and pause_active(rec, now_ms)
    if paused and rec.paused_until_ms is None:
        return None
    found = schedule.next_run_ms(base_ms(rec, now_ms), rec.last_begin_ms, rec.last_end_ms)
    again = restart_at(rec, run)
    if again is not None and (found is None or again < found):
        found = again
    if found is not None and paused and rec.paused_until_ms is not None:
        # the first occurrence after the pause (the ones inside it are not made up)
        after = schedule.next_run_ms(rec.paused_until_ms, rec.last_begin_ms, rec.last_end_ms)
        found = after if again is None else _min(after, max(again, rec.paused_until_ms))
    return found


def _min(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _block(inp: PassInput, paused: bool) -> str | None:
    if inp.locked:
        return "locked"
    if paused:
        return "paused"
    return "skipped_active" if inp.active else None


def _fmt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Decider:
    """Decides for one pass at `now_ms`; `new_uuid` names the runs it starts."""

    def __init__(
        self,
        now_ms: int,
        schedule_of: Callable[[ScheduledRecord], Schedule],
        new_uuid: Callable[[], str],
        overdue_ms: int,
    ) -> None:
        self.now = now_ms
        self.schedule_of = schedule_of
        self.new_uuid = new_uuid
        self.overdue_ms = overdue_ms

    def __call__(
        self, inp: PassInput, decided: Callable[[int, int], dict[int, str]]
    ) -> PassOutcome | None:
        rec = inp.record
        out = PassOutcome(rec.uuid, self.now)
        if not rec.use:
            return out  # no wake: the scheduler forgets it until it is enabled
        now = self.now
        schedule = self.schedule_of(rec)
        lb, le = rec.last_begin_ms, rec.last_end_ms
        paused = pause_active(rec, now)
        again = restart_at(rec, inp.run)
        first = schedule.next_run_ms(base_ms(rec, now), lb, le)
        if first is None or first > now:
            if again is not None and again <= now:
                return self._restart(inp, out, first, paused)
            out.wake_ms = _min(first, again)
            if paused:  # the next occurrence, to record it as paused, or the pause's end
                out.wake_ms = _min(out.wake_ms, rec.paused_until_ms)
            return out
        noms = self._occurrences(schedule, first)
        seen = decided(noms[0], noms[-1])
        last = noms[-1]
        if not schedule.is_due_ms(now, lb, le):
            # the window closed before anyone started it: all of them were missed
            self._missed(out, [n for n in noms if n not in seen], rec)
            out.due_from_ms = now
            out.wake_ms = _min(schedule.next_run_ms(now, lb, le), again)
            return out
        self._missed(out, [n for n in noms[:-1] if n not in seen], rec)
        block = _block(inp, paused)
        if block is not None or seen.get(last) == "started":
            return self._blocked(out, rec, schedule, block, last, seen.get(last), paused)
        out.before = seen.get(last)
        return self._start(out, rec, schedule, last)

    def _occurrences(self, schedule: Schedule, first: int) -> list[int]:
        """The nominal instants due by now, from `first`, had each one run on time."""
        noms = [first]
        while len(noms) < MAX_OCCURRENCES:
            nxt = schedule.next_run_ms(noms[-1] + 1, noms[-1], noms[-1])
            if nxt is None or nxt > self.now:
                break
            noms.append(nxt)
        return noms

    def _blocked(
        self,
        out: PassOutcome,
        rec: ScheduledRecord,
        schedule: Schedule,
        block: str | None,
        last: int,
        before: str | None,
        paused: bool,
    ) -> PassOutcome:
        if block is not None and before != block:
            out.decision, out.nominal_ms = block, last
        if last > rec.due_from_ms:
            out.due_from_ms = last
        # the next occurrence, had this one run; the end of the block changes the job's
        # revision (unlock, resume, the active run's end), which brings it back sooner
        out.wake_ms = schedule.next_run_ms(last + 1, last, last)
        if paused and rec.paused_until_ms is not None:
            out.wake_ms = _min(out.wake_ms, rec.paused_until_ms)
        return out

    def _start(
        self, out: PassOutcome, rec: ScheduledRecord, schedule: Schedule, last: int
    ) -> PassOutcome:
        now = self.now
        run = self._run(rec, attempt=1)
        out.job, out.decision, out.nominal_ms = run, "started", last
        late = now - last
        text = f"scheduled start for {_fmt(last)}"
        level = "info"
        if late > self.overdue_ms:
            level = "warning"
            text += f", {late / 1000:.0f} s late: no scheduler was running"
        out.events.append(Event(now, level, "job.started", text, run.uuid, rec.uuid))
        out.wake_ms = schedule.next_run_ms(now + 1, now, None)
        return out

    def _restart(
        self, inp: PassInput, out: PassOutcome, first: int | None, paused: bool
    ) -> PassOutcome:
        rec, run = inp.record, inp.run
        assert run is not None
        if inp.locked or inp.active or paused:
            # the lock, a resume or the active run's end changes the job's revision
            out.wake_ms = first
            if paused and rec.paused_until_ms is not None:
                out.wake_ms = _min(first, rec.paused_until_ms)
            return out
        attempt = run.attempt + 1
        job = self._run(rec, attempt)
        out.job, out.attempt, out.restart = job, attempt, True
        text = f"restart {attempt - 1} of {rec.restart_count} after a failure"
        out.events.append(Event(self.now, "warning", "job.restart", text, job.uuid, rec.uuid))
        out.wake_ms = first
        return out

    def _run(self, rec: ScheduledRecord, attempt: int) -> NewJob:
        return NewJob(
            uuid=self.new_uuid(),
            method=rec.method,
            args=rec.params,
            kwargs="{}",
            begin_ms=self.now,
            run_after_ms=self.now,
            key=rec.key,
            description=rec.description or rec.metadata,
            scheduled_job=rec.uuid,
        )

    def _missed(self, out: PassOutcome, missed: list[int], rec: ScheduledRecord) -> None:
        if not missed:
            return
        out.missed.extend(missed)
        # a pass a little late (an engine starting) skips a fast job's occurrence: a row says
        # so, but only downtime past the overdue grace is worth a warning in the log
        missed = [n for n in missed if self.now - n > self.overdue_ms]
        for n in missed[:MAX_MISSED_EVENTS]:
            out.events.append(
                Event(
                    self.now,
                    "warning",
                    "schedule.missed",
                    f"{rec.metadata}: the occurrence of {_fmt(n)} was missed (no scheduler ran)",
                    None,
                    rec.uuid,
                )
            )
        if len(missed) > MAX_MISSED_EVENTS:
            rest = missed[MAX_MISSED_EVENTS:]
            out.events.append(
                Event(
                    self.now,
                    "warning",
                    "schedule.missed",
                    f"{rec.metadata}: {len(rest)} more occurrences missed, "
                    f"{_fmt(rest[0])} to {_fmt(rest[-1])}",
                    None,
                    rec.uuid,
                )
            )
