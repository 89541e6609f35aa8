"""A client process for the key-conflict race: `python -m tests.integration.race_client ...`.

Each round it says it is ready (a file), spins until the test's "go" file appears, then
executes `tests.integration.jobs:echo` with the round's key, and appends the outcome to its
result file as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jobengine import Engine
from jobengine.errors import JobKeyConflict


def race(url: str, folder: Path, name: str, rounds: int) -> None:
    engine = Engine(url, registry=None)  # a client: never started
    try:
        engine.background.get(limit=1)  # connect before the first round
        with (folder / f"result-{name}.jsonl").open("a") as results:
            for r in range(rounds):
                (folder / f"ready-{name}-{r}").touch()
                go = folder / f"go-{r}"
                while not go.exists():
                    time.sleep(0.0001)
                try:
                    job = engine.background.execute(
                        "tests.integration.jobs:echo", [name], key=f"round-{r}"
                    )
                    outcome = {"round": r, "outcome": "ok", "uuid": job.uuid}
                except JobKeyConflict as exc:
                    outcome = {"round": r, "outcome": "conflict", "uuid": exc.running_uuid}
                results.write(json.dumps(outcome) + "\n")
                results.flush()
    finally:
        engine.close()


if __name__ == "__main__":
    race(sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
