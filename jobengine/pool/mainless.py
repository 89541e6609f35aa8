"""Starting jobengine's processes without the parent's main module, and the fork server early.

multiprocess sends each new process "preparation data" naming the parent's `__main__`, and the
child runs that script again as `__mp_main__`; a script with no `if __name__ == "__main__":`
guard would then start an engine in every worker, and a script fed on stdin has no file to run,
so every worker would die at start and be replaced for ever. The preparation data of
jobengine's own launches, and only of those, leaves the main module out.

Kept apart from the rest of the pool (and the pool package imports nothing until asked) so that
`python -m jobengine run` starts its fork server after importing only multiprocess.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import multiprocess
from multiprocess import forkserver, spawn

from jobengine.pool.preload import PRELOAD

_MAIN_KEYS = ("init_main_from_name", "init_main_from_path")


def start_fork_server() -> None:
    """Start the fork server now, with the worker side preloaded.

    Its start-up (a new interpreter importing `jobengine.pool.child`, some 65 ms here) then
    runs beside what this process does next instead of delaying the first worker; the pool's
    factory uses the running server as it finds it.
    """
    multiprocess.get_context("forkserver").set_forkserver_preload(PRELOAD)
    with without_main():
        forkserver.ensure_running()


_launching = threading.local()  # .depth > 0 while this thread starts a jobengine worker
_install_lock = threading.Lock()


@contextlib.contextmanager
def without_main() -> Iterator[None]:
    """Start processes in this block (this thread only) without the parent's main module."""
    install_main_filter()
    depth = getattr(_launching, "depth", 0)
    _launching.depth = depth + 1
    try:
        yield
    finally:
        _launching.depth = depth


def install_main_filter() -> None:
    """Wrap `multiprocess.spawn.get_preparation_data` once; other launches are unchanged.

    multiprocess's Popen classes look the function up on the module at each launch, so wrapping
    the module attribute reaches them; the wrapper changes the data only in a thread inside
    `without_main()`, so the user's own processes still get their main module.
    """
    with _install_lock:
        current = spawn.get_preparation_data
        if getattr(current, "_jobengine_filter", False):
            return

        def get_preparation_data(name: str) -> dict[str, Any]:
            data: dict[str, Any] = current(name)
            if getattr(_launching, "depth", 0) > 0:
                data = {k: v for k, v in data.items() if k not in _MAIN_KEYS}
            return data

        get_preparation_data._jobengine_filter = True  # type: ignore[attr-defined]
        spawn.get_preparation_data = get_preparation_data
