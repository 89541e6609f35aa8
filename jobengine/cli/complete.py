"""Shell completion of scheduled job names (click's `_JOBENGINE_COMPLETE`): from the store for
the commands that act on it, from the registry for `schedule`. A store or registry that cannot
be read completes nothing, silently: completion never prints an error or a traceback."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import click
from click.shell_completion import CompletionItem

from jobengine.cli.common import DEFAULT_REGISTRY
from jobengine.store import DEFAULT_URL


def complete_store_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the scheduled jobs in the store of `--db` ($JOBENGINE_DB, the default)."""
    url = ctx.params.get("db") or os.environ.get("JOBENGINE_DB") or DEFAULT_URL
    return _quietly(lambda: _store_names(str(url)), incomplete)


def complete_registry_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the scheduled jobs the registry of `--registry` declares."""
    folder = ctx.params.get("registry") or os.environ.get("JOBENGINE_REGISTRY") or DEFAULT_REGISTRY
    return _quietly(lambda: _registry_names(str(folder)), incomplete)


def _quietly(
    read: Callable[[], Iterable[tuple[str, str]]], incomplete: str
) -> list[CompletionItem]:
    """(name, help) pairs from `read` that start with `incomplete`; none when it fails."""
    logging.disable(logging.CRITICAL)  # no log line may reach the terminal while completing
    try:
        found = dict(read())
    except Exception:  # a missing, locked or unreachable store completes nothing
        return []
    finally:
        logging.disable(logging.NOTSET)
    return [
        CompletionItem(n, help=found[n] or None) for n in sorted(found) if n.startswith(incomplete)
    ]


def _store_names(url: str) -> list[tuple[str, str]]:
    from jobengine.engine import Engine
    from jobengine.store.db import parse_url

    target = parse_url(url)
    if target.kind == "sqlite" and not os.path.isfile(target.path):
        return []  # completing must not create a store
    engine: Any = Engine(url)
    try:
        return [(j.metadata, j.description) for j in engine.scheduled.get()]
    finally:
        engine.close()


def _registry_names(folder: str) -> list[tuple[str, str]]:
    from jobengine.registry import load

    if not os.path.isdir(folder):
        return []
    return [(name, job.description) for name, job in load(folder).jobs.items()]
