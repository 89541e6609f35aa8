"""The engine outlives its database connections: a server that drops them is reconnected."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.conftest import MakeEngine

pytestmark = [pytest.mark.pg, pytest.mark.timeout(60)]


def drop_other_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_jobs_run_after_the_server_dropped_every_connection(
    pg_url: str, make_engine: MakeEngine
) -> None:
    engine = make_engine(pg_url)
    assert engine.background.execute("tests.integration.jobs:add", [1, 2]).result(timeout=20) == 3
    assert drop_other_connections(pg_url) >= 2  # the engine's own and its LISTEN connection
    # execute notices the dead connection, opens a new one and stores the job once.
    job = engine.background.execute("tests.integration.jobs:add", [3, 4])
    assert job.result(timeout=20) == 7
    assert len(engine.background.get(method="tests.integration.jobs:add")) == 2
    # Waiting across processes still wakes: the LISTEN connection came back.
    again = engine.background.execute("tests.integration.jobs:add", [5, 6])
    assert again.result(timeout=20) == 11
