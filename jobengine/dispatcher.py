"""The engine's work loop: claim runnable jobs, feed the pool, record what workers report.

One thread owns the pool. Each turn (`step(now, events)`) takes what the pool reported, writes
all reports of the turn and claims the next jobs in a single store transaction (batching is what
makes the drain rate), and hands claimed jobs to idle workers; `serve()` only waits on the pool
and repeats it. Every instant comes from the engine's clock.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from jobengine.clock import Clock, to_ms
from jobengine.drain import Drain
from jobengine.errors import log_retry
from jobengine.events import (
    JobFinished,
    JobMessage,
    JobProgress,
    JobReturned,
    JobSpec,
    JobStarted,
    PoolEvent,
)
from jobengine.heartbeat import Heartbeat
from jobengine.hub import Hub
from jobengine.limits import DEFAULT_LIMITS, Limits, clip, result_error, storable
from jobengine.methods import method_refusal
from jobengine.pool import Pool, PoolError
from jobengine.store import Batch, Finish, JobRecord, Store, pack

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchConfig:
    """Timers of the loop, in seconds."""

    engine_id: str
    host: str
    queues: Sequence[str] | None = None
    grace_s: float = 10.0
    poll_s: float = 1.0  # re-check the store for work without a wake-up
    stale_s: float = 15.0  # an engine silent this long is dead
    purge_s: float = 1.0  # the cap on finished jobs holds within this after a job ends
    age_purge_s: float = 30.0  # jobs past keep_finished go at least this often
    keep_finished_ms: int = 24 * 3600 * 1000
    max_finished: int = 1000
    allowed_modules: Sequence[str] | None = None
    prefetch: int = 2  # claimed jobs kept ready beyond the idle workers
    low_water: int = 1  # claim again when no more than idle + this are ready
    # Ready jobs marked handed beyond the idle slots, so a worker that frees up takes one at
    # once and the marks ride along with the next batch write instead of forcing a write each.
    hand_ahead: int = 0
    batch_s: float = 0.002  # longest a report waits to be written while workers are busy
    # A start is written this long after it happened, or with the job's end if that comes
    # first: a short job then costs one write, and a long one shows as started soon enough.
    start_write_s: float = 0.02
    limits: Limits = DEFAULT_LIMITS
    max_jobs: int | None = None  # claim no more than this many jobs in all (None: no limit)


class Dispatcher:
    """Runs the work loop in its own thread until `stop()`."""

    def __init__(
        self,
        store: Store,
        pool: Pool,
        hub: Hub,
        clock: Clock,
        cfg: DispatchConfig,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self._fenced = False
        self.pool = pool
        self.hub = hub
        self.clock = clock
        self.cfg = cfg
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._lock = threading.Lock()
        self._cancels: list[str] = []
        self._stopping = False
        self._maybe_work = True
        # Claimed jobs the store has marked as given to workers: these may go to one now.
        self._ready: deque[JobRecord] = deque()
        # Claimed jobs not marked yet: the next write marks them as workers free up.
        self._claimed: deque[JobRecord] = deque()
        self._running: dict[str, JobRecord] = {}
        self._batch = Batch()
        self._batch_since = 0.0
        # Starts not written yet: uuid -> (monotonic time seen, (ms, host, pid)), oldest first.
        self._starts: dict[str, tuple[float, tuple[int, str, int]]] = {}
        self._ended_since_purge = False
        # Monotonic times of periodic work; "due" is when a delayed or retried job may run.
        # The first age purge waits a purge period, so that the first turn only claims (a
        # started engine's first job waited for the purge's write); settle_dead sets "settle".
        self._timers = {
            "poll": 0.0,
            "purge": 0.0,
            "age_purge": clock.monotonic() + cfg.purge_s,
            "settle": 0.0,
            "due": math.inf,
        }
        self._thread: threading.Thread | None = None
        self.drain = Drain(cfg.max_jobs)

    # -- other threads ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="jobengine-dispatcher", daemon=True)
        self._thread.start()

    def wake(self, at_ms: int | None = None) -> None:
        """New work may be there: claim at the next turn, or at `at_ms` if that is later."""
        if at_ms is not None:
            delay_s = (at_ms - to_ms(self.clock.now())) / 1000
            if delay_s > 0:
                with self._lock:
                    due = self.clock.monotonic() + delay_s
                    self._timers["due"] = min(self._timers["due"], due)
        self._maybe_work = True
        # A full pipe means a wake-up is pending anyway.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"w")

    def request_cancel(self, uuids: Sequence[str]) -> None:
        with self._lock:
            self._cancels.extend(uuids)
        self.wake()

    def fenced(self) -> None:
        """Another engine settled this one: its claims are void (called from any thread)."""
        self._fenced = True
        self.wake()

    def watch_idle(self) -> None:
        """Keep `drain.idle` and `drain.spent` up to date from now on (called from any thread)."""
        self.drain.watched = True
        self.wake()

    def stop(self) -> None:
        """Stop claiming, give running jobs the grace period, record them, and end the loop."""
        self._stopping = True
        self.wake()
        if self._thread is not None:
            self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the loop ------------------------------------------------------------------------

    def serve(self) -> None:
        """Wait on the pool and run `step` until `stop()`, then shut the pool down."""
        while not self._stopping:
            try:
                events = self.pool.wait(self._timeout(self.clock.monotonic()), [self._wake_r])
                if self.pool.extras_ready:
                    self._drain_wake()
                self.step(self.clock.monotonic(), events)
            except Exception:
                log_retry(logger, "dispatcher turn failed")
                self.clock.wait(0.2)  # a store outage must not spin the CPU
        self._shutdown()

    def step(self, now: float, events: Sequence[PoolEvent] = ()) -> None:
        """One turn at monotonic `now`: fold the pool's `events`, feed idle workers, run due
        timers, and write reports and claim jobs when it is time."""
        self._fold(events, now)
        if self._fenced:
            self._drop_claims()
        self._take_cancels()
        # Workers get their next job before any store write, so they run while it commits.
        self._feed()
        self._timed(now)
        if self._should_write(now):
            self._flush_and_claim(now)
            self._feed()
        if self.drain.watched:
            self._note_drained()

    def _timeout(self, now: float) -> float:
        if self._ready and self.pool.idle > 0:
            return 0.0  # a worker can take a job now
        until = min(v for k, v in self._timers.items() if k != "purge")
        if self._ended_since_purge:
            until = min(until, self._timers["purge"])
        if self._batch:
            until = min(until, self._batch_since + self.cfg.batch_s)
        until = min(until, self._oldest_start() + self.cfg.start_write_s)
        if self._maybe_work and self.pool.idle > 0:
            until = now
        return min(max(0.0, until - now), self.cfg.poll_s)

    def _should_write(self, now: float) -> bool:
        """Write now, or let reports gather while every worker is busy with a ready job.

        Under load this turns one transaction per job into one per few milliseconds; a lone
        job (the latency case) is written at once because nothing else is running.
        """
        if self._needs_claim() or self._needs_hand() or self._starts_due(now):
            return True
        if not self._batch:
            return False
        nothing_held = not self._ready and not self._claimed
        if self._stopping or not self._running or (self.pool.idle > 0 and nothing_held):
            return True
        return len(self._batch.finishes) >= 64 or now - self._batch_since >= self.cfg.batch_s

    def _starts_due(self, now: float) -> bool:
        if not self._starts:
            return False
        return self._stopping or now >= self._oldest_start() + self.cfg.start_write_s

    def _oldest_start(self) -> float:
        """When the oldest start not written yet was seen (monotonic), or inf."""
        return next(iter(self._starts.values()))[0] if self._starts else math.inf

    def _needs_hand(self) -> bool:
        """A worker with nothing to do waits for a ready job to be marked as given to it.

        Room in a busy worker's queue waits for the next batch write instead: its queued job
        keeps it busy meanwhile, and one write then marks jobs for many slots.
        """
        return bool(
            self._claimed and not self._ready and not self._stopping and self.pool.starved > 0
        )

    def _needs_claim(self) -> bool:
        if not self._maybe_work or self._stopping or self.drain.is_spent:
            return False
        held = len(self._ready) + len(self._claimed)
        return held <= max(self.pool.idle, 1) + self.cfg.low_water

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _fold(self, events: Sequence[PoolEvent], now: float) -> None:
        b = self._batch
        if events and not b:
            self._batch_since = now
        limits = self.cfg.limits
        for ev in events:
            if isinstance(ev, JobStarted):
                self._starts[ev.uuid] = (now, (int(ev.at * 1000), self.cfg.host, ev.pid))
            elif isinstance(ev, JobProgress):
                text = clip(ev.text, limits.progress_text_bytes, "progress text")
                b.progress[ev.uuid] = (ev.percent, text)
            elif isinstance(ev, JobMessage):
                text = clip(ev.text, limits.message_bytes, "message")
                b.messages.append((ev.uuid, int(ev.at * 1000), text))
            elif isinstance(ev, JobFinished):
                self._fold_finish(ev)
            elif isinstance(ev, JobReturned):
                # Queued in a worker but never started: run it next, elsewhere (it keeps its
                # claim; at shutdown the claim is released with the rest of _ready).
                rec = self._running.pop(ev.uuid, None)
                if rec is not None:
                    self._ready.appendleft(rec)

    def _fold_finish(self, ev: JobFinished) -> None:
        rec = self._running.pop(ev.uuid, None)
        start = self._starts.pop(ev.uuid, None)
        if start is not None:
            self._batch.started[ev.uuid] = start[1]  # the store writes it with the end
        plain = rec is not None and not rec.key and rec.attempt == 1 and rec.scheduled_job is None
        self._batch.finishes.append(_finish(ev, self.cfg.limits, plain))
        if rec is None or rec.key:
            self._maybe_work = True  # its freed key may let a queued job run

    def _take_cancels(self) -> None:
        with self._lock:
            cancels, self._cancels = self._cancels, []
        if not cancels:
            return
        # A cancel wake-up is a hint (anyone may NOTIFY): act only on what the store says.
        requested = set(self.store.jobs.cancel_requested(self.cfg.engine_id))
        for uuid in cancels:
            if uuid not in requested:
                continue
            if uuid in self._running:
                self.pool.cancel(uuid)
            elif self._forget_claim(uuid):
                end_ms = to_ms(self.clock.now())
                self._batch.finishes.append(Finish.canceled_before_start(uuid, end_ms))

    def _forget_claim(self, uuid: str) -> bool:
        """Drop a claimed job that no worker has; True if it was here."""
        for queue in (self._ready, self._claimed):
            for rec in queue:
                if rec.uuid == uuid:
                    queue.remove(rec)
                    return True
        return False

    def _timed(self, now: float) -> None:
        t = self._timers
        if now >= t["due"]:
            with self._lock:
                t["due"] = math.inf
            self._maybe_work = True
        if now >= t["poll"]:
            t["poll"] = now + self.cfg.poll_s
            self._maybe_work = True
            self.request_cancel_polled()
        if now >= t["settle"]:
            self.settle_dead()
        if now >= t["age_purge"]:
            t["age_purge"] = now + self.cfg.age_purge_s
            self._ended_since_purge = True
        if now >= t["purge"] and self._ended_since_purge:
            t["purge"] = now + self.cfg.purge_s
            self._ended_since_purge = False
            self.purge()

    def request_cancel_polled(self) -> None:
        """Pick up cancel requests whose notification was lost."""
        for uuid in self.store.jobs.cancel_requested(self.cfg.engine_id):
            if uuid in self._running:
                self.pool.cancel(uuid)

    def settle_dead(self) -> None:
        """Settle the engines found dead; the next look is half the stale time away (the
        engine's own call before it starts counts as the first)."""
        self._timers["settle"] = self.clock.monotonic() + self.cfg.stale_s / 2
        now_ms = to_ms(self.clock.now())
        dead = [
            e
            for e in self.store.engines.dead(self.cfg.host, now_ms, int(self.cfg.stale_s * 1000))
            if e != self.cfg.engine_id
        ]
        if dead:
            gone = self.store.engines.gone(self.cfg.host)
            ended, requeued = self.store.engines.settle(dead, now_ms, gone)
            logger.warning(
                "settled dead engines %s: %d jobs failed, %d requeued",
                dead,
                len(ended),
                len(requeued),
            )
            self._announce_ended(ended)
            self._maybe_work = True

    def purge(self) -> None:
        removed = self.store.jobs.purge(
            to_ms(self.clock.now()), self.cfg.keep_finished_ms, self.cfg.max_finished
        )
        if removed:
            logger.info("retention removed %d finished jobs", removed)

    def _is_drained(self) -> bool:
        return not (self._running or self._ready or self._claimed)

    def _note_drained(self) -> None:
        """With nothing claimed, running or unwritten: signal a spent budget, or look for due
        work once more (the claim that finds none sets `drain.idle`, in `_flush_and_claim`)."""
        if self._batch or not self._is_drained():
            return
        if self.drain.is_spent:
            self.drain.idle.set()
            self.drain.spent.set()
        elif not self.drain.idle.is_set():
            self._maybe_work = True

    def _flush_and_claim(self, now: float) -> None:
        self._take_starts(now - self.cfg.start_write_s)
        want, to_hand, hand_claimed = self._plan() if self._has_lease() else (0, [], 0)
        if not self._batch and want == 0 and not to_hand:
            return
        drained = self._is_drained()  # a claim now that finds nothing leaves the engine idle
        batch, self._batch = self._batch, Batch()
        try:
            recorded, claimed = self.store.jobs.record(
                batch,
                claim_for=self.cfg.engine_id if want else None,
                claim_limit=want,
                now_ms=to_ms(self.clock.now()),
                queues=self.cfg.queues,
                owner=self.cfg.engine_id,
                hand=to_hand,
                hand_claimed=hand_claimed,
            )
        except Exception:
            self._batch = _merge(batch, self._batch)  # keep every report until it is stored
            raise
        for _ in to_hand:  # the front of _claimed; a job not marked is another engine's now
            rec = self._claimed.popleft()
            if rec.uuid in recorded.handed:
                self._ready.append(rec)
        self._announce_ended(recorded.ended)
        if recorded.ended:
            self._ended_since_purge = True  # the cap on finished jobs holds within purge_s
        if recorded.retry_at_ms is not None:
            self.wake(recorded.retry_at_ms)
        self._count_claimed(want, len(claimed), drained)
        if any(r.uuid in self._running for r in claimed):
            claimed = self._without_old_runs(claimed)
        for rec in claimed:
            (self._ready if rec.uuid in recorded.handed else self._claimed).append(rec)
        if want and len(claimed) == want:
            self._maybe_work = True  # there may be more

    def _take_starts(self, seen_before: float) -> None:
        """Move the starts seen before `seen_before` (monotonic) into the batch to write."""
        while self._starts:
            uuid, (seen, start) = next(iter(self._starts.items()))
            if seen > seen_before:
                return
            del self._starts[uuid]
            self._batch.started[uuid] = start

    def _count_claimed(self, want: int, got: int, drained: bool) -> None:
        """Charge the budget; a claim that found nothing while nothing ran means idle."""
        self.drain.took(got)
        if want and not got and drained and self.drain.watched:
            self.drain.idle.set()

    def _plan(self) -> tuple[int, list[str], int]:
        """What the next write claims and marks as given to workers: (jobs to claim, ready
        jobs to mark, how many of the claimed ones to mark), as idle workers can take them."""
        idle = self.pool.idle
        free = max(0, idle + self.cfg.hand_ahead - len(self._ready))
        to_hand = [r.uuid for r in itertools.islice(self._claimed, free)]
        hand_claimed = free - len(to_hand)
        want = 0
        if self._needs_claim():
            want = max(0, idle + self.cfg.prefetch - len(self._ready) - len(self._claimed))
            if not self._batch and not to_hand and hand_claimed:
                want = min(want, hand_claimed)  # the latency case: one statement, no prefetch
            want = self.drain.cap(want)  # never claim a job the budget would not let run
            # Cleared before the claim: a wake-up arriving during it sets the flag again.
            self._maybe_work = False
        return want, to_hand, hand_claimed

    def _without_old_runs(self, claimed: list[JobRecord]) -> list[JobRecord]:
        """After a fencing, a job requeued by the settler may still be running here (it
        started before the pause and the store never heard): give it back until that run ends."""
        old = [r.uuid for r in claimed if r.uuid in self._running]
        self.store.jobs.unclaim(old, self.cfg.engine_id)
        return [r for r in claimed if r.uuid not in self._running]

    def _announce_ended(self, uuids: list[str]) -> None:
        if uuids:
            self.hub.ended(uuids)
            self.store.notifier.publish(pack("d", uuids))

    def _has_lease(self) -> bool:
        """Whether this engine may hand out jobs: its lease holds, or a beat now renews it."""
        hb = self.heartbeat
        if hb is not None and not hb.has_lease(self.clock.monotonic()):
            hb.beat()  # a fenced engine registers again, with a new lease
        if self._fenced:
            self._drop_claims()  # before anything claimed under the old lease can be handed out
        return hb is None or hb.has_lease(self.clock.monotonic())

    def _drop_claims(self) -> None:
        """After a fencing: the settler requeued our unstarted jobs and failed the running ones,
        so none of them may start or go on here."""
        self._fenced = False
        dropped = len(self._ready) + len(self._claimed)
        self._ready.clear()
        self._claimed.clear()
        for uuid in list(self._running):
            self.pool.cancel(uuid)
        logger.warning(
            "fenced: dropped %d claimed jobs, stopping %d running ones", dropped, len(self._running)
        )

    def _feed(self) -> None:
        if not self._ready or self._stopping:
            return
        idle = self.pool.idle  # each submit takes one slot: no census per job
        if idle <= 0 or not self._has_lease():
            return
        # Jobs in _claimed wait for the next write to mark them handed.
        while idle > 0 and self._ready and not self._stopping:
            rec = self._ready.popleft()
            if not self._allowed(rec):
                continue
            try:
                self.pool.submit(_spec(rec, self.store.url))
            except PoolError:
                # No worker could start (the pool backs off while new ones die): run it later.
                self._ready.appendleft(rec)
                return
            idle -= 1
            self._running[rec.uuid] = rec

    def _allowed(self, rec: JobRecord) -> bool:
        """Refuse a method the allow-list does not let run, even if it got into the store
        some other way than `execute`; the worker checks it once more when it imports it."""
        refusal = method_refusal(rec.method, self.cfg.allowed_modules)
        if refusal is None:
            return True
        now_ms = to_ms(self.clock.now())
        self._batch.finishes.append(
            Finish(rec.uuid, "FAILED", now_ms, error_type="MethodError", error_message=refusal)
        )
        return False

    def _shutdown(self) -> None:
        try:
            finished = self.pool.stop(self.cfg.grace_s)  # given-back jobs return to _ready
            self._fold(finished, self.clock.monotonic())
            self._take_starts(math.inf)
            held = [r.uuid for r in (*self._ready, *self._claimed)]
            self.store.jobs.unclaim(held, self.cfg.engine_id)
            self._ready.clear()
            self._claimed.clear()
            if self._batch:
                recorded, _ = self.store.jobs.record(self._batch, owner=self.cfg.engine_id)
                self._batch = Batch()
                self._announce_ended(recorded.ended)
        except Exception:
            logger.exception("dispatcher shutdown failed")


def _finish(ev: JobFinished, limits: Limits, is_plain: bool = False) -> Finish:
    """The outcome to store: text made storable and within limits; a result that cannot be
    stored fails the job with the reason instead of blocking every other job's write.
    `is_plain`: see `Finish.is_plain`."""
    err = ev.error
    state, result = ev.state.value, ev.result
    error = (err.type, err.message, err.traceback) if err else (None, None, None)
    if result is not None:
        refusal = result_error(result, limits.result_bytes)
        if refusal is None and storable(result) is not result:
            refusal = "result is not valid Unicode text"
        if refusal is not None:
            state, result, error = "FAILED", None, ("ResultError", refusal, "")
    cut = limits.error_bytes
    return Finish(
        uuid=ev.uuid,
        state=state,
        end_ms=int(ev.at * 1000),
        result=result,
        error_type=clip(error[0], 200, "error type") if error[0] is not None else None,
        error_message=clip(error[1], cut, "error message") if error[1] is not None else None,
        error_traceback=clip(error[2], cut, "traceback") if error[2] is not None else None,
        retry_delay_s=ev.retry_delay_s,
        holds_resources=ev.holds_resources,
        is_plain=is_plain,
    )


def _spec(rec: JobRecord, url: str) -> JobSpec:
    return JobSpec(
        uuid=rec.uuid,
        method=rec.method,
        args=rec.args,
        kwargs=rec.kwargs,
        attempt=rec.attempt,
        timeout_s=rec.timeout_s,
        db_url=url,
    )


def _merge(old: Batch, new: Batch) -> Batch:
    old.started.update(new.started)
    old.progress.update(new.progress)
    old.messages.extend(new.messages)
    old.finishes.extend(new.finishes)
    return old
