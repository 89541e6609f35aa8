"""Background jobs, side by side: jobengine (SQLite) against Huey and Celery, in one run.

    python bench/bench_background.py [--n 5000] [--latency-n 300] [--repeats 3]
                                     [--only jobengine,huey-sqlite,huey-redis,celery-redis]
    python bench/bench_background.py --quick        # smoke run: n=500, latency-n=50, 1 repeat

Every system runs 2 worker processes and the no-op job `bench.tasks:noop(i) -> i`. Measured:
- enqueue/s: n single enqueue calls with no worker running;
- drain/s: those n queued jobs, from starting the workers until every result is stored
  (worker start-up included; "1st s" is the time to the first stored result);
- p50/p99 ms: execute -> wait-for-result latency over latency-n sequential jobs, workers idle
  and warmed up, each system waiting the way it offers (jobengine `job.result()`, Huey
  `result(blocking=True)`, Celery `AsyncResult.get()`).
Each measurement is repeated with a fresh store and the median is reported. The Redis peers
need a Redis server at 127.0.0.1:6379; they use databases that are empty when the run starts
and flush them afterwards.
"""

from __future__ import annotations

import argparse
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

from bench.common import Config, RedisDatabases, SystemResult, Unavailable, percentile

SYSTEMS = ["jobengine", "huey-sqlite", "huey-redis", "celery-redis"]
BASELINE = "huey-sqlite"
# Targets from issue 3, against Huey+SQLite.
TARGET_DRAIN_X = 3.0
TARGET_ENQUEUE_X = 2.0
TARGET_P50_MS = 2.0
TARGET_P99_MS = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="jobs to enqueue and drain")
    parser.add_argument("--latency-n", type=int, default=300, help="sequential latency jobs")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=20, help="latency warm-up jobs")
    parser.add_argument("--only", help="comma-separated: " + ",".join(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="n=500, latency-n=50, 1 repeat")
    parser.add_argument(
        "--huey-notify",
        action="store_true",
        help="RedisHuey with notify_result=True (BLPOP wake-up instead of result polling)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.latency_n, args.repeats, args.warmup = 500, 50, 1, 5
    names = SYSTEMS if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    args.systems = names
    return args


def make_system(name: str, config: Config, redis_dbs: RedisDatabases):
    if name == "jobengine":
        from bench.jobengine_runner import JobengineSystem

        return JobengineSystem(config)
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
        result.throughput.append(t)
        first = "" if t.first_result is None else f" (first result after {t.first_result:.2f} s)"
        print(
            f"{tag}: enqueue {t.enqueue_rate:,.0f}/s, drain {t.drain_rate:,.0f}/s{first}",
            flush=True,
        )
        samples = system.latency()
        result.p50.append(percentile(samples, 50))
        result.p99.append(percentile(samples, 99))
        print(
            f"{tag}: latency p50 {result.p50[-1] * 1e3:.2f} ms, p99 {result.p99[-1] * 1e3:.2f} ms",
            flush=True,
        )
    except Exception as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
        print(f"{tag}: FAILED\n{traceback.format_exc()}", flush=True)


# --- report ----------------------------------------------------------------------------------


def _fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "-" if value is None else f"{value * scale:,.{digits}f}"


def print_table(results: list[SystemResult]) -> None:
    header = (
        f"{'system':<14} {'enqueue/s':>10} {'drain/s':>9} {'1st s':>6} {'p50 ms':>8} {'p99 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.unavailable is not None:
            print(f"{r.name:<14} {r.name}: {r.unavailable}")
            continue
        row = (
            f"{r.name:<14} {_fmt(r.median('enqueue_rate')):>10} {_fmt(r.median('drain_rate')):>9} "
            f"{_fmt(r.median('first_result'), digits=2):>6} "
            f"{_fmt(r.median('p50'), 1e3, 2):>8} {_fmt(r.median('p99'), 1e3, 2):>8}"
        )
        if r.errors:
            row += f"   (failed: {r.errors[0]})"
        print(row)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" ok" if ok else " MISSED")


def print_ratios(results: list[SystemResult]) -> None:
    by_name = {r.name: r for r in results}
    je = by_name.get("jobengine")
    if je is None:
        return
    print()
    if je.unavailable is not None or not je.throughput:
        print(f"ratios: n/a (jobengine: {je.unavailable or 'no measurements'})")
        return
    enq, drain = je.median("enqueue_rate"), je.median("drain_rate")
    p50, p99 = je.median("p50"), je.median("p99")
    print("jobengine against each peer (enqueue, drain: how many times more jobs/s;")
    print("p50, p99: how many times lower latency):")
    for peer in results:
        if peer is je or not peer.throughput:
            continue
        penq, pdrain = peer.median("enqueue_rate"), peer.median("drain_rate")
        pp50, pp99 = peer.median("p50"), peer.median("p99")
        line = (
            f"  vs {peer.name:<13} enqueue {_ratio(enq, penq)}, drain {_ratio(drain, pdrain)}, "
            f"p50 {_ratio(pp50, p50)}, p99 {_ratio(pp99, p99)}"
        )
        print(line)
    base = by_name.get(BASELINE)
    print("targets (issue 3):")
    if base is not None and base.throughput:
        benq, bdrain = base.median("enqueue_rate"), base.median("drain_rate")
        ok = None if not (enq and benq) else enq >= TARGET_ENQUEUE_X * benq
        print(f"  enqueue >= {TARGET_ENQUEUE_X:g}x {BASELINE}: {_ratio(enq, benq)}{_verdict(ok)}")
        ok = None if not (drain and bdrain) else drain >= TARGET_DRAIN_X * bdrain
        print(f"  drain   >= {TARGET_DRAIN_X:g}x {BASELINE}: {_ratio(drain, bdrain)}{_verdict(ok)}")
    else:
        print(f"  enqueue/drain ratios need {BASELINE} in the run")
    ok = None if p50 is None else p50 * 1e3 <= TARGET_P50_MS
    print(f"  p50 <= {TARGET_P50_MS:g} ms: {_fmt(p50, 1e3, 2)} ms{_verdict(ok)}")
    ok = None if p99 is None else p99 * 1e3 <= TARGET_P99_MS
    print(f"  p99 <= {TARGET_P99_MS:g} ms: {_fmt(p99, 1e3, 2)} ms{_verdict(ok)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = Config(
        n=args.n,
        latency_n=args.latency_n,
        warmup=args.warmup,
        repeats=args.repeats,
        huey_notify=args.huey_notify,
    )
    print(
        f"background jobs: n={config.n}, latency-n={config.latency_n}, repeats={config.repeats}, "
        f"2 workers each; Python {platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    started = time.perf_counter()
    results = run_all(args.systems, config)
    print(f"\nmedians of {config.repeats} run(s), {time.perf_counter() - started:.0f} s in all\n")
    print_table(results)
    print_ratios(results)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
