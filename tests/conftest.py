"""Shared fixtures: store URLs for the SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from jobengine.store.schema import TABLES

PG_URL = os.environ.get("JOBENGINE_TEST_PG_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reset_pg(url: str) -> None:
    """Drop the engine's tables so each test starts from an empty schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")


def pg_url_or_skip() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("JOBENGINE_TEST_PG_URL is not set, and PostgreSQL tests must run in CI")
        pytest.skip("PostgreSQL tests need JOBENGINE_TEST_PG_URL")
    reset_pg(PG_URL)
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield pg_url_or_skip()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The same test on an SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.db"
    else:
        yield pg_url_or_skip()
