"""A started engine never runs a method its policy refuses, even one written straight into
the store past `execute`: the job ends FAILED with a MethodError and the function never runs.

Each test runs on an SQLite file and on the real PostgreSQL server (`store_url`).
"""

from __future__ import annotations

import uuid as uuidlib
from pathlib import Path

import pytest

from jobengine import JobState, codec
from jobengine.clock import to_ms
from jobengine.engine import Engine
from jobengine.store import NewJob
from tests.integration.conftest import MakeEngine
from tests.integration.support import wait_until

pytestmark = pytest.mark.timeout(60)


def insert_raw(engine: Engine, method: str, args: list[object]) -> str:
    """Write a job into the store as a forged client would, bypassing `execute`'s checks."""
    now_ms = to_ms(engine.clock.now())
    uuid = str(uuidlib.uuid4())
    engine.store.jobs.insert(
        NewJob(
            uuid=uuid,
            method=method,
            args=codec.dumps(args),
            kwargs="{}",
            begin_ms=now_ms,
            run_after_ms=now_ms,
        )
    )
    engine.announcer.new(None)
    return uuid


@pytest.mark.parametrize(
    ("allowed", "method"),
    [
        (None, "tests.integration.jobs:os.system"),  # dotted walk out of a project module
        (None, "os:system"),  # the standard library, no allow-list
        (None, "tests.integration.jobs:subprocess.getoutput"),
        (["tests"], "tests.integration.jobs:os.system"),  # dotted walk out of an allowed module
        (["tests"], "os:system"),
    ],
)
def test_a_forged_method_in_the_store_is_not_run(
    store_url: str, make_engine: MakeEngine, tmp_path: Path, allowed: list[str] | None, method: str
) -> None:
    marker = tmp_path / "ran"
    engine = make_engine(store_url, workers=1, allowed_modules=allowed)
    uuid = insert_raw(engine, method, [f"touch {marker}"])
    control = engine.background.execute("tests.integration.jobs:add", [2, 40])

    assert control.result(timeout=30) == 42
    job = wait_until(
        lambda: (j := engine.background.find(uuid)) is not None and j.is_finished and j,
        what=f"{method} to end",
    )
    assert job.state is JobState.FAILED
    assert job.error is not None and "MethodError" in job.error.type
    assert repr(method) in job.error.message or method in job.error.message
    assert not marker.exists()
