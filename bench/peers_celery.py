"""Celery peer: broker and result backend on Redis, `celery worker --concurrency 2 --pool prefork`.

Broker and backend each get their own empty Redis database, so "all results stored" is simply
the backend database's DBSIZE. The worker runs without gossip, mingle and heartbeat (cluster
features that only add start-up time here). Results are waited on with `AsyncResult.get()`.

The module-level `app` is what the worker subprocess loads (`celery -A bench.peers_celery`);
its URLs come from BENCH_CELERY_BROKER / BENCH_CELERY_BACKEND.
"""

from __future__ import annotations

import os
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
    redis_url,
    subprocess_env,
    time_latency,
    wait_for_count,
    worker_process,
)

TASK_NAME = "bench.noop"


def make_app(broker: str, backend: str):
    """A Celery app with the no-op task; returns (app, task)."""
    from celery import Celery

    app = Celery("bench", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    task = app.task(name=TASK_NAME, shared=False)(tasks.noop)
    return app, task


try:
    app, noop = make_app(
        os.environ.get("BENCH_CELERY_BROKER", "memory://"),
        os.environ.get("BENCH_CELERY_BACKEND", "cache+memory://"),
    )
except ImportError:  # celery not installed: CelerySystem reports it
    app = noop = None


class CelerySystem:
    name = "celery-redis"

    def __init__(self, config: Config, redis_dbs: RedisDatabases):
        try:
            import celery  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"celery is not installed ({exc})") from exc
        self.config = config
        self.broker_db, self.backend_db = redis_dbs.take(2)
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-celery-")
        self._runs = 0

    def _flush(self) -> None:
        for db in (self.broker_db, self.backend_db):
            redis_client(db).flushdb()

    def _fresh(self):
        self._runs += 1
        self._flush()
        broker, backend = redis_url(self.broker_db), redis_url(self.backend_db)
        client_app, task = make_app(broker, backend)
        env = subprocess_env()
        env["BENCH_CELERY_BROKER"] = broker
        env["BENCH_CELERY_BACKEND"] = backend
        cmd = python_cmd(
            "-m", "celery", "-A", "bench.peers_celery", "worker",
            "--concurrency", str(WORKERS), "--pool", "prefork",
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"bench{os.getpid()}-{self._runs}@%h",
        )  # fmt: skip
        log = Path(self._tmp.name) / f"worker-{self._runs}.log"
        return client_app, task, cmd, env, log

    def _cleanup(self, client_app) -> None:
        try:
            client_app.close()
        finally:
            self._flush()

    def throughput(self) -> Throughput:
        n = self.config.n
        client_app, task, cmd, env, log = self._fresh()
        try:
            t0 = time.perf_counter()
            results = [task.delay(i) for i in range(n)]
            enqueue = n / (time.perf_counter() - t0)

            backend = redis_client(self.backend_db)
            t0 = time.perf_counter()
            with worker_process(cmd, log, env) as worker:
                first = wait_for_count(backend.dbsize, n, drain_timeout(n), worker.check_alive)
                elapsed = time.perf_counter() - t0
            for i in (0, n - 1):
                if results[i].get(timeout=5) != i:
                    raise RuntimeError(f"{self.name}: wrong result for job {i}")
            return Throughput(enqueue, n / elapsed, first - t0)
        finally:
            self._cleanup(client_app)

    def warm(self) -> tuple[float, list[float]]:
        """Steady drain rate and latency samples, on one running, warmed-up worker.

        Steady drain: n tasks sent in a burst; the clock runs from the first `delay` until the
        backend database holds n more results.
        """
        n = self.config.n
        client_app, task, cmd, env, log = self._fresh()
        try:
            with worker_process(cmd, log, env) as worker:
                task.delay(-1).get(timeout=60)  # also covers the worker's start-up
                worker.check_alive()
                backend = redis_client(self.backend_db)
                base = backend.dbsize()
                t0 = time.perf_counter()
                for i in range(n):
                    task.delay(i)
                wait_for_count(
                    lambda: backend.dbsize() - base, n, drain_timeout(n), worker.check_alive
                )
                steady = n / (time.perf_counter() - t0)
                samples = time_latency(
                    lambda i: task.delay(i).get(timeout=5),
                    self.config.latency_n,
                    self.config.warmup,
                )
                return steady, samples
        finally:
            self._cleanup(client_app)

    def close(self) -> None:
        self._tmp.cleanup()
