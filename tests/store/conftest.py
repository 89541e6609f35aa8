"""What every store test shares: a store on each backend, and jobs to put in it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest

from jobengine.store import NewJob, Store

NOW = 1_700_000_000_000


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def new_job(**kw: object) -> NewJob:
    """A job for `tests.integration.jobs:add` at NOW; keywords override any field."""
    values: dict[str, object] = {
        "uuid": str(uuid.uuid4()),
        "method": "tests.integration.jobs:add",
        "args": "[1, 2]",
        "kwargs": "{}",
        "begin_ms": NOW,
        "run_after_ms": NOW,
    }
    values.update(kw)
    return NewJob(**values)  # type: ignore[arg-type]


def run_per_store(work: Callable[[Store], None], stores: Sequence[Store]) -> list[BaseException]:
    """Run `work` on each store in a thread of its own, all at once; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(store: Store) -> None:
        try:
            barrier.wait()
            work(store)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
