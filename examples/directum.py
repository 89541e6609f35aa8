"""Periodic fetch and grouped parallel processing (Directum RX's exchange receiver).

Run: python -m examples.directum

A scheduled job fetches at most 1000 light messages per run from the exchange service
(examples/exchange.py) and launches one background job per document: key = the document's
root message id, `on_conflict="queue"`. Different documents run in parallel, one per worker;
the messages of one document run in order, in one job at a time, even when a later fetch brings
more of them (that job queues behind the running one). More workers, or more engines on one
PostgreSQL store, handle more documents at once.

The demo registry (schedules/demo.yaml) declares it as `ExchangeReceive`, every 60 seconds. The
demo declares it every second on a temporary SQLite file: it posts 2500 messages of 200
documents, lets the scheduler fetch them, and prints each run's fetch, the order and the overlap
of the handlers; then it times 16 documents handled by 1 worker and by 4 workers.
"""

from __future__ import annotations

import itertools
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from examples.exchange import EXCHANGE_DIR, Exchange, Handled
from jobengine import Engine, current_job

BATCH = 1000  # light messages per run (the seed: up to 1000 per mailbox per session)

REGISTRY = """\
allowed_modules: [examples]
scheduled_jobs:
  ExchangeReceive:
    method: examples.directum:receive_messages
    description: Receive messages from the exchange service
    key: exchange-receive
    use: true
    predefined: true
    schedule:
      days_repeat_period: 1
      repeat_period_in_day: 1
"""


def receive_messages(limit: int = BATCH, folder: str | None = None) -> dict[str, int]:
    """The scheduled job: fetch up to `limit` light messages, one handler job per document.

    `folder` names the exchange's folder (default: JOBENGINE_EXCHANGE_DIR, else a temp folder).

    The handlers are written in one batch, then the messages are acknowledged: a run that dies
    in between fetches them again next time, and the handlers skip what was handled already.
    """
    job = current_job()
    exchange = Exchange.open(folder)
    try:
        light = exchange.fetch(limit)
        groups: dict[str, list[int]] = {}
        for message in light:  # in arrival order, so each group is in sequence order
            groups.setdefault(message.root_id, []).append(message.id)
        with job.engine.background.batch() as batch:
            for root_id, ids in groups.items():
                batch.execute(
                    process_messages,
                    [root_id, ids, folder],
                    key=root_id,
                    on_conflict="queue",
                    description=f"messages of document {root_id}",
                )
        exchange.acknowledge([m.id for m in light])
    finally:
        exchange.close()
    job.message(f"fetched {len(light)} messages of {len(groups)} documents")
    return {"fetched": len(light), "groups": len(groups)}


def process_messages(root_id: str, message_ids: list[int], folder: str | None = None) -> int:
    """One document's handler: download and record its messages one after another.

    Returns:
        How many messages it handled (a message handled before is skipped).
    """
    job = current_job()
    exchange = Exchange.open(folder)
    handled = 0
    try:
        for message_id in message_ids:
            if exchange.is_handled(message_id):
                continue
            start_s = time.time()
            message = exchange.download(message_id)  # the heavy part: content, signatures
            exchange.record(
                Handled(
                    message.id, root_id, message.seq, job.uuid, os.getpid(), start_s, time.time()
                )
            )
            handled += 1
    finally:
        exchange.close()
    return handled


# -- checks over what the handlers recorded (the demo and the tests use them) -----------------


def out_of_order(handled: Sequence[Handled]) -> list[str]:
    """The documents whose messages were not handled in sequence order, one after another."""
    by_root: dict[str, list[Handled]] = {}
    for h in sorted(handled, key=lambda h: h.start_s):
        by_root.setdefault(h.root_id, []).append(h)
    bad = []
    for root_id, items in by_root.items():
        in_order = [h.seq for h in items] == sorted(h.seq for h in items)
        serial = all(a.end_s <= b.start_s for a, b in itertools.pairwise(items))
        if not (in_order and serial):
            bad.append(root_id)
    return bad


def duplicates(handled: Sequence[Handled]) -> list[int]:
    """Messages handled more than once."""
    seen: set[int] = set()
    return sorted({h.message_id for h in handled if h.message_id in seen or seen.add(h.message_id)})


def most_at_once(handled: Sequence[Handled]) -> int:
    """The most documents handled at the same moment (a handler works on one message at a
    time, so overlapping messages are overlapping documents)."""
    edges = sorted([(h.start_s, 1) for h in handled] + [(h.end_s, -1) for h in handled])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


# -- the demo ---------------------------------------------------------------------------------


def post_documents(exchange: Exchange, documents: int, messages: int, *, seed: int = 1) -> None:
    """Post `messages` messages of `documents` documents, interleaved as they would come."""
    rng = random.Random(seed)
    roots = [f"doc-{d:03}" for d in range(documents)]
    senders = ["Metinvest", "TechnoService"]
    exchange.post((rng.choice(roots), rng.choice(senders)) for _ in range(messages))


def receive_all(engine: Engine, exchange: Exchange, expected: int) -> list[Handled]:
    """Wait until the receiver and its handlers, on a started engine, handled `expected`
    messages; returns what the handlers recorded."""
    deadline = time.monotonic() + 90
    while len(handled := exchange.handled()) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return handled


def fetch_runs(engine: Engine) -> list[dict[str, int]]:
    """The receiver's finished runs that fetched something, oldest first."""
    (receiver,) = engine.scheduled.get(metadata="ExchangeReceive")
    runs = [run.result() for run in reversed(receiver.history()) if run.is_finished]
    return [r for r in runs if r["fetched"]]


def timed(engine: Engine, exchange: Exchange) -> str:
    """Hand 80 messages of 16 documents (20 ms each) to a warm engine; say how it went."""
    exchange.clear()
    exchange.set_download_time(0.02)
    post_documents(exchange, 16, 80, seed=2)
    handled = receive_all(engine, exchange, 80)
    span = max(h.end_s for h in handled) - min(h.start_s for h in handled)
    workers = f"{engine.workers} worker{'s' if engine.workers > 1 else ''}"
    return (
        f"{workers}: 16 documents (80 messages) in {span:.2f} s, "
        f"up to {most_at_once(handled)} at once, {len(out_of_order(handled))} out of order"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[EXCHANGE_DIR] = tmp  # the workers inherit it
        registry = Path(tmp, "exchange.yaml")
        registry.write_text(REGISTRY)
        exchange = Exchange(tmp)
        exchange.set_download_time(0.002)
        post_documents(exchange, 200, 2500)
        print("posted 2500 messages of 200 documents")
        with Engine(f"sqlite:///{tmp}/jobs4.db", registry=str(registry), workers=4) as engine:
            handled = receive_all(engine, exchange, 2500)
            for n, run in enumerate(fetch_runs(engine), 1):
                print(f"run {n}: fetched {run['fetched']} messages of {run['groups']} documents")
            print(
                f"handled {len(handled)} messages: {len(duplicates(handled))} twice, "
                f"{len(out_of_order(handled))} documents out of order, "
                f"up to {most_at_once(handled)} documents at once"
            )
            four = timed(engine, exchange)  # its workers are warm by now
        with Engine(f"sqlite:///{tmp}/jobs1.db", registry=str(registry), workers=1) as engine:
            print(timed(engine, exchange))
        print(four)
        exchange.close()


if __name__ == "__main__":
    main()
