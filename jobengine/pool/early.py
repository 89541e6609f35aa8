"""`jobengine run`'s helper processes, forked from it before it loads anything of its own.

multiprocess starts its fork server and its resource tracker as new interpreters (`python -c
...`). For `jobengine run` that meant three interpreters starting at once: the engine importing
the store and the command line, the fork server importing multiprocess, dill and the worker
side, and the tracker importing multiprocess too. On 2 cores the three shared them, and the
first job waited for the slowest: the fork server was ready only some 0.2 s after launch.

Forked from the engine's process while it is still single-threaded and has imported nothing
but the interpreter's own modules, each helper skips the interpreter's start-up; the tracker
also skips dill, which it never uses. multiprocess is then given both as if it had started
them itself, and starts new ones its own way should either die.

Only the command's own process does this (`jobengine.entry`): a program that embeds an engine
may hold threads and state that a fork must not copy, and starts its fork server as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from jobengine.importing import hidden
from jobengine.pool.preload import PRELOAD


def start_helpers() -> bool:
    """Fork the fork server and the resource tracker now, and give them to multiprocess.

    Returns:
        False, having done nothing, where forking is not safe or not possible (threads
        running, not Linux, a socket path too long); the pool then starts them itself.
    """
    if not sys.platform.startswith("linux"):  # macOS: a fork that does not exec is not safe
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    folder = _private_folder()
    address = os.path.join(folder, "fork-server")
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(address)  # OSError: a path too long for a socket (a deep TMPDIR)
        listener.listen()
    except OSError:
        listener.close()
        _remove(address, folder)
        return False
    alive_r, alive_w = os.pipe()  # the server exits when every writer has closed its end
    tracked_r, tracked_w = os.pipe()  # the tracker's commands; it exits at the end of them
    _flush_std()
    tracker = _fork(_run_tracker, (tracked_r,), close=(alive_r, alive_w, tracked_w, listener))
    server = _fork(
        _run_fork_server,
        (listener.fileno(), alive_r, address, folder),
        close=(alive_w, tracked_r, tracked_w),
    )
    listener.close()
    os.close(alive_r)
    os.close(tracked_r)
    atexit.register(_remove, address, folder)  # the server removes them too, should we die

    with hidden("dill"):  # this process launches workers with pickle's C pickler
        from multiprocess import forkserver, resource_tracker

    known = resource_tracker._resource_tracker
    known._fd, known._pid = tracked_w, tracker
    fork_server = forkserver._forkserver
    fork_server._forkserver_address = address
    fork_server._forkserver_alive_fd = alive_w
    fork_server._forkserver_pid = server
    fork_server._preload_modules = list(PRELOAD)
    return True


def _private_folder() -> str:
    """A new folder only this user can enter, for the fork server's socket: anyone who could
    connect to it could have processes forked as this user."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        folder = os.path.join(base, f"jobengine-{os.urandom(6).hex()}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
            return folder


def _fork(
    run: Callable[..., None], args: tuple[Any, ...], close: Sequence[int | socket.socket]
) -> int:
    """Fork a helper that closes `close` and runs `run(*args)`; it never returns here."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for item in close:
            item.close() if isinstance(item, socket.socket) else os.close(item)
        run(*args)
        code = 0
    except SystemExit as exc:  # the fork server's end: its clients have all gone
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        _flush_std()
        os._exit(code)  # never back into the command that forked it
    return 0  # unreachable


def _run_tracker(commands_fd: int) -> None:
    with hidden("dill"):  # it only reads lines of text
        from multiprocess import resource_tracker

    resource_tracker.main(commands_fd)


def _run_fork_server(listener_fd: int, alive_r: int, address: str, folder: str) -> None:
    # As `python -c` would give it: workers forked from here see an empty main module, never
    # the command's.
    sys.modules["__main__"] = types.ModuleType("__main__")
    from multiprocess import forkserver

    try:
        forkserver.main(listener_fd, alive_r, PRELOAD)
    finally:  # it ends when the engine has gone, killed or not: nobody connects any more
        _remove(address, folder)


def _flush_std() -> None:
    """Flush Python's buffers before a fork, so that nothing is written twice."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


def _remove(address: str, folder: str) -> None:
    for remove, path in ((os.unlink, address), (os.rmdir, folder)):
        with contextlib.suppress(OSError):
            remove(path)
