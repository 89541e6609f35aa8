"""A store the caller may only read still opens: clients list and show its jobs."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from click.testing import CliRunner

from jobengine import Engine
from jobengine.cli import cli
from jobengine.errors import StoreError

ADD = "tests.integration.jobs:add"


def seed(url: str) -> str:
    """One job in a store with a current schema; returns its uuid."""
    engine = Engine(url)
    try:
        return engine.background.execute(ADD, args=[1, 2], key="k").uuid
    finally:
        engine.close()


def assert_clients_read(url: str, uuid: str) -> None:
    engine = Engine(url)
    try:
        assert [j.uuid for j in engine.background.get()] == [uuid]
        assert engine.background.find(uuid) is not None
    finally:
        engine.close()
    runner = CliRunner()
    listed = runner.invoke(cli, ["jobs", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert uuid in listed.stdout
    shown = runner.invoke(cli, ["show", uuid, "--db", url])
    assert shown.exit_code == 0, shown.output
    assert ADD in shown.stdout


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)  # so pytest can remove it


def test_a_read_only_sqlite_file_can_be_listed(read_only_folder: Path) -> None:
    path = read_only_folder / "jobs.db"
    uuid = seed(f"sqlite:///{path}")
    path.chmod(0o444)
    read_only_folder.chmod(0o555)
    before = path.read_bytes()
    # Modes do not stop root (the tests may run as root): mode=ro makes SQLite refuse writes.
    assert_clients_read(f"sqlite:///{path}?mode=ro", uuid)
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_read_only_sqlite_url_refuses_writes_with_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    seed(f"sqlite:///{path}")
    engine = Engine(f"sqlite:///{path}?mode=ro")
    try:
        with pytest.raises(StoreError, match="readonly"):
            engine.background.execute(ADD, args=[1, 2])
    finally:
        engine.close()


def test_an_sqlite_url_with_another_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="mode=ro"):
        Engine(f"sqlite:///{tmp_path}/jobs.db?mode=rwc")


@pytest.mark.pg
def test_a_read_only_postgresql_role_can_list(pg_url: str) -> None:
    import psycopg

    uuid = seed(pg_url)
    parts = urlparse(pg_url)
    role = f"{parts.path.lstrip('/')}_ro"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    host = parts.netloc.rpartition("@")[2]
    ro_url = urlunparse(parts._replace(netloc=f"{role}@{host}"))
    assert_clients_read(ro_url, uuid)
