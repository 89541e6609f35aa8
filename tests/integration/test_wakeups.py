"""Wake-ups are hints: forged or malformed ones are never believed and never fatal."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading

import pytest

from jobengine import Engine, JobState
from tests.conftest import pg_url_or_skip
from tests.integration.conftest import MakeEngine

GARBAGE = [b"", b"\xff\xfe\x00", b"d", b"d not-a-uuid", b"n soon", b"c", b"x" * 60000]


def _folder(engine: Engine) -> str:
    engine.hub.ensure_listening()
    folder = getattr(engine.store.notifier, "folder", None)
    assert isinstance(folder, str)
    return folder


def _send_all(folder: str, payloads: list[bytes]) -> None:
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for name in os.listdir(folder):
            for data in payloads:
                with contextlib.suppress(OSError):
                    out.sendto(data, os.path.join(folder, name))
    finally:
        out.close()


def _listeners_alive() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "jobengine-listener")


def test_wake_up_sockets_live_in_a_folder_only_this_user_can_enter(sqlite_url: str) -> None:
    engine = Engine(sqlite_url)
    try:
        folder = _folder(engine)
        top = os.path.dirname(folder)
        assert stat.S_IMODE(os.stat(top).st_mode) == 0o700
        assert os.stat(top).st_uid == os.getuid()
        entries = os.listdir(folder)
        assert entries and all(
            stat.S_ISSOCK(os.stat(os.path.join(folder, e)).st_mode) for e in entries
        )
    finally:
        engine.close()


def test_malformed_datagrams_leave_wake_ups_working(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    worker = make_engine(sqlite_url)
    client = make_engine(sqlite_url, start=False)
    folder = _folder(client)
    before = _listeners_alive()
    _send_all(folder, GARBAGE)
    job = client.background.execute("tests.integration.jobs:add", args=[2, 40])
    assert job.result(timeout=10) == 42
    assert _listeners_alive() == before
    assert worker.started


def test_forged_done_datagram_does_not_end_a_wait(sqlite_url: str) -> None:
    client = Engine(sqlite_url)  # nobody runs the job: it stays ACTIVE
    try:
        job = client.background.execute("tests.integration.jobs:add", args=[1, 1])
        folder = _folder(client)
        _send_all(folder, [f"d {job.uuid}".encode()])
        client.hub.ended([job.uuid])  # as the listener would route it
        assert job.wait(timeout=0.5) is False
        with pytest.raises(TimeoutError):
            job.result(timeout=0.3)
        assert job.refresh().state is JobState.ACTIVE
    finally:
        client.close()


@pytest.mark.pg
def test_empty_and_forged_notify_payloads_are_ignored_on_postgresql(
    make_engine: MakeEngine,
) -> None:
    import psycopg

    url = pg_url_or_skip()
    make_engine(url, queues=["default"])  # nobody serves the queue "nobody"
    client = make_engine(url, start=False)
    client.hub.ensure_listening()
    with psycopg.connect(url, autocommit=True) as conn:
        for payload in ["", "d", "d 123", "n x", "c", "\x01"]:
            conn.execute("SELECT pg_notify('jobengine', %s)", (payload,))
    job = client.background.execute("tests.integration.jobs:add", args=[2, 40])
    assert job.result(timeout=10) == 42
    idle = Engine(url)
    try:
        stuck = idle.background.execute(
            "tests.integration.jobs:sleep_for", args=[0.0], queue="nobody"
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('jobengine', %s)", (f"d {stuck.uuid}",))
        assert stuck.wait(timeout=0.5) is False
        assert stuck.refresh().state is JobState.ACTIVE
    finally:
        idle.close()
