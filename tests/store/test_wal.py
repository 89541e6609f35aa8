"""SQLite upkeep of a store: checkpoints that empty the -wal file, and a file that goes away."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from jobengine.checkpoint import Checkpointer
from jobengine.errors import StoreError, StoreLostError
from jobengine.store import NewJob, Store

NOW = 1_700_000_000_000


def new_job() -> NewJob:
    return NewJob(
        uuid=str(uuid.uuid4()),
        method="tests.integration.jobs:add",
        args="[1, 2]",
        kwargs="{}",
        begin_ms=NOW,
        run_after_ms=NOW,
    )


def wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


def test_a_truncating_checkpoint_empties_the_wal_file(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.jobs.insert_many([new_job() for _ in range(200)])
        passive = store.checkpoint()
        assert passive.finished and passive.frames > 0
        assert store.wal_bytes() == wal_bytes(path) > 0
        assert store.checkpoint(truncate=True).finished
        assert wal_bytes(path) == 0
        assert len(store.jobs.select()) == 200
    finally:
        store.close()


def test_the_checkpointer_truncates_once_the_store_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    writer = Store(f"sqlite:///{path}")
    store = Store(f"sqlite:///{path}")
    lost: list[StoreLostError] = []
    checkpointer = Checkpointer(store, lost.append, idle_s=5.0)
    try:
        writer.jobs.insert_many([new_job() for _ in range(2000)])
        assert checkpointer.step(0.0)
        writer.engines.register("e1", "h", 1, NOW)  # a heartbeat-sized write keeps it quiet
        assert checkpointer.step(3.0)
        assert wal_bytes(path) > 0  # a passive checkpoint leaves the file as it is
        writer.jobs.insert_many([new_job() for _ in range(2000)])
        assert checkpointer.step(4.0)  # a burst: quiet again from now
        assert checkpointer.step(8.9)
        assert wal_bytes(path) > 0
        assert checkpointer.step(9.0)
        assert wal_bytes(path) == 0
        assert lost == []
    finally:
        writer.close()
        store.close()


def test_the_checkpointer_reports_a_deleted_file_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = Store(f"sqlite:///{path}")
    lost: list[StoreLostError] = []
    try:
        checkpointer = Checkpointer(store, lost.append)
        assert checkpointer.step(0.0)
        for leftover in tmp_path.iterdir():
            leftover.unlink()
        assert not checkpointer.step(1.0)
        assert [e.path for e in lost] == [str(path)]
        assert "was deleted" in str(lost[0])
    finally:
        store.close()


def test_a_replaced_file_is_lost_too(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.check_file()
        os.rename(path, tmp_path / "old.db")
        Store(f"sqlite:///{path}").close()  # a new file at the same path
        with pytest.raises(StoreLostError, match="replaced"):
            store.check_file()
    finally:
        store.close()


def test_a_thread_connecting_after_the_file_went_does_not_create_it_again(
    tmp_path: Path,
) -> None:
    import threading

    path = tmp_path / "jobs.db"
    store = Store(f"sqlite:///{path}")
    errors: list[BaseException] = []

    def read() -> None:
        try:
            store.jobs.select()
        except StoreError as exc:
            errors.append(exc)

    try:
        for leftover in tmp_path.iterdir():
            leftover.unlink()
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        assert len(errors) == 1
        assert not path.exists()
    finally:
        store.close()
