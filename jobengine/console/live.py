"""Live refresh: the store's notifications (through the engine's hub) become a poke at the
console, and a burst of them one read, at most one per COALESCE_S."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobengine.hub import Hub

COALESCE_S = 0.3  # a burst of notifications refreshes the console at most this often


def delay_s(now_s: float, last_read_s: float, gap_s: float = COALESCE_S) -> float:
    """How long to wait before the next read, so reads stay at least `gap_s` apart."""
    return max(0.0, last_read_s + gap_s - now_s)


def watch(hub: Hub, poke: Callable[[], None]) -> Callable[[], None]:
    """Call `poke` (on the hub's listener thread) whenever a job is queued or ends, or a
    scheduled job or the lock changes, beside the callbacks the hub had; start listening.

    Returns:
        A function that puts the hub's callbacks back as they were.
    """
    new, ended, scheduled = hub.on_new, hub.on_ended, hub.on_scheduled

    def on_new(at_ms: int | None) -> None:
        if new is not None:
            new(at_ms)
        poke()

    def on_ended(uuids: list[str]) -> None:
        if ended is not None:
            ended(uuids)
        poke()

    def on_scheduled() -> None:
        if scheduled is not None:
            scheduled()
        poke()

    hub.on_new, hub.on_ended, hub.on_scheduled = on_new, on_ended, on_scheduled
    hub.ensure_listening()

    def undo() -> None:
        hub.on_new, hub.on_ended, hub.on_scheduled = new, ended, scheduled

    return undo
