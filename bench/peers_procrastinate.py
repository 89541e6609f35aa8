"""procrastinate peer on PostgreSQL: its worker (`procrastinate worker --concurrency 2`) in its
own process, the client in this one.

The worker loads the module-level `app` below (`--app bench.peers_procrastinate.app`), an
asyncio app on `PsycopgConnector` (psycopg 3) with the no-op task; its URL comes from
BENCH_PROCRASTINATE_URL. The worker keeps procrastinate's defaults: LISTEN/NOTIFY wake-ups,
a 5 s fallback poll, finished jobs kept (`--delete-jobs never`). Sync tasks run in the worker's
threads, `--concurrency 2` at a time. The client is the same app on procrastinate's
`SyncPsycopgConnector`, deferring with `task.defer(i=...)`.

procrastinate stores no return values. Its API offers a job's status
(`app.job_manager.get_job_status(job_id)`) and per-queue counts (`job_manager.list_queues()`),
so the client waits for one job by polling its status every 1 ms until "succeeded", and for a
drain by polling the queue's succeeded count every 5 ms. Each run starts from empty tables
(TRUNCATE ... RESTART IDENTITY).
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
    Throughput,
    Unavailable,
    drain_timeout,
    python_cmd,
    subprocess_env,
    time_latency,
    wait_for_count,
    worker_process,
)

TASK_NAME = "bench_noop"
TABLES = "procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers"
STATUS_POLL_S = 0.001


def make_app(connector):
    """A procrastinate app with the no-op task; returns (app, task)."""
    import procrastinate

    app = procrastinate.App(connector=connector)
    task = app.task(name=TASK_NAME)(tasks.noop)
    return app, task


def _worker_app():
    url = os.environ.get("BENCH_PROCRASTINATE_URL")
    if url is None:
        return None
    import procrastinate

    return make_app(procrastinate.PsycopgConnector(conninfo=url))[0]


try:
    app = _worker_app()
except ImportError:  # procrastinate not installed: ProcrastinateSystem reports it
    app = None


class ProcrastinateSystem:
    name = "procrastinate"

    def __init__(self, config: Config, url: str | None):
        try:
            import procrastinate
        except ImportError as exc:
            raise Unavailable(f"procrastinate is not installed ({exc})") from exc
        if not url:
            raise Unavailable("no PostgreSQL URL (--procrastinate-url or BENCH_PROCRASTINATE_URL)")
        self.config = config
        self.url = url
        self.app, self.task = make_app(procrastinate.SyncPsycopgConnector(conninfo=url))
        self.app.open()
        self._ensure_schema()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-procrastinate-")
        self._runs = 0

    def _ensure_schema(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if exists is None or exists[0] is None:
            self.app.schema_manager.apply_schema()

    def _fresh(self):
        import psycopg

        self._runs += 1
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        env = subprocess_env()
        env["BENCH_PROCRASTINATE_URL"] = self.url
        cmd = python_cmd(
            "-m", "procrastinate", "--app", "bench.peers_procrastinate.app", "worker",
            "--concurrency", str(WORKERS), "--name", f"bench{self._runs}",
        )  # fmt: skip
        log = Path(self._tmp.name) / f"worker-{self._runs}.log"
        return cmd, env, log

    def _succeeded(self) -> int:
        return sum(q["succeeded"] for q in self.app.job_manager.list_queues())

    def _run_one(self, i: int, timeout: float = 5.0) -> int:
        """Defer one job and poll its status until it succeeded; returns i (no results)."""
        from procrastinate.jobs import Status

        job_id = self.task.defer(i=i)
        deadline = time.perf_counter() + timeout
        while True:
            status = self.app.job_manager.get_job_status(job_id)
            if status == Status.SUCCEEDED:
                return i
            if status not in (Status.TODO, Status.DOING) or time.perf_counter() > deadline:
                raise RuntimeError(f"procrastinate job {job_id}: {status}")
            time.sleep(STATUS_POLL_S)

    def throughput(self) -> Throughput:
        n = self.config.n
        cmd, env, log = self._fresh()
        t0 = time.perf_counter()
        for i in range(n):
            self.task.defer(i=i)
        enqueue = n / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        with worker_process(cmd, log, env) as worker:
            first = wait_for_count(self._succeeded, n, drain_timeout(n), worker.check_alive)
            elapsed = time.perf_counter() - t0
        return Throughput(enqueue, n / elapsed, first - t0)

    def warm(self) -> tuple[float, list[float]]:
        """Steady drain rate and latency samples, on one running, warmed-up worker."""
        n = self.config.n
        cmd, env, log = self._fresh()
        with worker_process(cmd, log, env) as worker:
            self._run_one(-1, timeout=60)  # covers the worker's start-up
            worker.check_alive()
            base = self._succeeded()
            t0 = time.perf_counter()
            for i in range(n):
                self.task.defer(i=i)
            wait_for_count(
                lambda: self._succeeded() - base, n, drain_timeout(n), worker.check_alive
            )
            steady = n / (time.perf_counter() - t0)
            samples = time_latency(self._run_one, self.config.latency_n, self.config.warmup)
            return steady, samples

    def close(self) -> None:
        self.app.close()
        self._tmp.cleanup()
