"""Two robots share a resource queue with locks; one is killed mid-item and nothing is lost (Robin).

Run: python -m examples.robin

Each robot is a background job. `take()` gives it the next free invoice, in progress and locked
by that job, so the robots never process one invoice twice. Robot B hangs on its second invoice
and its worker process is killed with SIGKILL: the engine ends the job FAILED and, in the same
transaction, releases its locks and puts its unfinished invoice back to new, where robot A finds
it and processes it.
"""

from __future__ import annotations

import os
import signal
import time

from jobengine import Engine, ResourceStatus, current_job

QUEUE = "invoices"
INVOICES = 8


def robot(name: str, hang_on: int | None = None) -> list[int]:
    """Process invoices until none is new or in progress; hang on the `hang_on`-th one."""
    rq = current_job().engine.resources.queue(QUEUE)
    done: list[int] = []
    while True:
        item = rq.take(lock="write")  # others may still see it, but not change it
        if item is None:
            if not rq.find(status="new") and not rq.find(status="in_progress"):
                return done
            time.sleep(1.0)  # another robot holds the rest: look again in a while
            continue
        if len(done) + 1 == hang_on:
            current_job().progress(50, f"stuck on invoice #{item.value['n']}")
            time.sleep(1000)
        time.sleep(0.2)  # the work
        rq.update(item.id, value={**item.value, "by": name})
        rq.finish(item.id, "processed")
        done.append(item.value["n"])


def main() -> None:
    with Engine("sqlite:///examples.db", workers=2) as engine:
        rq = engine.resources.queue(QUEUE)
        for old in rq.find(limit=None):  # a person (this script) may delete any resource
            rq.delete(old.id)
        ids = {rq.put({"n": n}, tags=["invoice"]).id: n for n in range(INVOICES)}
        print(f"put {INVOICES} invoices in queue {QUEUE!r}")
        a = engine.background.execute(robot, ["robot A"])
        b = engine.background.execute(robot, ["robot B"], kwargs={"hang_on": 2})
        while (p := b.progress()) is None:
            time.sleep(0.05)
        held = [(i, i.write_lock) for i in rq.find(status="in_progress")]
        stuck = next(i for i, lock in held if lock is not None and lock.holder == b.uuid)
        print(f"robot B is {p.text}: {stuck.status.value}, write-locked by robot B")

        os.kill(int(b.location.rpartition(":")[2]), signal.SIGKILL)
        b.wait(timeout=30)
        print(f"killed robot B's worker (kill -9): robot B {b.state.value}")
        again = rq.get(stuck.id)
        assert again is not None
        locked = "locked" if again.read_lock or again.write_lock else "unlocked"
        print(f"invoice #{ids[stuck.id]} is {again.status.value} again, {locked}")

        by_a = a.result(timeout=60)
        print(f"robot A processed {len(by_a)} invoices, #{ids[stuck.id]} among them")
        items = sorted(rq.find(limit=None), key=lambda i: i.value["n"])
        for item in items:
            print(f"invoice #{item.value['n']}: {item.status.value} by {item.value.get('by')}")
        processed = [i for i in items if i.status is ResourceStatus.PROCESSED]
        once = len({i.value["n"] for i in processed}) == len(processed)
        print(
            f"nothing lost: {len(processed)} of {INVOICES} processed"
            + (", each once" if once else ", SOME TWICE")
        )


if __name__ == "__main__":
    main()
