"""Shared pieces of the background-job benchmark: results, statistics, subprocesses, Redis."""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def compile_sources() -> str:
    """Compile jobengine's and the benchmark's modules to bytecode, as `pip install` does for an
    installed package (Huey's and procrastinate's came so), and say what was done.

    jobengine runs from its source tree here (an editable install), and with
    PYTHONDONTWRITEBYTECODE set Python would compile every module again at each start of the
    engine and of its fork server, some 75 ms a start that no installed deployment pays.
    """
    import compileall

    ok = all(
        compileall.compile_dir(ROOT / part, quiet=1, force=False) for part in ("jobengine", "bench")
    )
    return "compiled to bytecode, as pip install does" if ok else "some modules did not compile"


class Unavailable(Exception):
    """A system cannot run here (not installed, server down); the message says why."""


@dataclass
class Throughput:
    """One enqueue + drain run."""

    enqueue_rate: float  # jobs/s over the single enqueue calls
    drain_rate: float  # jobs/s from worker start until every result is stored
    first_result: float | None = None  # seconds from worker start to the first stored result


@dataclass
class Config:
    n: int
    latency_n: int
    warmup: int
    repeats: int
    pg_n: int = 2000  # n for the PostgreSQL systems
    huey_notify: bool = False
    pg_url: str | None = None  # jobengine's PostgreSQL database (tables dropped each run)
    procrastinate_url: str | None = None  # procrastinate's database (tables truncated)


# The figures a system may report; each is one number per repeat (median reported).
METRICS = (
    "enqueue_rate",  # jobs/s, single enqueue calls, no worker running
    "drain_rate",  # jobs/s, worker start included
    "first_result",  # s, worker process start -> first stored result
    "steady_rate",  # jobs/s, workers running and warm: first enqueue -> last result
    "p50",  # s, execute -> result, sequential
    "p99",
    "batch_rate",  # jobs/s, one batch enqueue of n jobs
    "single_rate",  # jobs/s, n single enqueue calls right before the batch, same store
)


@dataclass
class SystemResult:
    """Everything measured for one system over all repeats."""

    name: str
    unavailable: str | None = None
    errors: list[str] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.unavailable is None and not self.errors

    @property
    def measured(self) -> bool:
        return any(self.samples.values())

    def add(self, what: str, value: float | None) -> None:
        if what not in METRICS:
            raise ValueError(f"unknown metric {what!r}")
        if value is not None:
            self.samples.setdefault(what, []).append(value)

    def add_throughput(self, t: Throughput) -> None:
        self.add("enqueue_rate", t.enqueue_rate)
        self.add("drain_rate", t.drain_rate)
        self.add("first_result", t.first_result)

    def median(self, what: str) -> float | None:
        values = self.samples.get(what)
        return statistics.median(values) if values else None


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 300 samples is the 297th smallest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def time_latency(run_one: Callable[[int], object], count: int, warmup: int) -> list[float]:
    """Run `run_one(i)` (enqueue, then block on its result) sequentially; return the timings."""
    for i in range(warmup):
        check_result(run_one(i), i)
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        value = run_one(i)
        samples.append(time.perf_counter() - t0)
        check_result(value, i)
    return samples


def check_result(value: object, expected: int) -> None:
    if value != expected:
        raise RuntimeError(f"job returned {value!r}, expected {expected!r}")


def wait_for_count(
    count: Callable[[], int],
    n: int,
    timeout: float,
    alive: Callable[[], None] = lambda: None,
    interval: float = 0.005,
) -> float | None:
    """Poll `count()` until it reaches n; return the time of the first non-zero count.

    `alive()` raises when the worker died, so a broken peer fails fast instead of timing out.
    """
    deadline = time.perf_counter() + timeout
    first = None
    while True:
        got = count()
        if got and first is None:
            first = time.perf_counter()
        if got >= n:
            return first
        alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {got} of {n} results stored after {timeout:.0f} s")
        time.sleep(interval)


def drain_timeout(n: int) -> float:
    return 60 + n / 50


def subprocess_env() -> dict[str, str]:
    """Environment for worker subprocesses: the repository root importable (for bench.*)."""
    env = dict(os.environ)
    parts = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Worker:
    """A worker subprocess in its own session, with its output in a log file."""

    def __init__(self, proc: subprocess.Popen, log_path: Path):
        self.proc = proc
        self.log_path = log_path

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise RuntimeError(f"worker exited with code {code}:\n{self.log_tail()}")


@contextmanager
def worker_process(
    cmd: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[Worker]:
    """Start `cmd` as a new process group; on exit stop it (SIGTERM, then SIGKILL the group)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env or subprocess_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Worker(proc, log_path)
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Ask the leader to stop, wait, then kill whatever is left of its process group."""
    pgid = proc.pid  # start_new_session=True: the leader's pid is the group id
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _killpg(pgid)
            proc.wait()
    _killpg(pgid)  # children the leader left behind


def _killpg(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]


# --- Redis -----------------------------------------------------------------------------------


def redis_client(db: int = 0):
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_timeout=5)


def redis_url(db: int) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


class RedisDatabases:
    """Hands out Redis databases that are empty when taken, so flushing them loses nobody's data."""

    def __init__(self):
        self.reason: str | None = None
        self._free: list[int] = []
        self.taken: list[int] = []
        try:
            import redis  # noqa: F401
        except ImportError:
            self.reason = "redis-py is not installed"
            return
        try:
            client = redis_client()
            client.ping()
            count = int(client.config_get("databases").get("databases", 16))
        except Exception as exc:
            self.reason = f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable ({exc})"
            return
        # Only the benchmark's own range (BENCH_REDIS_DBS, default 9-12), and only empty ones.
        first, _, last = os.environ.get("BENCH_REDIS_DBS", "9-12").partition("-")
        wanted = range(int(first), min(int(last or first), count - 1) + 1)
        self._free = [db for db in wanted if redis_client(db).dbsize() == 0]

    def take(self, k: int) -> list[int]:
        if self.reason:
            raise Unavailable(self.reason)
        if len(self._free) < k:
            raise Unavailable(f"fewer than {k} empty Redis databases left in BENCH_REDIS_DBS")
        dbs, self._free = self._free[:k], self._free[k:]
        self.taken += dbs
        return dbs

    def flush_taken(self) -> None:
        for db in self.taken:
            try:
                redis_client(db).flushdb()
            except Exception as exc:
                print(f"warning: could not flush Redis db {db}: {exc}")
