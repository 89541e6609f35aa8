"""Store verbs on their own: single `insert` against `insert_many`, and `purge` with nothing to do.

    python bench/bench_store.py [--url sqlite:///... | postgresql://...] [--n 5000] [--repeats 3]

Each repeat starts from an empty schema (a fresh SQLite file, or the PostgreSQL tables
dropped), inserts n keyless jobs one `insert` call at a time, then n jobs with one
`insert_many`, then n jobs in one `insert_many` where every tenth job has one of ten keys
(queued behind each other); the median rate over the repeats is printed. The purge line is
the median time of a `purge` call over a store holding `max_finished` finished jobs and 3n
active ones, when there is nothing to remove (on PostgreSQL after ANALYZE, as autovacuum
would have run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jobengine` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobengine.store import Batch, Finish, NewJob, Store
from jobengine.store.schema import TABLES

NOW = 1_700_000_000_000


def new_jobs(n: int, keyed: bool = False) -> list[NewJob]:
    return [
        NewJob(
            uuid=str(uuid.uuid4()),
            method="bench.tasks:noop",
            args=f"[{i}]",
            kwargs="{}",
            begin_ms=NOW,
            run_after_ms=NOW,
            key=f"group-{i % 10}" if keyed and i % 10 == 0 else "",
        )
        for i in range(n)
    ]


def fresh_store(url: str | None, folder: str, i: int) -> Store:
    if url is None:
        return Store(f"sqlite:///{folder}/bench-{i}.db")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return Store(url)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def one_repeat(store: Store, n: int) -> dict[str, float]:
    singles, batch, keyed = new_jobs(n), new_jobs(n), new_jobs(n, keyed=True)
    out = {
        "insert (one call per job)": n / timed(lambda: [store.jobs.insert(j) for j in singles]),
        "insert_many (keyless)": n / timed(lambda: store.jobs.insert_many(batch)),
        "insert_many (10% keyed, queue)": n
        / timed(lambda: store.jobs.insert_many(keyed, on_conflict="queue")),
    }
    out["purge, nothing to remove (us)"] = purge_idle_us(store, 1000)
    return out


def purge_idle_us(store: Store, max_finished: int) -> float:
    done = new_jobs(max_finished)
    store.jobs.insert_many(done)
    store.jobs.record(Batch(finishes=[Finish(j.uuid, "COMPLETED", NOW + 1) for j in done]))
    store.jobs.purge(NOW, 86_400_000, max_finished)
    if store.target.kind == "postgresql":
        # The steady state autovacuum keeps: planner statistics that know the table. (Right
        # after a bulk insert they do not, and PostgreSQL may scan the table instead.)
        store.db.execute_sql("ANALYZE background_job")
    times = [timed(lambda: store.jobs.purge(NOW, 86_400_000, max_finished)) for _ in range(200)]
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("BENCH_PG_URL"))
    parser.add_argument("--sqlite", action="store_true", help="ignore --url, use SQLite")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    url = None if args.sqlite else args.url
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.repeats):
            store = fresh_store(url, folder, i)
            try:
                runs.append(one_repeat(store, args.n))
            finally:
                store.close()
    print(f"store: {'sqlite' if url is None else 'postgresql'}  n={args.n}  median of {len(runs)}")
    base = statistics.median(r["insert (one call per job)"] for r in runs)
    for name in runs[0]:
        value = statistics.median(r[name] for r in runs)
        ratio = f"  x{value / base:.1f}" if name.startswith("insert") else ""
        unit = "" if name.endswith("(us)") else " jobs/s"
        print(f"  {name:34s} {value:12,.0f}{unit}{ratio}")


if __name__ == "__main__":
    main()
