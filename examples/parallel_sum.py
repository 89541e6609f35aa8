"""1C's parallel computation: a job splits its work into child jobs and waits on them.

Run: python -m examples.parallel_sum   (an engine with 2 workers on ./examples.db)

The parent waits while its children run; waiting lends its worker slot, so this works even
with a single worker.
"""

from __future__ import annotations

from jobengine import Engine, current_job


def sum_range(start: int, stop: int) -> int:
    """One child: the sum of one slice."""
    return sum(range(start, stop))


def parallel_sum(n: int, parts: int) -> int:
    """The parent: split 0..n into `parts` children, wait for all, add their results."""
    job = current_job()
    engine = job.engine
    step = -(-n // parts)
    children = [
        engine.background.execute(sum_range, [i, min(i + step, n)], description=f"slice {i}")
        for i in range(0, n, step)
    ]
    job.message(f"launched {len(children)} children")
    engine.background.wait(children)
    return sum(child.result() for child in children)


def main() -> None:
    with Engine("sqlite:///examples.db", workers=2) as engine:
        job = engine.background.execute(parallel_sum, [1_000_000, 4])
        print(job.result(timeout=60), job.messages())


if __name__ == "__main__":
    main()
