"""A burst of scenario runs: one scenario's runs one after another, scenarios in parallel (Bpium).

Run: python -m examples.bpium

Bpium queues the runs of an automation scenario: a run starts only when no earlier run of the same
scenario is waiting or running, and a run that ends with an error is started again, up to 5
times. Here each run is a background job with `key=` the scenario id and `on_conflict="queue"`
(the runs of one scenario line up in arrival order) and `retry=Retry(count=5, ...)`. A run
waiting for its retry stays ACTIVE and keeps the key, so the next run of its scenario waits for
it; `current_job().attempt` is Bpium's start count, and `job.attempts` keeps every error.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from jobengine import Engine, Retry, current_job

SCENARIOS = {  # scenario id: how many times each run's API call fails before it works
    "sync-invoices": [0, 2, 0, 0],
    "import-leads": [0, 0, 6, 0],  # run 2 fails every attempt: 1 start + 5 retries
}


class ApiOverloaded(Exception):
    """What the scenario's API answers while it is overloaded."""


def run_scenario(scenario: str, payload: dict[str, Any]) -> str:
    """One run of a scenario with its JSON payload; fails `payload["fails"]` times."""
    attempt = current_job().attempt  # Bpium's "number of starts"
    time.sleep(0.15)  # the scenario's work
    if attempt <= payload["fails"]:
        raise ApiOverloaded("API answered 429 Too Many Requests")
    return f"done on start {attempt}"


def main() -> None:
    with Engine("sqlite:///bpium.db", workers=2) as engine:
        runs = [  # the burst: every run of every scenario launched at once
            engine.background.execute(
                run_scenario,
                [scenario, {"run": n, "fails": fails}],
                key=scenario,
                on_conflict="queue",
                retry=Retry(count=5, interval=0.05),
            )
            for n in range(4)
            for scenario, plan in SCENARIOS.items()
            for fails in [plan[n]]
        ]
        engine.background.wait(runs)
    for scenario in SCENARIOS:
        mine = [j for j in runs if j.key == scenario]
        for job in sorted(mine, key=first_start):
            run = job.args[1]["run"]
            print(f"{scenario} run {run}: {job.state.value} after {job.attempt} starts")
            for attempt in job.attempts:  # every start that failed, and the one that worked
                print(f"  {attempt}")
        serial = all(first_start(b) >= a.end for a, b in itertools.pairwise(mine))
        print(f"{scenario}: runs one after another: {serial}")
    a, b = ([j for j in runs if j.key == s] for s in SCENARIOS)
    overlap = any(first_start(x) < y.end and first_start(y) < x.end for x in a for y in b)
    print(f"the two scenarios ran in parallel: {overlap}")


def first_start(job: Any) -> Any:
    """When the run's first start began (its attempts keep the earlier ones)."""
    return job.attempts[0].start if job.attempts else job.started


if __name__ == "__main__":
    main()
