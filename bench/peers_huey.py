"""Huey peers: SqliteHuey on a temp file and RedisHuey, each with the process consumer (2 workers).

The consumer runs in a subprocess (bench/huey_worker.py) with Huey's default polling settings.
A single result is waited on the way Huey offers it, `result(blocking=True)`; drains poll
`huey.result_count()` every 5 ms from this process.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import tasks
from bench.common import (
    WORKERS,
    Config,
    RedisDatabases,
    Throughput,
    Unavailable,
    drain_timeout,
    python_cmd,
    redis_client,
    time_latency,
    wait_for_count,
    worker_process,
)

TASK_NAME = "bench_noop"


def make_huey(
    kind: str,
    *,
    path: str | None = None,
    db: int | None = None,
    name: str = "bench",
    notify: bool = False,
):
    """Build the Huey instance and register the no-op task; returns (huey, task)."""
    from huey import RedisHuey, SqliteHuey

    if kind == "sqlite":
        huey = SqliteHuey(name=name, filename=path)
    elif kind == "redis":
        from bench.common import REDIS_HOST, REDIS_PORT

        huey = RedisHuey(name=name, host=REDIS_HOST, port=REDIS_PORT, db=db, notify_result=notify)
    else:
        raise ValueError(f"unknown huey kind {kind!r}")
    task = huey.task(name=TASK_NAME)(tasks.noop)
    return huey, task


def worker_args(
    kind: str, *, path: str | None, db: int | None, name: str, notify: bool
) -> list[str]:
    args = ["--kind", kind, "--name", name, "--workers", str(WORKERS)]
    if path is not None:
        args += ["--path", path]
    if db is not None:
        args += ["--db", str(db)]
    if notify:
        args.append("--notify")
    return args


class HueySystem:
    """One Huey flavour; every run gets a fresh store (a new file, or a flushed Redis db)."""

    def __init__(self, kind: str, config: Config, redis_dbs: RedisDatabases | None = None):
        self.kind = kind
        self.config = config
        self.name = f"huey-{kind}"
        self.db: int | None = None
        self._runs = 0
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-")
        try:
            import huey  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"huey is not installed ({exc})") from exc
        if kind == "redis":
            assert redis_dbs is not None
            (self.db,) = redis_dbs.take(1)

    # -- one fresh store per run --
    def _fresh(self):
        self._runs += 1
        name = f"bench{self._runs}"
        path = None
        if self.kind == "sqlite":
            path = str(Path(self._tmp.name) / f"huey-{self._runs}.db")
        else:
            redis_client(self.db).flushdb()
        notify = self.config.huey_notify and self.kind == "redis"
        huey, task = make_huey(self.kind, path=path, db=self.db, name=name, notify=notify)
        args = worker_args(self.kind, path=path, db=self.db, name=name, notify=notify)
        cmd = python_cmd("-m", "bench.huey_worker", *args)
        log = Path(self._tmp.name) / f"consumer-{self._runs}.log"
        return huey, task, cmd, log

    def _cleanup(self, huey) -> None:
        if self.kind == "redis":
            redis_client(self.db).flushdb()
        else:
            huey.storage.close()

    def throughput(self) -> Throughput:
        n = self.config.n
        huey, task, cmd, log = self._fresh()
        try:
            t0 = time.perf_counter()
            results = [task(i) for i in range(n)]
            enqueue = n / (time.perf_counter() - t0)

            t0 = time.perf_counter()
            with worker_process(cmd, log) as worker:
                first = wait_for_count(huey.result_count, n, drain_timeout(n), worker.check_alive)
                elapsed = time.perf_counter() - t0
            for i in (0, n - 1):
                if results[i].get() != i:
                    raise RuntimeError(f"{self.name}: wrong result for job {i}")
            return Throughput(enqueue, n / elapsed, first - t0)
        finally:
            self._cleanup(huey)

    def warm(self) -> tuple[float, list[float]]:
        """Steady drain rate and latency samples, on one running, warmed-up consumer.

        Steady drain: n tasks enqueued in a burst; the clock runs from the first enqueue until
        `result_count()` (results stored and not yet read) has grown by n.
        """
        n = self.config.n
        huey, task, cmd, log = self._fresh()
        try:
            with worker_process(cmd, log) as worker:
                # The first job also covers the consumer's start-up.
                task(-1).get(blocking=True, timeout=60)
                worker.check_alive()
                base = huey.result_count()
                t0 = time.perf_counter()
                for i in range(n):
                    task(i)
                wait_for_count(
                    lambda: huey.result_count() - base, n, drain_timeout(n), worker.check_alive
                )
                steady = n / (time.perf_counter() - t0)
                huey.storage.flush_results()  # latency starts from an empty result store
                samples = time_latency(
                    lambda i: task(i).get(blocking=True, timeout=5),
                    self.config.latency_n,
                    self.config.warmup,
                )
                return steady, samples
        finally:
            self._cleanup(huey)

    def close(self) -> None:
        self._tmp.cleanup()
