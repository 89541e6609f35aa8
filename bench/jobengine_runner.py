"""jobengine's side of the background-job benchmark, written against the public contract.

- enqueue: a client `Engine(url, registry=None)` (not started) calls
  `engine.background.execute("bench.tasks:noop", args=[i])` n times;
- drain: with those jobs queued, `Engine(url, registry=None, workers=2)`, then `start()` and
  `engine.background.wait(jobs)` are timed; then `stop()`. Nothing else waits on the jobs
  meanwhile, so the "1st s" column (time to the first result) stays empty for jobengine;
- latency: a started engine in this process, `job = execute(...)`, `job.result(timeout=5)`.

Each run uses a new SQLite file in a temp directory.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import WORKERS, Config, Throughput, Unavailable, drain_timeout, time_latency

METHOD = "bench.tasks:noop"


def _close(engine) -> None:
    """Release an engine's store connection if the engine offers a way to (not in the contract)."""
    close = getattr(engine, "close", None)
    if callable(close):
        close()


class JobengineSystem:
    name = "jobengine"

    def __init__(self, config: Config):
        try:
            from jobengine import Engine
        except ImportError as exc:
            raise Unavailable("not available yet") from exc
        self.Engine = Engine
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-jobengine-")
        self._runs = 0

    def _url(self) -> str:
        self._runs += 1
        return f"sqlite:///{Path(self._tmp.name) / f'jobengine-{self._runs}.db'}"

    def throughput(self) -> Throughput:
        n = self.config.n
        url = self._url()
        client = self.Engine(url, registry=None)
        try:
            execute = client.background.execute
            t0 = time.perf_counter()
            jobs = [execute(METHOD, args=[i]) for i in range(n)]
            enqueue = n / (time.perf_counter() - t0)

            engine = self.Engine(url, registry=None, workers=WORKERS)
            try:
                t0 = time.perf_counter()
                engine.start()
                if not engine.background.wait(jobs, timeout=drain_timeout(n)):
                    raise TimeoutError(f"jobs not finished after {drain_timeout(n):.0f} s")
                elapsed = time.perf_counter() - t0
            finally:
                engine.stop()
                _close(engine)
            # Only the last job: with the default max_finished=1000, retention may already have
            # removed the early ones.
            if jobs[-1].result(timeout=5) != n - 1:
                raise RuntimeError("jobengine: wrong result for the last job")
            return Throughput(enqueue, n / elapsed)
        finally:
            _close(client)

    def latency(self) -> list[float]:
        engine = self.Engine(self._url(), registry=None, workers=WORKERS)
        engine.start()
        try:
            execute = engine.background.execute
            execute(METHOD, args=[-1]).result(timeout=60)  # also covers the pool's start-up
            return time_latency(
                lambda i: execute(METHOD, args=[i]).result(timeout=5),
                self.config.latency_n,
                self.config.warmup,
            )
        finally:
            engine.stop()
            _close(engine)

    def close(self) -> None:
        self._tmp.cleanup()
