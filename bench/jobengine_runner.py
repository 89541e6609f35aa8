"""jobengine's side of the background-job benchmark, written against the public contract.

Two deployments, on SQLite or PostgreSQL:
- **process** (how users deploy): the engine is `python -m jobengine run --db URL --workers 2
  --registry <empty folder> --max-finished M` in its own process; this process is only a client,
  `Engine(url, registry=None)` never started;
- **in-process**: the engine runs inside this process, `Engine(url, workers=2).start()`.

Measured with the client in this process:
- enqueue: `client.background.execute("bench.tasks:noop", args=[i])` n times, engine not running;
- drain: with those jobs queued, the engine is started (process spawned, or `start()`); the clock
  runs until `background.wait(jobs)` returns. "First result" is when `wait(jobs[:1])`
  returns (claims are FIFO, so job 0 is among the first two to end);
- steady drain: the engine running and warmed up (one job run and waited on), n jobs are
  executed in a burst and waited on with `wait(jobs)`; the clock runs from the first `execute`
  to the return of `wait`, so it includes the enqueue calls that run beside the engine;
- latency: `client.background.execute(...).result(timeout=5)`, sequentially, workers idle;
- batch: n jobs enqueued at once (see `enqueue_batch`).

The engine keeps `M = 2n + 1000` finished jobs (`--max-finished`), so every job the client waits
on still has its result when the wait reads it (Huey and procrastinate keep all of them too).
Each run uses a fresh store: a new SQLite file, or the PostgreSQL tables dropped.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    WORKERS,
    Config,
    Throughput,
    Unavailable,
    Worker,
    drain_timeout,
    python_cmd,
    time_latency,
    worker_process,
)
from jobengine.store.schema import TABLES

METHOD = "bench.tasks:noop"


def enqueue_batch(client, n: int) -> None:
    """Enqueue n jobs at once: `background.batch()` when the engine has it, else `insert_many`.

    Until `batch()` exists, the store verb `insert_many` gets `NewJob` rows built here; that path
    skips `execute`'s per-job method and argument checks, so it is an upper bound for `batch()`.
    """
    batch = getattr(client.background, "batch", None)
    if batch is not None:
        with batch() as b:
            for i in range(n):
                b.execute(METHOD, args=[i])
        return
    from jobengine.store import NewJob

    now_ms = int(time.time() * 1000)
    rows = [
        NewJob(str(uuid.uuid4()), METHOD, json.dumps([i]), "{}", now_ms, now_ms) for i in range(n)
    ]
    client.store.jobs.insert_many(rows)


def batch_api() -> str:
    """How `enqueue_batch` enqueues in this tree (printed beside the figures)."""
    from jobengine.background import BackgroundJobs

    if hasattr(BackgroundJobs, "batch"):
        return "background.batch()"
    return "store.jobs.insert_many (batch() not in this tree)"


@dataclass
class Running:
    """A running engine: its process (a `Worker`), or the started `Engine` in this process."""

    worker: Worker | None
    engine: object | None


class JobengineSystem:
    """jobengine on one store kind ("sqlite" or "postgresql"), as a process or in-process."""

    def __init__(self, config: Config, *, kind: str = "sqlite", in_process: bool = False,
                 pg_url: str | None = None):  # fmt: skip
        try:
            from jobengine import Engine
        except ImportError as exc:
            raise Unavailable("not available yet") from exc
        if kind == "postgresql" and not pg_url:
            raise Unavailable("no PostgreSQL URL (--pg-url or BENCH_PG_URL)")
        self.Engine = Engine
        self.config = config
        self.kind = kind
        self.in_process = in_process
        self.pg_url = pg_url
        self.max_finished = 2 * config.n + 1000
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-jobengine-")
        self._registry = Path(self._tmp.name) / "registry"  # empty: no scheduled jobs
        self._registry.mkdir()
        self._runs = 0

    def _fresh_url(self) -> str:
        self._runs += 1
        if self.kind == "sqlite":
            return f"sqlite:///{Path(self._tmp.name) / f'jobengine-{self._runs}.db'}"
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        return self.pg_url

    @contextmanager
    def _engine(self, url: str) -> Iterator[Running]:
        """The engine running until the block ends."""
        if self.in_process:
            engine = self.Engine(
                url, registry=None, workers=WORKERS, max_finished=self.max_finished
            )
            try:
                engine.start()
                yield Running(None, engine)
            finally:
                engine.close()
            return
        cmd = python_cmd(
            "-m", "jobengine", "run", "--db", url, "--workers", str(WORKERS),
            "--registry", str(self._registry), "--max-finished", str(self.max_finished),
        )  # fmt: skip
        log = Path(self._tmp.name) / f"engine-{self._runs}.log"
        with worker_process(cmd, log) as worker:
            yield Running(worker, None)

    def throughput(self) -> Throughput:
        n = self.config.n
        url = self._fresh_url()
        client = self.Engine(url, registry=None)
        try:
            execute = client.background.execute
            t0 = time.perf_counter()
            jobs = [execute(METHOD, args=[i]) for i in range(n)]
            enqueue = n / (time.perf_counter() - t0)

            t0 = time.perf_counter()
            with self._engine(url) as running:
                waiter = running.engine or client
                if not waiter.background.wait(jobs[:1], timeout=60):
                    raise TimeoutError("the first job did not finish in 60 s")
                first = time.perf_counter() - t0
                if not waiter.background.wait(jobs, timeout=drain_timeout(n)):
                    raise TimeoutError(f"jobs not finished after {drain_timeout(n):.0f} s")
                elapsed = time.perf_counter() - t0
            for i in (0, n - 1):
                if jobs[i].result(timeout=5) != i:
                    raise RuntimeError(f"jobengine: wrong result for job {i}")
            return Throughput(enqueue, n / elapsed, first)
        finally:
            client.close()

    def warm(self) -> tuple[float, list[float]]:
        """Steady drain rate and latency samples, on one running, warmed-up engine."""
        url = self._fresh_url()
        with self._engine(url) as running:
            worker = running.worker
            # In-process, the started engine is its own client, as an embedding program does.
            client = running.engine or self.Engine(url, registry=None)
            try:
                execute = client.background.execute
                execute(METHOD, args=[-1]).result(timeout=60)  # covers the engine's start-up
                if worker is not None:
                    worker.check_alive()
                n = self.config.n
                t0 = time.perf_counter()
                jobs = [execute(METHOD, args=[i]) for i in range(n)]
                if not client.background.wait(jobs, timeout=drain_timeout(n)):
                    raise TimeoutError(f"jobs not finished after {drain_timeout(n):.0f} s")
                steady = n / (time.perf_counter() - t0)
                samples = time_latency(
                    lambda i: execute(METHOD, args=[i]).result(timeout=5),
                    self.config.latency_n,
                    self.config.warmup,
                )
                return steady, samples
            finally:
                if running.engine is None:
                    client.close()

    def batch(self) -> tuple[float, float]:
        """(single execute jobs/s, batch jobs/s) on one fresh store, no engine running."""
        n = self.config.n
        client = self.Engine(self._fresh_url(), registry=None)
        try:
            execute = client.background.execute
            t0 = time.perf_counter()
            for i in range(n):
                execute(METHOD, args=[i])
            single = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            enqueue_batch(client, n)
            return single, n / (time.perf_counter() - t0)
        finally:
            client.close()

    def close(self) -> None:
        self._tmp.cleanup()
