"""Background jobs, side by side in one run: jobengine against Huey (SQLite) and procrastinate
(PostgreSQL), each engine or consumer in its own process as users deploy them.

    python bench/bench_background.py [--n 5000] [--pg-n 2000] [--latency-n 300] [--repeats 3]
                                     [--only jobengine,huey-sqlite,...]
                                     [--pg-url URL] [--procrastinate-url URL]
    python bench/bench_background.py --quick        # smoke: n=500, pg-n=300, latency-n=50, 1 run

Systems (the default run is the first five):
- jobengine: `python -m jobengine run --workers 2` on SQLite, in its own process;
- jobengine-inproc: the same engine started inside the benchmark process;
- huey-sqlite: SqliteHuey, its consumer in its own process (2 process workers);
- jobengine-pg: `jobengine run --workers 2` on PostgreSQL (--pg-url), in its own process;
- procrastinate: its worker (`--concurrency 2`) in its own process (--procrastinate-url);
- optional: jobengine-pg-inproc, huey-redis, celery-redis (need Redis at 127.0.0.1:6379).
Every system runs 2 workers and the no-op job `bench.tasks:noop(i) -> i`; the client (enqueue,
waiting on results) is this process. Measured, each a median over the repeats:
- enqueue/s: n single enqueue calls, no worker running (n is --pg-n on PostgreSQL, where
  procrastinate drains some 60 jobs/s here);
- drain/s: those n queued jobs, from starting the engine/consumer process (or `start()`) until
  every result is stored; "1st s" is the time from that start to the first stored result;
- steady/s: engine/consumer running and warmed up (one job run and waited on); n jobs enqueued
  in a burst by single calls; n / (time from the first enqueue call to the last stored result);
- p50/p99 ms: execute -> result over latency-n sequential jobs, workers idle and warm, each
  system waiting the way it offers (jobengine `job.result()`, Huey `result(blocking=True)`,
  procrastinate: poll `get_job_status` every 1 ms, Celery `AsyncResult.get()`);
- batch/s (jobengine only): n jobs enqueued at once, beside single `execute` on the same store.
Each measurement starts from a fresh store. The systems are interleaved within each repeat, so
load from other users of the machine hits them alike; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench.*` importable (also for workers)
    _root = str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, _root)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_root, os.environ.get("PYTHONPATH")]))

from bench.common import (
    Config,
    RedisDatabases,
    SystemResult,
    Unavailable,
    compile_sources,
    percentile,
)
from bench.report import print_ratios, print_table, print_targets

DEFAULT_SYSTEMS = ["jobengine", "jobengine-inproc", "huey-sqlite", "jobengine-pg", "procrastinate"]
SYSTEMS = [*DEFAULT_SYSTEMS, "jobengine-pg-inproc", "huey-redis", "celery-redis"]
BATCHED = ("jobengine", "jobengine-pg")  # batch against single execute, on each store
SQLITE_PEERS = ("huey-sqlite", "huey-redis", "celery-redis")
PG_PEERS = ("procrastinate",)
PG_SYSTEMS = ("jobengine-pg", "jobengine-pg-inproc", "procrastinate")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/jobengine_bench"
DEFAULT_PROCRASTINATE = "postgresql://postgres@127.0.0.1:5432/procrastinate_bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="jobs to enqueue and drain")
    parser.add_argument(
        "--pg-n",
        type=int,
        default=2000,
        help="n for the PostgreSQL systems (procrastinate is slow)",
    )
    parser.add_argument("--latency-n", type=int, default=300, help="sequential latency jobs")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=20, help="latency warm-up jobs")
    parser.add_argument("--only", help="comma-separated: " + ",".join(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="n=500, latency-n=50, 1 repeat")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
        help="jobengine's PostgreSQL database; its jobengine tables are DROPPED each run",
    )
    parser.add_argument(
        "--procrastinate-url",
        default=os.environ.get("BENCH_PROCRASTINATE_URL", DEFAULT_PROCRASTINATE),
        help="procrastinate's database; its procrastinate tables are TRUNCATED each run",
    )
    parser.add_argument(
        "--huey-notify",
        action="store_true",
        help="RedisHuey with notify_result=True (BLPOP wake-up instead of result polling)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.pg_n, args.latency_n, args.repeats, args.warmup = 500, 300, 50, 1, 5
    names = (
        DEFAULT_SYSTEMS if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    )
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    args.systems = names
    return args


def make_system(name: str, config: Config, redis_dbs: RedisDatabases):
    if name in PG_SYSTEMS:
        config = dataclasses.replace(config, n=config.pg_n)
    if name.startswith("jobengine"):
        from bench.jobengine_runner import JobengineSystem

        kind = "postgresql" if name.startswith("jobengine-pg") else "sqlite"
        in_process = name.endswith("-inproc")
        return JobengineSystem(config, kind=kind, in_process=in_process, pg_url=config.pg_url)
    if name == "procrastinate":
        from bench.peers_procrastinate import ProcrastinateSystem

        return ProcrastinateSystem(config, config.procrastinate_url)
    if name in ("huey-sqlite", "huey-redis"):
        from bench.peers_huey import HueySystem

        return HueySystem(name.removeprefix("huey-"), config, redis_dbs)
    from bench.peers_celery import CelerySystem

    return CelerySystem(config, redis_dbs)


def run_all(names: list[str], config: Config) -> list[SystemResult]:
    results = {name: SystemResult(name) for name in names}
    redis_dbs = RedisDatabases()
    systems = {}
    try:
        for name in names:
            try:
                systems[name] = make_system(name, config, redis_dbs)
            except Unavailable as exc:
                results[name].unavailable = str(exc)
                cause = f" ({exc.__cause__})" if exc.__cause__ else ""
                print(f"[{name}] skipped: {exc}{cause}", flush=True)
        for rep in range(config.repeats):
            for name, system in systems.items():  # interleaved, so drift hits every system
                if results[name].errors:
                    continue
                run_once(system, results[name], rep, config.repeats)
    finally:
        for system in systems.values():
            system.close()
        redis_dbs.flush_taken()
    return list(results.values())


def run_once(system, result: SystemResult, rep: int, repeats: int) -> None:
    tag = f"[{result.name}] run {rep + 1}/{repeats}"
    try:
        t = system.throughput()
        result.add_throughput(t)
        first = "" if t.first_result is None else f", first result after {t.first_result:.2f} s"
        print(
            f"{tag}: enqueue {t.enqueue_rate:,.0f}/s, drain {t.drain_rate:,.0f}/s{first}",
            flush=True,
        )
        steady, samples = system.warm()
        result.add("steady_rate", steady)
        result.add("p50", percentile(samples, 50))
        result.add("p99", percentile(samples, 99))
        p50, p99 = result.samples["p50"][-1] * 1e3, result.samples["p99"][-1] * 1e3
        print(
            f"{tag}: steady drain {steady:,.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms", flush=True
        )
        if result.name in BATCHED:
            single, batch = system.batch()
            result.add("single_rate", single)
            result.add("batch_rate", batch)
            print(f"{tag}: single execute {single:,.0f}/s, batch {batch:,.0f}/s", flush=True)
    except Exception as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
        print(f"{tag}: FAILED\n{traceback.format_exc()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = Config(
        n=args.n,
        latency_n=args.latency_n,
        warmup=args.warmup,
        repeats=args.repeats,
        pg_n=args.pg_n,
        huey_notify=args.huey_notify,
        pg_url=args.pg_url,
        procrastinate_url=args.procrastinate_url,
    )
    print(
        f"background jobs: n={config.n} (PostgreSQL {config.pg_n}), latency-n={config.latency_n}, "
        f"repeats={config.repeats}, 2 workers each; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"jobengine's modules {compile_sources()}",
        flush=True,
    )
    started = time.perf_counter()
    results = run_all(args.systems, config)
    print(f"\nmedians of {config.repeats} run(s), {time.perf_counter() - started:.0f} s in all\n")
    print_table(results)
    if any(r.name in BATCHED for r in results):
        from bench.jobengine_runner import batch_api

        print(f"batch/s: {batch_api()}")
        for r in results:
            single, batch = r.median("single_rate"), r.median("batch_rate")
            if single and batch:
                print(f"  {r.name:<14} single execute {single:,.0f}/s, batch {batch:,.0f}/s: "
                      f"{batch / single:.1f}x")  # fmt: skip
        print()
    print("ratios (throughput: times more jobs/s; first_result, p50, p99: times lower):")
    every = ("enqueue_rate", "drain_rate", "first_result", "steady_rate", "p50", "p99")
    print_ratios(results, "jobengine", SQLITE_PEERS, every)
    print_ratios(results, "jobengine-inproc", SQLITE_PEERS, every)
    print_ratios(results, "jobengine-pg", PG_PEERS, every)
    print_ratios(results, "jobengine-pg-inproc", PG_PEERS, every)
    print()
    print_targets(results)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
