"""Resource queues (Robin), beside plain SQL loops written for the benchmark as the floor.

    python bench/bench_resources.py [--n 2000] [--samples 30] [--repeats 3] [--pg-url URL]
                                    [--only sqlite,postgresql]

Measured on SQLite and PostgreSQL, each a median over the repeats, from a fresh store:
- take+finish/s: n resources put, then 4 taker processes, each a client `Engine(url)` (not
  started, outside any job: the caller acts as a person), loop `rq.take(lock="write")` then
  `rq.finish(id)` until the queue is empty; n / (first taker's start to the last one's end).
  Beside it, the floor: 4 processes with a plain claim loop on the driver (psycopg, sqlite3):
  one transaction to claim (`SELECT ... FOR UPDATE SKIP LOCKED` + `UPDATE` on PostgreSQL,
  `BEGIN IMMEDIATE` + `SELECT` + `UPDATE` on SQLite), one to finish (`UPDATE`).
- unlock->wake ms: a reader blocked in `rq.get(id, wait=30)` inside a background job, run by
  `jobengine run --workers 1` in its own process, on a resource a person read-locks; this process
  calls `rq.unlock(id)`; the figure is from just before that call to the reader's return (one
  host, wall clock), p50 of the samples. The floor: a reader blocked on the row lock itself
  (`SELECT ... FOR SHARE` behind a `FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` behind another
  writer on SQLite, whose busy handler sleeps between retries), woken by the holder's COMMIT.
Every taker checks its claims; the run fails if a resource is taken twice or left behind.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench.*` importable (also for workers)
    _root = str(Path(__file__).resolve().parent.parent)
    sys.path.insert(0, _root)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_root, os.environ.get("PYTHONPATH")]))

from bench.common import python_cmd, worker_process

TAKERS = 4
QUEUE = "bench"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/jobengine_bench"
CTX = mp.get_context("spawn")
READER = "bench.bench_resources"  # the reader job's module, as the engine imports it

# -- take + finish ----------------------------------------------------------------------------


def engine_taker(url: str, start: Any, out: Any) -> None:
    """A taker process: a client engine, outside any job, takes and finishes until empty."""
    from jobengine import Engine

    rq = Engine(url, registry=None).resources.queue(QUEUE)
    start.wait()
    t0, ids = time.time(), []
    while (item := rq.take(lock="write")) is not None:
        rq.finish(item.id)
        ids.append(item.id)
    out.put((t0, time.time(), ids))


def pg_floor_taker(url: str, start: Any, out: Any) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        start.wait()
        t0, ids = time.time(), []
        while True:
            with conn.transaction():
                row = conn.execute(
                    "SELECT id FROM floor WHERE status = 'new' ORDER BY id LIMIT 1 "
                    "FOR UPDATE SKIP LOCKED"
                ).fetchone()
                if row is None:
                    break
                conn.execute(
                    "UPDATE floor SET status = 'in_progress', holder = %s WHERE id = %s",
                    (str(os.getpid()), row[0]),
                )
            with conn.transaction():
                conn.execute(
                    "UPDATE floor SET status = 'processed', holder = NULL WHERE id = %s", row
                )
            ids.append(row[0])
    out.put((t0, time.time(), ids))


def sqlite_floor_taker(path: str, start: Any, out: Any) -> None:
    conn = sqlite_connect(path)
    start.wait()
    t0, ids = time.time(), []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT id FROM floor WHERE status = 'new' ORDER BY id LIMIT 1")
        found = row.fetchone()
        if found is None:
            conn.execute("COMMIT")
            break
        conn.execute(
            "UPDATE floor SET status = 'in_progress', holder = ? WHERE id = ?",
            (str(os.getpid()), found[0]),
        )
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE floor SET status = 'processed', holder = NULL WHERE id = ?", found)
        conn.execute("COMMIT")
        ids.append(found[0])
    out.put((t0, time.time(), ids))


def sqlite_connect(path: str) -> sqlite3.Connection:
    """sqlite3 with the engine's settings (WAL, synchronous NORMAL), transactions by hand."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA synchronous=normal")
    return conn


def run_takers(target: Callable[..., None], where: str, n: int) -> float:
    """Start 4 taker processes at once; returns n per second; checks every id taken once."""
    start, out = CTX.Event(), CTX.Queue()
    procs = [CTX.Process(target=target, args=(where, start, out)) for _ in range(TAKERS)]
    for p in procs:
        p.start()
    time.sleep(1.5)  # let them import and connect before the start
    start.set()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(30)
    ids = [i for _, _, taken in results for i in taken]
    if len(ids) != n or len(set(ids)) != n:
        raise RuntimeError(f"{len(ids)} takes of {len(set(ids))} resources, expected {n}")
    return n / (max(r[1] for r in results) - min(r[0] for r in results))


def fill_floor(execute: Callable[[str], Any], n: int, serial: str) -> None:
    execute("DROP TABLE IF EXISTS floor")
    execute(f"CREATE TABLE floor (id {serial} PRIMARY KEY, status TEXT NOT NULL, holder TEXT)")
    execute(f"INSERT INTO floor (status) SELECT 'new' FROM ({series(n, serial)}) AS s")


def series(n: int, serial: str) -> str:
    if serial == "SERIAL":
        return f"SELECT generate_series(1, {n})"
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        f"WHERE x < {n}) SELECT x FROM c"
    )


# -- unlock -> wake ---------------------------------------------------------------------------


def wait_for_unlocks(queue: str, ids: list[int]) -> list[float]:
    """The reader job: for each resource, say it is about to read, then block until it can."""
    from jobengine import current_job

    job = current_job()
    rq = job.engine.resources.queue(queue)
    woke = []
    for n, item_id in enumerate(ids):
        job.progress(0, str(n))
        rq.get(item_id, wait=30)
        woke.append(time.time())
    return woke


def engine_wake(url: str, samples: int, folder: Path) -> list[float]:
    """Unlock -> reader wakes, with the reader in a job of `jobengine run` in its own process."""
    from jobengine import Engine

    client = Engine(url, registry=None)
    rq = client.resources.queue(QUEUE)
    ids = [rq.put({"n": n}).id for n in range(samples)]
    for item_id in ids:
        rq.get(item_id, lock="read")  # a person's read lock: the job's read waits for it
    empty = folder / "no-registry"
    empty.mkdir(exist_ok=True)
    cmd = ["-m", "jobengine", "run", "--db", url, "--registry", str(empty), "--workers", "1"]
    with worker_process(python_cmd(*cmd), folder / "engine.log") as engine:
        job = client.background.execute(f"{READER}:wait_for_unlocks", [QUEUE, ids])
        unlocked = []
        for n, item_id in enumerate(ids):
            while (p := job.progress()) is None or p.text != str(n):
                engine.check_alive()
                time.sleep(0.001)
            time.sleep(0.05)  # the reader is in its wait by now
            unlocked.append(time.time())
            rq.unlock(item_id)
        woke = job.result(timeout=60)
    return [w - u for w, u in zip(woke, unlocked, strict=True)]


def floor_reader(kind: str, where: str, go: Any, done: Any) -> None:
    """The floor's reader: on each go, block on the row lock itself; report when it woke."""
    if kind == "postgresql":
        import psycopg

        conn: Any = psycopg.connect(where, autocommit=True)
        read = "SELECT id FROM floor WHERE id = 1 FOR SHARE"
    else:
        conn = sqlite_connect(where)
        read = "BEGIN IMMEDIATE"
    while go.get(timeout=60) is not None:
        conn.execute(read)
        woke = time.time()
        if kind == "sqlite":
            conn.execute("COMMIT")
        done.put(woke)


def floor_wake(kind: str, where: str, samples: int) -> list[float]:
    """The holder: lock, let the reader block, unlock; the reader's wake-up minus the unlock."""
    if kind == "postgresql":
        import psycopg

        holder: Any = psycopg.connect(where)
        fill_floor(holder.execute, 1, "SERIAL")
        holder.commit()
        lock, unlock = "SELECT id FROM floor WHERE id = 1 FOR UPDATE", holder.commit
    else:
        holder = sqlite_connect(where)
        fill_floor(holder.execute, 1, "INTEGER")
        lock, unlock = "BEGIN IMMEDIATE", lambda: holder.execute("COMMIT")
    go, done = CTX.Queue(), CTX.Queue()
    reader = CTX.Process(target=floor_reader, args=(kind, where, go, done))
    reader.start()
    latencies = []
    for n in range(samples):
        holder.execute(lock)
        go.put(n)
        time.sleep(0.05)  # the reader is blocked by now
        unlocked = time.time()
        unlock()
        latencies.append(done.get(timeout=60) - unlocked)
    go.put(None)
    reader.join(30)
    holder.close()
    return latencies


# -- one store ------------------------------------------------------------------------------


def fresh_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS floor")
        exists = conn.execute("SELECT to_regclass('resource') IS NOT NULL").fetchone()
        if exists and exists[0]:
            conn.execute("TRUNCATE resource_tag, resource")


def measure(kind: str, pg_url: str, n: int, samples: int) -> dict[str, float]:
    """One repeat on one store: both throughputs and both latencies."""
    from jobengine import Engine

    with tempfile.TemporaryDirectory() as tmp:
        url = pg_url if kind == "postgresql" else f"sqlite:///{tmp}/jobs.db"
        floor = pg_url if kind == "postgresql" else f"{tmp}/floor.db"
        if kind == "postgresql":
            fresh_pg(pg_url)
        rq = Engine(url, registry=None).resources.queue(QUEUE)
        for i in range(n):
            rq.put({"n": i})
        out = {"take": run_takers(engine_taker, url, n)}
        if kind == "postgresql":
            import psycopg

            with psycopg.connect(pg_url, autocommit=True) as conn:
                fill_floor(conn.execute, n, "SERIAL")
            out["floor_take"] = run_takers(pg_floor_taker, pg_url, n)
        else:
            fill_floor(sqlite_connect(floor).execute, n, "INTEGER")
            out["floor_take"] = run_takers(sqlite_floor_taker, floor, n)
        out["wake"] = statistics.median(engine_wake(url, samples, Path(tmp)))
        out["floor_wake"] = statistics.median(floor_wake(kind, floor, samples))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="resources taken per run")
    parser.add_argument("--samples", type=int, default=30, help="unlock->wake samples per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--only", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    kinds = args.only.split(",")
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:  # interleaved: load on the machine hits both alike
            runs[kind].append(measure(kind, args.pg_url, args.n, args.samples))
    print(f"resource queues: {TAKERS} takers, n={args.n}, medians of {args.repeats} runs")
    print(
        f"{'store':<11} {'take+finish/s':>14} {'floor/s':>9} {'ratio':>6}"
        f" {'wake ms':>8} {'floor ms':>9}"
    )
    for kind, samples in runs.items():
        med = {k: statistics.median(r[k] for r in samples) for k in samples[0]}
        print(
            f"{kind:<11} {med['take']:>14,.0f} {med['floor_take']:>9,.0f}"
            f" {med['take'] / med['floor_take']:>6.2f} {med['wake'] * 1e3:>8.2f}"
            f" {med['floor_wake'] * 1e3:>9.2f}"
        )


if __name__ == "__main__":
    main()
