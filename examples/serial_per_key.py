"""Runs of one scenario one after another, different scenarios in parallel (Bpium's queue).

Run: python -m examples.serial_per_key

`key=` makes at most one job per (method, key) active; `on_conflict="queue"` lines the others up
behind it in arrival order instead of refusing them. A failed run is retried up to 5 times.
"""

from __future__ import annotations

import time

from jobengine import Engine, Retry, current_job


def run_scenario(scenario: str, payload: dict[str, int]) -> str:
    """One run: it reports its start count (attempt) and takes a little time."""
    time.sleep(0.05)
    return f"{scenario} #{payload['n']} (attempt {current_job().attempt})"


def main() -> None:
    with Engine("sqlite:///examples.db", workers=2) as engine:
        jobs = [
            engine.background.execute(
                run_scenario,
                [scenario, {"n": n}],
                key=scenario,
                on_conflict="queue",
                retry=Retry(count=5, interval=1),
            )
            for n in range(3)
            for scenario in ("invoices", "emails")
        ]
        engine.background.wait(jobs)
        for job in sorted(jobs, key=lambda j: (j.key, j.started or j.begin)):
            print(f"{job.key:9} {job.started:%H:%M:%S.%f} {job.result()}")


if __name__ == "__main__":
    main()
