"""Imports: the working directory on sys.path, and a module kept out of sight."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType


class _Hide(importlib.abc.MetaPathFinder):
    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self._names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextlib.contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Imports in the block find no package of these top-level `names` (as if not installed),
    unless already imported: for libraries that import an optional one of them eagerly."""
    hide = _Hide(names)
    sys.meta_path.insert(0, hide)
    try:
        yield
    finally:
        sys.meta_path.remove(hide)


def working_directory_on_path() -> None:
    """Put the working directory first on sys.path, as `python -m` does: job methods are named
    by import path, so the project a command runs in must import (workers inherit it)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
