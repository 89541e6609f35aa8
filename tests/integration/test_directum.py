"""Directum RX's grouped processing with real workers: a scheduled receiver fetches at most 1000
messages per run and starts one job per document (key = root id, queued behind a running one).

Each document's messages are handled in sequence order, one after another; no message twice;
documents side by side with several workers, and across engines on one PostgreSQL store.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from examples.directum import duplicates, most_at_once, out_of_order, post_documents
from examples.exchange import Exchange, Handled
from jobengine import Engine
from tests.integration.conftest import MakeEngine
from tests.integration.support import Procs, wait_until

pytestmark = pytest.mark.timeout(180)

REGISTRY = """\
scheduled_jobs:
  ExchangeReceive:
    method: examples.directum:receive_messages
    key: exchange-receive
    use: true
    schedule: {days_repeat_period: 1, repeat_period_in_day: 1}
"""


def start_receiver(engine: Engine, folder: Path) -> None:
    job = engine.scheduled.create("ExchangeReceive")
    job.params = [1000, str(folder)]
    job.save()  # due at once, then every second


def handled_all(exchange: Exchange, expected: int) -> list[Handled]:
    wait_until(
        lambda: len(exchange.handled()) >= expected,
        timeout_s=120,
        what=f"{expected} messages handled",
    )
    return exchange.handled()


def fetched_per_run(engine: Engine) -> list[int]:
    (receiver,) = engine.scheduled.get(metadata="ExchangeReceive")
    runs = [run for run in reversed(receiver.history()) if run.is_finished]
    return [run.result()["fetched"] for run in runs]


def assert_each_document_in_order_once(exchange: Exchange, handled: list[Handled]) -> None:
    assert duplicates(handled) == []
    assert out_of_order(handled) == []
    per_document = Counter(h.root_id for h in handled)
    posted = Counter(m.root_id for m in exchange.messages())
    assert per_document == posted  # every message of every document, none left behind


def test_receiver_fetches_at_most_1000_per_run_and_documents_run_in_parallel_in_order(
    store_url: str, make_engine: MakeEngine, tmp_path: Path
) -> None:
    exchange = Exchange(tmp_path)
    exchange.set_download_time(0.003)
    post_documents(exchange, 90, 1800)
    registry = tmp_path / "exchange.yaml"
    registry.write_text(REGISTRY)
    engine = make_engine(store_url, registry=str(registry), workers=3)
    start_receiver(engine, tmp_path)

    handled = handled_all(exchange, 1800)
    assert_each_document_in_order_once(exchange, handled)
    fetched = [n for n in fetched_per_run(engine) if n]
    assert fetched == [1000, 800]  # the cap per run; the rest waits for the next run
    assert most_at_once(handled) >= 2  # several documents at the same moment
    handlers = engine.background.get(method="examples.directum:process_messages")
    assert len({j.key for j in handlers}) == 90  # one key per document
    assert len(handlers) > 90  # documents split across two runs queued behind themselves


@pytest.mark.pg
def test_two_engines_on_postgresql_share_the_documents(
    pg_url: str, make_engine: MakeEngine, procs: Procs, tmp_path: Path
) -> None:
    exchange = Exchange(tmp_path)
    exchange.set_download_time(0.01)
    post_documents(exchange, 40, 400)
    other = procs.run_engine(pg_url, workers=2)  # a second host
    registry = tmp_path / "exchange.yaml"
    registry.write_text(REGISTRY)
    engine = make_engine(pg_url, registry=str(registry), workers=2)
    start_receiver(engine, tmp_path)

    handled = handled_all(exchange, 400)
    assert_each_document_in_order_once(exchange, handled)
    engines = {engine_pid(h.pid) for h in handled}
    assert engines == {other.pid, os.getpid()}
    assert most_at_once(handled) >= 2


def engine_pid(worker_pid: int) -> int:
    """The engine process of a worker: the parent of its fork server."""
    return parent(parent(worker_pid))


def parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])
