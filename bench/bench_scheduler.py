"""The scheduler, at scale and beside APScheduler 3: how late scheduled jobs start, what the
scheduler costs while nothing is due, and its memory per scheduled job. Every engine runs in
its own process (`jobengine run`, as users deploy it) on a fresh SQLite file.

    python bench/bench_scheduler.py [--jobs 100000] [--due 1000] [--seconds 60]
                                    [--peer-jobs 100] [--repeats 3] [--no-peer]
    python bench/bench_scheduler.py --quick    # smoke: 5,000 jobs, 100 due, 20 s, 1 run

Each repeat runs, one after another (never two at once, so they do not share the CPU):
1. **big**: --jobs scheduled jobs (default 100,000) of the no-op method `bench.tasks:noop`,
   with a mix of schedules (every N s with N in 60..3600; hourly inside a daily window; daily
   at a time; weekly on a day at a time; all in UTC). --due of them (default 1,000) have their
   first start inside the measurement window, which opens `lead` seconds after the rows are
   written: 70 % every-N-seconds jobs whose first starts are spread uniformly over the window
   (to the ms), 30 % calendar jobs (daily, hourly window, weekly) whose start time of day
   falls in it (to the second). The others are due only after the window: their calendar
   times lie outside it, and the every-N ones start from an instant 1 to 25 hours on. The
   rows are written with `store.scheduled.insert_many` (one transaction; the time and rate
   are printed), plus one job due at once (the *sentinel*: when its run appears, the engine
   has loaded every row and made its first pass).
   Then `jobengine run --workers 2` starts (through bench/engine_threads.py, which only adds
   a thread that names the engine's threads), and the benchmark reads, from /proc:
   - load: engine process start -> the sentinel's run seen in the store;
   - RSS of the engine process one second after that (workers are other processes);
   - idle CPU: from 2 s after the load until 1 s before the window, nothing being due: CPU
     time of the engine process, of its scheduler thread alone, and of its two workers, as a
     % of one core (/proc/PID/schedstat, ns);
   - lag, for every occurrence whose nominal instant is in the window and that the scheduler
     started (occurrence table joined to the background job it started):
     *begin* = the run's `begin_ms` (the instant the scheduler's pass read the clock) minus
     the nominal instant, and *start* = its `started_ms` (a worker began the method) minus
     the nominal instant; p50 and p99 in ms. Other decisions (missed, skipped_active) are
     counted and printed.
2. **zero**: the same engine on a store holding only the sentinel: RSS and idle CPU. Memory
   per job = (RSS big - RSS zero) / jobs.
3. **small**: --peer-jobs (100) jobs, all due in the window, every-N-seconds only (N in
   60..3600, first starts spread over the window): lag as above.
4. **apscheduler**: APScheduler 3.x BackgroundScheduler in its own process with the same 100
   jobs (`IntervalTrigger(seconds=N, start_date=first start)`, default 10-thread pool). Lag:
   *start* = `time.time()` at the job function's first line minus the `scheduled_run_time`
   APScheduler reports for the run (EVENT_JOB_EXECUTED); *begin* = when the listener saw
   EVENT_JOB_SUBMITTED minus the same. jobengine's *start* crosses processes (scheduler ->
   store -> dispatcher -> worker process); APScheduler's is a thread hand-off in one process.
Reported: medians over the repeats of each figure (p50 and p99 are per run, then medianed).
The machine is shared: absolute numbers move between runs; the ratio against APScheduler is
measured in the same repeat.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench.*` importable (also for workers)
    _root = str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, _root)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_root, os.environ.get("PYTHONPATH")]))

from bench.common import percentile, python_cmd, worker_process

METHOD = "bench.tasks:noop"
META = "BenchTick"
REGISTRY = f"""allowed_modules: [bench]
scheduled_jobs:
  {META}:
    method: {METHOD}
    description: scheduler benchmark no-op
    use: true
    schedule: {{days_repeat_period: 1}}
    params: [0]
"""
TARGETS = (  # (label, figure key, limit)
    ("p99 due -> begin <= 250 ms at the big count", "big:begin_p99", 250.0),
    ("p99 due -> begin <= 20 ms at 100 jobs", "small:begin_p99", 20.0),
    ("idle CPU < 1 % of a core (engine process, big count)", "big:idle_cpu_engine", 1.0),
    ("idle CPU < 1 % of a core (scheduler thread, big count)", "big:idle_cpu_sched", 1.0),
)


# --- the schedules --------------------------------------------------------------------------


@functools.cache
def _schedule_text(**fields: Any) -> str:
    from jobengine import codec
    from jobengine.schedule import Schedule

    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
    return codec.dumps(Schedule(timezone="UTC", **fields).to_dict())


@functools.cache
def _next_ms(text: str, due_from: int) -> int | None:
    from jobengine import codec
    from jobengine.schedule import Schedule

    return Schedule.from_dict(codec.loads(text)).next_run_ms(due_from, None, None)


def _calendar(kind: str, at: datetime) -> str:
    """A calendar schedule whose daily start is `at`'s time of day (UTC)."""
    t = at.time().replace(microsecond=0)
    if kind == "hourly":
        end = (at + timedelta(hours=2)).time().replace(microsecond=0)
        return _schedule_text(
            days_repeat_period=1, begin_time=t, end_time=end, repeat_period_in_day=3600
        )
    end = (at + timedelta(minutes=10)).time().replace(microsecond=0)
    if kind == "weekly":
        return _schedule_text(
            days_repeat_period=1, week_days=(at.isoweekday(),), begin_time=t, end_time=end
        )
    return _schedule_text(days_repeat_period=1, begin_time=t, end_time=end)


@dataclass
class Plan:
    """The rows to write, and what the benchmark needs to know about them."""

    rows: list[dict[str, Any]]
    window: tuple[int, int]  # ms, nominal instants counted: [start, end)
    sentinel: str
    interval: list[tuple[str, float, int]]  # (uuid, first start s, period s), the due ones
    kinds: dict[str, int] = field(default_factory=dict)
    distinct: int = 0


def plan(jobs: int, due: int, now_ms: int, lead_s: float, seconds: float, seed: int,
         mix: bool) -> Plan:  # fmt: skip
    """`jobs` rows; `due` of them first due in [now + lead, now + lead + seconds)."""
    rng = random.Random(seed)
    start = now_ms + int(lead_s * 1000)
    end = start + int(seconds * 1000)
    rows: list[dict[str, Any]] = []
    interval: list[tuple[str, float, int]] = []
    kinds: dict[str, int] = {}

    def add(text: str, due_from: int, kind: str) -> str:
        u = str(uuidlib.uuid4())
        rows.append({
            "uuid": u, "metadata": META, "method": METHOD, "predefined": False,
            "description": "", "key": "", "use": True, "schedule": text,
            "params": f"[{len(rows)}]", "user_name": "", "restart_count": 0,
            "restart_interval": 10, "paused": False, "due_from_ms": due_from,
            "created_ms": now_ms, "changed_ms": now_ms,
        })  # fmt: skip
        kinds[kind] = kinds.get(kind, 0) + 1
        return u

    sentinel = add(_schedule_text(days_repeat_period=1), now_ms, "sentinel")
    # the due ones
    for _ in range(due):
        first = rng.randrange(start, end)
        period = rng.randint(60, 3600)
        roll = rng.random() if mix else 0.0
        if roll >= 0.7:
            kind = ("daily", "hourly", "weekly")[int((roll - 0.7) / 0.1) % 3]
            at = datetime.fromtimestamp(first // 1000, UTC)
            text = _calendar(kind, at)
            if _next_ms(text, now_ms) == (first // 1000) * 1000 and first // 1000 * 1000 >= start:
                add(text, now_ms, f"due {kind}")
                continue
        text = _schedule_text(days_repeat_period=1, repeat_period_in_day=period)
        u = add(text, first, "due every-N")
        interval.append((u, first / 1000, period))
    # the others: due only after the window (+10 minutes)
    after = end + 600_000
    for _ in range(jobs - due):
        roll = rng.random()
        if roll < 0.4:
            period = rng.randint(60, 3600)
            text = _schedule_text(days_repeat_period=1, repeat_period_in_day=period)
            add(text, after + rng.randrange(3_600_000, 90_000_000), "every-N")
            continue
        kind = "daily" if roll < 0.6 else "hourly" if roll < 0.8 else "weekly"
        while True:
            hh, mm = rng.randrange(24), rng.randrange(0, 60, 5)
            at = datetime(2000, 1, 3 + rng.randrange(7), hh, mm, tzinfo=UTC)  # a Mon..Sun
            text = _calendar(kind, at)
            nxt = _next_ms(text, now_ms)
            if nxt is None or nxt > after:
                break
        add(text, now_ms, kind)
    return Plan(rows, (start, end), sentinel, interval, kinds, len({r["schedule"] for r in rows}))


# --- /proc ----------------------------------------------------------------------------------


def cpu_ns(pid: int, tid: int | None = None) -> int:
    """CPU time of one thread, or of a process (the sum over its live threads), in ns."""
    tids = [tid] if tid else [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    total = 0
    for t in tids:
        try:
            total += int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[0])
        except FileNotFoundError:  # a thread that just ended
            continue
    return total


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def group_members(pgid: int, exclude: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == exclude:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


def cpu_snapshot(pid: int, sched_tid: int | None) -> dict[str, int]:
    workers = 0
    for w in group_members(pid, pid):
        with contextlib.suppress(OSError):
            workers += cpu_ns(w)
    snap = {"engine": cpu_ns(pid), "workers": workers}
    if sched_tid is not None:
        snap["sched"] = cpu_ns(pid, sched_tid)
    return snap


# --- one engine run -------------------------------------------------------------------------


class Failed(Exception):
    pass


def write_rows(url: str, rows: list[dict[str, Any]]) -> float:
    """Write the rows in one transaction; returns the seconds it took."""
    from jobengine.store import Store

    store = Store(url)
    try:
        t0 = time.perf_counter()
        store.scheduled.insert_many(rows)
        return time.perf_counter() - t0
    finally:
        store.close()


def lag_rows(url: str, window: tuple[int, int], sentinel: str) -> tuple[list[tuple], dict]:
    from jobengine.store import Store

    store = Store(url)
    try:
        p = store.db.param
        cur = store.db.execute_sql(
            "SELECT o.nominal_ms, j.begin_ms, j.started_ms, o.decision FROM occurrence o "
            "LEFT JOIN background_job j ON j.uuid = o.job "
            f"WHERE o.nominal_ms >= {p} AND o.nominal_ms < {p} AND o.scheduled_job <> {p}",
            (window[0], window[1], sentinel),
        )
        rows = cur.fetchall()
    finally:
        store.close()
    decisions: dict[str, int] = {}
    for r in rows:
        decisions[r[3]] = decisions.get(r[3], 0) + 1
    return [r for r in rows if r[3] == "started"], decisions


def sentinel_seen(url: str, sentinel: str) -> bool:
    import sqlite3

    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, timeout=5)
    try:
        row = conn.execute(
            "SELECT 1 FROM background_job WHERE scheduled_job = ? LIMIT 1", (sentinel,)
        ).fetchone()
    finally:
        conn.close()
    return row is not None


def idle_cpu(pid: int, threads_file: Path, start: float, end: float, out: dict[str, float],
             name: str, log: list[str]) -> None:  # fmt: skip
    """CPU of the engine process, its scheduler thread and its workers from `start` to `end`
    (epoch s), as % of one core, into `out`."""
    sched_tid = None
    with contextlib.suppress(OSError, ValueError):
        sched_tid = json.loads(threads_file.read_text()).get("jobengine-scheduler")
    if sched_tid is None:
        log.append(f"{name}: scheduler thread id not found")
    if end - start < 3.0:
        log.append(f"{name}: only {end - start:.1f} s between load and window: "
                   "no idle CPU figure (raise --lead)")  # fmt: skip
        return
    time.sleep(max(0.0, start - time.time()))
    a, ta = cpu_snapshot(pid, sched_tid), time.monotonic()
    time.sleep(max(0.0, end - time.time()))
    b, tb = cpu_snapshot(pid, sched_tid), time.monotonic()
    out["idle_s"] = tb - ta
    for key in b:
        out[f"idle_cpu_{key}"] = (b[key] - a[key]) / 1e9 / (tb - ta) * 100


def run_engine(tmp: Path, name: str, p: Plan, *, idle_from_load: bool, until_ms: int,
               log: list[str], measure_idle: bool = True) -> dict[str, float]:  # fmt: skip
    """Start `jobengine run` on a store holding `p.rows`; measure; stop it after `until_ms`."""
    url = f"sqlite:///{tmp / f'{name}.db'}"
    out: dict[str, float] = {}
    out["insert_s"] = write_rows(url, p.rows)
    out["insert_rate"] = len(p.rows) / out["insert_s"]
    registry = tmp / "registry"
    threads_file = tmp / f"{name}-threads.json"
    cmd = python_cmd(
        str(Path(__file__).resolve().parent / "engine_threads.py"), "run", "--db", url,
        "--workers", "2", "--registry", str(registry), "--max-finished", "1000000",
    )  # fmt: skip
    from bench.common import subprocess_env

    env = subprocess_env()
    env["BENCH_THREADS_FILE"] = str(threads_file)
    t_spawn = time.time()
    with worker_process(cmd, tmp / f"{name}.log", env) as worker:
        pid = worker.proc.pid
        while not sentinel_seen(url, p.sentinel):
            worker.check_alive()
            if time.time() > p.window[0] / 1000:
                raise Failed(f"{name}: the engine had not made its first pass when the window "
                             f"opened; raise --lead")  # fmt: skip
            time.sleep(0.05)
        t_loaded = time.time()
        out["load_s"] = t_loaded - t_spawn
        time.sleep(1.0)
        out["rss_kb"] = rss_kb(pid)
        if measure_idle:
            idle_cpu(pid, threads_file, t_loaded + 2.0, p.window[0] / 1000 - 1.0, out, name, log)
        while time.time() * 1000 < until_ms:
            worker.check_alive()
            time.sleep(0.2)
        worker.check_alive()
    if idle_from_load:
        return out
    started, decisions = lag_rows(url, p.window, p.sentinel)
    out["runs"] = len(started)
    begin = [float(r[1] - r[0]) for r in started]
    start = [float(r[2] - r[0]) for r in started if r[2] is not None]
    if begin:
        out["begin_p50"], out["begin_p99"] = percentile(begin, 50), percentile(begin, 99)
        out["begin_max"] = max(begin)
    if start:
        out["start_p50"], out["start_p99"] = percentile(start, 50), percentile(start, 99)
    out["not_started"] = len(started) - len(start)
    other = {k: v for k, v in decisions.items() if k != "started"}
    if other:
        log.append(f"{name}: other decisions in the window: {other}")
    return out


def run_apscheduler(tmp: Path, p: Plan, until_ms: int) -> dict[str, float]:
    spec = tmp / "aps-spec.json"
    result = tmp / "aps-out.json"
    result.unlink(missing_ok=True)
    spec.write_text(json.dumps({"jobs": p.interval, "until": until_ms / 1000}))
    cmd = python_cmd(
        str(Path(__file__).resolve().parent / "peer_apscheduler.py"), str(spec), str(result)
    )
    with worker_process(cmd, tmp / "aps.log") as worker:
        worker.proc.wait(timeout=until_ms / 1000 - time.time() + 60)
        if worker.proc.returncode != 0:
            raise Failed(f"apscheduler exited {worker.proc.returncode}:\n{worker.log_tail()}")
    data = json.loads(result.read_text())
    lo, hi = p.window[0] / 1000, p.window[1] / 1000
    runs = [r for r in data["runs"] if lo <= r[1] < hi]
    begin = [(sub - sch) * 1000 for _, sch, sub, _ in runs if sub is not None]
    start = [(st - sch) * 1000 for _, sch, _, st in runs]
    out: dict[str, float] = {"runs": len(runs), "missed": data["missed"]}
    if begin:
        out["begin_p50"], out["begin_p99"] = percentile(begin, 50), percentile(begin, 99)
    if start:
        out["start_p50"], out["start_p99"] = percentile(start, 50), percentile(start, 99)
    return out


# --- the whole benchmark --------------------------------------------------------------------


def one_repeat(args: argparse.Namespace, rep: int, tmp: Path) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    log: list[str] = []
    tag = f"[run {rep + 1}/{args.repeats}]"

    # 1. big
    t0 = time.perf_counter()
    now = int(time.time() * 1000)
    lead = args.lead if args.lead is not None else 8 + args.idle + args.jobs / 4000
    big = plan(args.jobs, args.due, now, lead, args.seconds, 1000 + rep, mix=True)
    gen = time.perf_counter() - t0
    # the lead covers planning, writing and loading (run_engine fails if it did not)
    print(f"{tag} big: {len(big.rows) - 1:,} jobs planned in {gen:.1f} s "
          f"({big.distinct:,} distinct schedules; {big.kinds})", flush=True)  # fmt: skip
    fig = run_engine(tmp, f"big{rep}", big, idle_from_load=False,
                     until_ms=big.window[1] + args.tail * 1000, log=log)  # fmt: skip
    figures["big"] = fig
    print(f"{tag} big: {_summary(fig)}", flush=True)

    # 2. zero
    now = int(time.time() * 1000)
    zero = plan(0, 0, now, 6 + args.zero_idle, 0.001, 2000 + rep, mix=True)
    fig = run_engine(tmp, f"zero{rep}", zero, idle_from_load=True, until_ms=zero.window[0],
                     log=log)  # fmt: skip
    figures["zero"] = fig
    print(f"{tag} zero: {_summary(fig)}", flush=True)
    if "rss_kb" in figures["big"] and args.jobs:
        per = (figures["big"]["rss_kb"] - fig["rss_kb"]) * 1024 / args.jobs
        figures["big"]["bytes_per_job"] = per

    if not args.no_small:
        # 3. small, 4. apscheduler: the same jobs, the same offsets from their own start
        now = int(time.time() * 1000)
        small_lead = 8.0
        small = plan(args.peer_jobs, args.peer_jobs, now, small_lead, args.seconds, 3000 + rep,
                     mix=False)  # fmt: skip
        fig = run_engine(tmp, f"small{rep}", small, idle_from_load=False,
                         until_ms=small.window[1] + args.tail * 1000, log=log,
                         measure_idle=False)  # fmt: skip
        figures["small"] = fig
        print(f"{tag} small: {_summary(fig)}", flush=True)
        if not args.no_peer:
            shift = int(time.time() * 1000) + int(small_lead * 1000) - small.window[0]
            aps = Plan(
                [], (small.window[0] + shift, small.window[1] + shift), "",
                [(u, first + shift / 1000, period) for u, first, period in small.interval],
            )  # fmt: skip
            fig = run_apscheduler(tmp, aps, aps.window[1] + args.tail * 1000)
            figures["apscheduler"] = fig
            print(f"{tag} apscheduler: {_summary(fig)}", flush=True)
    for line in log:
        print(f"{tag} note: {line}", flush=True)
    return figures


def _summary(fig: dict[str, float]) -> str:
    parts = []
    for key, fmt in (
        ("insert_rate", "insert {:,.0f} rows/s"), ("load_s", "load {:.2f} s"),
        ("rss_kb", "RSS {:,.0f} kB"), ("idle_cpu_engine", "idle CPU engine {:.2f} %"),
        ("idle_cpu_sched", "scheduler {:.3f} %"), ("idle_cpu_workers", "workers {:.2f} %"),
        ("runs", "{:.0f} runs"), ("begin_p50", "begin p50 {:.1f} ms"),
        ("begin_p99", "p99 {:.1f} ms"), ("start_p50", "start p50 {:.1f} ms"),
        ("start_p99", "p99 {:.1f} ms"), ("bytes_per_job", "{:,.0f} B/job"),
    ):  # fmt: skip
        if key in fig:
            parts.append(fmt.format(fig[key]))
    return ", ".join(parts)


def medians(all_runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for run in all_runs:
        for system, figs in run.items():
            for key, value in figs.items():
                out.setdefault(system, {}).setdefault(key, [])  # type: ignore[arg-type]
                out[system][key].append(value)  # type: ignore[attr-defined]
    return {s: {k: statistics.median(v) for k, v in f.items()} for s, f in out.items()}  # type: ignore[misc]


def print_report(args: argparse.Namespace, med: dict[str, dict[str, float]], n: int) -> None:
    def cell(system: str, key: str, fmt: str) -> str:
        v = med.get(system, {}).get(key)
        return "-" if v is None else fmt.format(v)

    print(f"\nmedians of {n} run(s); lag in ms from the nominal instant\n")
    rows = (
        (f"jobengine, {args.jobs:,} jobs ({args.due:,} due)", "big"),
        (f"jobengine, {args.peer_jobs} jobs", "small"),
        (f"apscheduler 3, {args.peer_jobs} jobs", "apscheduler"),
    )
    head = (f"{'system':<34}{'runs':>6}{'begin p50':>11}{'begin p99':>11}{'start p50':>11}"
            f"{'start p99':>11}")  # fmt: skip
    print(head + "\n" + "-" * len(head))
    for label, key in rows:
        if key not in med:
            continue
        cells = [cell(key, "runs", "{:.0f}").rjust(6)] + [
            cell(key, k, "{:.1f}").rjust(11)
            for k in ("begin_p50", "begin_p99", "start_p50", "start_p99")
        ]
        print(f"{label:<34}" + "".join(cells))
    print(
        "  begin: jobengine the run's begin_ms (the pass's clock reading), apscheduler "
        "EVENT_JOB_SUBMITTED seen;\n  start: the method's first line ran (jobengine: a "
        "worker process; apscheduler: a pool thread)"
    )
    big, zero = med.get("big", {}), med.get("zero", {})
    print(f"\n{'':<34}{f'{args.jobs:,} jobs':>14}{'0 jobs':>14}")
    for label, key, fmt in (
        ("rows written (insert_many), rows/s", "insert_rate", "{:,.0f}"),
        ("load: process start -> 1st pass, s", "load_s", "{:.2f}"),
        ("engine RSS, MB", "rss_kb", "{:.1f}"),
        ("idle CPU, engine process, % core", "idle_cpu_engine", "{:.2f}"),
        ("idle CPU, scheduler thread, % core", "idle_cpu_sched", "{:.3f}"),
        ("idle CPU, 2 workers, % core", "idle_cpu_workers", "{:.2f}"),
        ("idle stretch measured, s", "idle_s", "{:.0f}"),
    ):
        scale = 1 / 1024 if key == "rss_kb" else 1.0
        b = "-" if key not in big else fmt.format(big[key] * scale)
        z = "-" if key not in zero or key == "insert_rate" else fmt.format(zero[key] * scale)
        print(f"{label:<34}{b:>14}{z:>14}")
    if "bytes_per_job" in big:
        print(f"memory per scheduled job: {big['bytes_per_job']:,.0f} bytes "
              f"((RSS {args.jobs:,} - RSS 0) / {args.jobs:,})")  # fmt: skip
    small, aps = med.get("small", {}), med.get("apscheduler", {})
    if small and aps:
        print(f"\njobengine vs apscheduler, {args.peer_jobs} jobs (>1: jobengine later):")
        for key in ("begin_p50", "begin_p99", "start_p50", "start_p99"):
            if small.get(key) is not None and aps.get(key):
                ratio = f"{small[key] / aps[key]:.1f}x" if small[key] else "- (0 ms: below 1 ms)"
                print(f"  {key:<10} {small[key]:8.1f} ms vs {aps[key]:8.1f} ms: {ratio}")
    print("\ntargets:")
    for label, ref, limit in TARGETS:
        system, _, key = ref.partition(":")
        v = med.get(system, {}).get(key)
        verdict = "n/a" if v is None else ("PASS" if v <= limit else "MISS")
        shown = "-" if v is None else f"{v:.3f}"
        print(f"  {label:<56} {shown:>10}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000, help="scheduled jobs (big run)")
    parser.add_argument("--due", type=int, default=1000, help="of them, due in the window")
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window, s")
    parser.add_argument("--peer-jobs", type=int, default=100, help="jobs beside APScheduler")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--idle", type=float, default=20.0, help="idle stretch wanted, s")
    parser.add_argument("--zero-idle", type=float, default=10.0, help="idle stretch, 0 jobs")
    parser.add_argument("--lead", type=float, help="s from writing the rows to the window "
                        "(default 8 + idle + jobs/4,000)")  # fmt: skip
    parser.add_argument("--tail", type=float, default=3.0, help="s the engine runs on after")
    parser.add_argument("--no-peer", action="store_true", help="skip APScheduler")
    parser.add_argument("--no-small", action="store_true", help="skip the 100-job runs")
    parser.add_argument("--quick", action="store_true", help="5,000 jobs, 100 due, 20 s, 1 run")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.due, args.seconds, args.repeats, args.idle = 5000, 100, 20.0, 1, 8.0
    args.due = min(args.due, args.jobs)
    print(f"scheduler: {args.jobs:,} jobs ({args.due:,} due in a {args.seconds:.0f} s window), "
          f"{args.peer_jobs} beside APScheduler, {args.repeats} repeat(s), SQLite, 2 workers; "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    started = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-sched-") as name:
        tmp = Path(name)
        (tmp / "registry").mkdir()
        (tmp / "registry" / "bench.yaml").write_text(REGISTRY)
        for rep in range(args.repeats):
            try:
                runs.append(one_repeat(args, rep, tmp))
            except Failed as exc:
                print(f"[run {rep + 1}] FAILED: {exc}", flush=True)
            for f in tmp.glob("*.db*"):
                f.unlink()
    if not runs:
        return 1
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    print_report(args, medians(runs), len(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
