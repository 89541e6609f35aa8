"""Fixtures for integration tests: engines closed at the end, subprocesses killed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobengine import Engine
from tests.integration.console_support import build_template, copied
from tests.integration.support import Procs

MakeEngine = Callable[..., Engine]


@pytest.fixture
def make_engine() -> Iterator[MakeEngine]:
    """Build engines (started unless start=False); every one is closed at the end of the test."""
    engines: list[Engine] = []

    def make(url: str, *, start: bool = True, **options: Any) -> Engine:
        options.setdefault("workers", 2)
        options.setdefault("grace", 1.0)
        engine = Engine(url, **options)
        engines.append(engine)
        if start:
            engine.start()
        return engine

    try:
        yield make
    finally:
        for engine in reversed(engines):
            engine.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Start subprocesses; the ones still running are killed (whole session) at the end."""
    manager = Procs(tmp_path)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The console tests' store, made once (real workers ran its finished jobs)."""
    return build_template(tmp_path_factory.mktemp("console"))


@pytest.fixture
def console_engine(console_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A client engine on a fresh copy of the console tests' store."""
    with copied(console_template, tmp_path) as engine:
        yield engine
