"""A batch's checks: `execute`'s, with what repeats from job to job checked once.

A batch usually runs one method with the same options many times. Each distinct method is
resolved and its signature read once; each distinct set of options (`on_conflict` and the
keywords, compared by type and value) is checked once, and only the job's own key and
description after that. Every refusal is `execute`'s, with the same message, in the same
order; every value stored is computed from the job's own arguments.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Hashable
from dataclasses import fields
from typing import Any

from jobengine import codec, runtime
from jobengine.clock import Clock
from jobengine.errors import JobEngineError
from jobengine.ids import time_ordered_uuids
from jobengine.launch import (
    MAX_DESCRIPTION_BYTES,
    MAX_KEY_BYTES,
    Launch,
    check_call,
    check_text,
    run_after_ms,
)
from jobengine.methods import MethodLike, check_arguments, method_path, positional_range
from jobengine.retry import Retry
from jobengine.store.newrows import Row

OPTIONS = frozenset(f.name for f in fields(Launch)) - {"key", "description", "on_conflict"}
UUID_STOCK = 256  # uuids made at a time
_NEVER = (1, 0.0)  # a positional range no call fits: check_arguments decides
_UNHASHABLE = object()  # a rule that cannot be remembered
# NewJob's queue, priority, retry, timeout_s and scheduled_job when no option is given.
DEFAULTS = ("default", 0, None, None, None)


class Stager:
    """Checks the jobs of one batch and turns each into the row to insert (a NewJob's values)."""

    def __init__(self, resolve: Callable[[str], Callable[..., Any]], clock: Clock) -> None:
        self._resolve = resolve  # a method path to its allowed function (cached by the caller)
        self._time = clock.time  # bound once: read for every job
        self._valid: set[Hashable] = set()  # option sets that passed Launch.check
        # A method as given: its path, function and the positional counts that need no bind.
        self._methods: dict[Any, tuple[str, Callable[..., Any], int, float]] = {}
        # Keyed by identity (the Retry kept alive here): equal policies, 1 and 1.0, keep
        # their own text.
        self._retries: dict[int, tuple[Retry, str]] = {}
        self._uuids: list[str] = []  # a stock of new uuids, taken from the end

    def stage(
        self,
        method: MethodLike,
        args: Any,
        kwargs: Any,
        key: Any,
        description: Any,
        on_conflict: Any,
        options: dict[str, Any],
    ) -> Row:
        """Check one job as `engine.background.execute` does and build its row.

        Raises:
            JobEngineError: an unknown option, or any refusal of `execute`.
        """
        try:  # the common case, a known on_conflict and no option, without another call
            known = not options and (type(on_conflict), on_conflict) in self._valid
        except TypeError:  # unhashable
            known = False
        rule = None if known else self._unknown_rule(on_conflict, options)
        if type(args) is not list or kwargs is not None:
            args, kwargs = check_call(args, kwargs)
        if rule is None:
            if type(key) is not str or key or type(description) is not str or description:
                _check_key_and_description(key, description)
        else:
            self._check_launch(rule, key, description, on_conflict, options)
        try:
            path, func, least, most = self._methods[method]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            path, func, least, most = self._method(method)
        if kwargs or not least <= len(args) <= most:
            check_arguments(path, func, args, kwargs or {})
        now_ms = int(self._time() * 1000)  # to_ms(now()), without the datetime
        running = runtime.running_job()
        uuid = self._uuids.pop() if self._uuids else self._new_uuid()
        args_text = codec.dumps(args, what="args")
        kwargs_text = codec.dumps(kwargs, what="kwargs") if kwargs else "{}"
        parent = running.uuid if running is not None else None
        if options:
            return self._with_options(
                (uuid, path, args_text, kwargs_text, now_ms), key, description, options, parent
            )
        return (
            uuid,
            path,
            args_text,
            kwargs_text,
            now_ms,
            now_ms,
            key,
            description,
            *DEFAULTS,
            parent,
        )

    def _unknown_rule(self, on_conflict: Any, options: dict[str, Any]) -> Hashable | None:
        """None when this set of options passed the checks already; else what to remember
        once it does (`_UNHASHABLE`: nothing).

        Types are part of it: 1 and True are equal, and only one of them is a priority.

        Raises:
            JobEngineError: an option `execute` does not have.
        """
        base = (type(on_conflict), on_conflict)
        rule: Hashable = (
            (*base, *[(k, type(v), v) for k, v in options.items()]) if options else base
        )
        try:
            if rule in self._valid:
                return None
        except TypeError:  # an unhashable value: checked in full every time
            rule = _UNHASHABLE
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise JobEngineError(f"batch.execute: unknown option {unknown[0]!r}")
        return rule

    def _check_launch(
        self,
        rule: Hashable,
        key: Any,
        description: Any,
        on_conflict: Any,
        options: dict[str, Any],
    ) -> None:
        Launch(key=key, description=description, on_conflict=on_conflict, **options).check()
        if rule is not _UNHASHABLE:
            self._valid.add(rule)

    def _with_options(
        self,
        head: tuple[str, str, str, str, int],
        key: str,
        description: str,
        options: dict[str, Any],
        parent: str | None,
    ) -> Row:
        get = options.get
        retry = get("retry")
        return (
            *head,
            run_after_ms(head[-1], get("delay"), get("run_at")),
            key,
            description,
            get("queue", "default"),
            int(get("priority", 0)),
            self._retry_text(retry) if retry is not None else None,
            get("timeout"),
            get("scheduled_job"),
            parent,
        )

    def _new_uuid(self) -> str:
        self._uuids = time_ordered_uuids(UUID_STOCK, int(self._time() * 1000))
        return self._uuids.pop()

    def _method(self, method: MethodLike) -> tuple[str, Callable[..., Any], int, float]:
        path = method_path(method)
        func = self._resolve(path)
        entry = (path, func, *(positional_range(func) or _NEVER))
        with contextlib.suppress(TypeError):  # an unhashable callable: not remembered
            self._methods[method] = entry
        return entry

    def _retry_text(self, retry: Retry) -> str:
        known = self._retries.get(id(retry))
        if known is None:
            known = self._retries[id(retry)] = (retry, json.dumps(retry.__dict__))
        return known[1]


def _check_key_and_description(key: Any, description: Any) -> None:
    """The key and description checks of `Launch.check`, in its order (empty ones pass)."""
    if type(key) is not str or key:
        check_text("key", key, max_bytes=MAX_KEY_BYTES)
    if type(description) is not str or description:
        check_text("description", description, max_bytes=MAX_DESCRIPTION_BYTES)
