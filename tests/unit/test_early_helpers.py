"""`pool.early.start_helpers` forks nothing in a process that already runs threads."""

from __future__ import annotations

import os
import threading

import pytest

from jobengine.pool import early


def test_no_fork_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    forks: list[int] = []
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or 0)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert early.start_helpers() is False
    finally:
        release.set()
        other.join()
    assert forks == []
