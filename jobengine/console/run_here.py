"""Run a scheduled job's method in the console's own process (1C's "run in this session"),
with the job's params: no background job, no worker. The method is resolved and its params
checked as the engine does for every job it starts (the same allow-list), so the console runs
nothing the engine would refuse. No Textual here: the app calls `run` on a thread of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobengine.console.actions import scheduled
from jobengine.errors import JobEngineError
from jobengine.methods import check_arguments, resolve

if TYPE_CHECKING:
    from jobengine.engine import Engine

SHOWN = 200  # characters of a result or an error the outcome shows


@dataclass(frozen=True)
class Outcome:
    text: str
    ok: bool


def run(engine: Engine, uuid: str) -> Outcome:
    """Run the scheduled job `uuid`'s method here and say how it went: its result, or the
    first line of its error, or why it may not run."""
    try:
        sj = scheduled(engine, uuid)
        func = resolve(sj.method, engine.allowed_modules)
        params = sj.params
        check_arguments(sj.method, func, params, {})
    except JobEngineError as exc:
        return Outcome(f"not run in the console: {exc}", False)
    try:
        result = func(*params)
    except (Exception, SystemExit) as exc:  # SystemExit too: it would end only this thread
        return Outcome(f"{sj.metadata} failed in the console: {error_line(exc)}", False)
    return Outcome(f"{sj.metadata} ran in the console: {short(repr(result))}", True)


def error_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return short(f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)


def short(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
