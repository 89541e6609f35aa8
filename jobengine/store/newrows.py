"""SQLite's inserts of new jobs: many rows per statement, naming only the columns a job has.

The sqlite3 module sends every None and bool parameter through its adapter lookup, about as
costly as SQLite storing the value, so the NULL columns are left out and the constant ones
written as literals. Statements of ROWS rows save SQLite's per-statement work: a batch of
5000 jobs on a new connection, under callgrind, took 72k instructions a job with
executemany and 55k with 100 rows a statement, its compiling included (57k with 500, whose
compiling takes milliseconds). Jobs alike (the same OPTIONAL fields set, the same key_held)
share a statement; rows stay in the order given, so ids follow it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from jobengine.store.records import NewJob

TABLE = "background_job"
# NewJob's fields that are NULL for most jobs; the fields before them are always written.
OPTIONAL = ("retry", "timeout_s", "scheduled_job", "parent")
ROWS = 100  # jobs per many-row statement (fewer where SQLite allows fewer parameters)
# What every new row holds in the columns NewJob has not (peewee's defaults are Python-side).
_CONSTANTS = {"state": "'ACTIVE'", "attempt": "1", "cancel_requested": "0", "host": "''"}
_ALWAYS = NewJob._fields[: NewJob._fields.index(OPTIONAL[0])]
_head = itemgetter(slice(0, len(_ALWAYS)))
_tail = itemgetter(slice(len(_ALWAYS), None))
_NO_OPTIONAL = (None,) * len(OPTIONAL)

Present = tuple[int, ...]  # indexes into OPTIONAL of the fields a job has


def present(job: NewJob) -> Present:
    tail = _tail(job)
    if tail == _NO_OPTIONAL:
        return ()
    return tuple(i for i, v in enumerate(tail) if v is not None)


@functools.lru_cache(maxsize=64)
def statement(fields: Present, held: int, rows: int) -> str:
    """The INSERT of `rows` jobs with the OPTIONAL `fields`, key_held `held` (0 or 1)."""
    cols = [*_ALWAYS, *(OPTIONAL[i] for i in fields), "key_held", *_CONSTANTS]
    marks = ", ".join(["?"] * (len(_ALWAYS) + len(fields)))
    row = f"({marks}, {int(held)}, {', '.join(_CONSTANTS.values())})"
    names = ", ".join(f'"{c}"' for c in cols)
    return f"INSERT INTO {TABLE} ({names}) VALUES {', '.join([row] * rows)}"


def params(jobs: Sequence[NewJob], fields: Present) -> list[Any]:
    """The parameters of `statement(fields, ...)` for `jobs`, row after row."""
    if not fields:
        return list(chain.from_iterable(map(_head, jobs)))  # no loop in Python
    first = len(_ALWAYS)
    return [v for job in jobs for v in (*_head(job), *(job[first + i] for i in fields))]


def inserts(
    jobs: Sequence[NewJob], held: Sequence[int], max_params: int
) -> Iterator[tuple[str, list[list[Any]]]]:
    """The statements that insert `jobs`, `held[i]` whether job i takes its key, each with
    the parameters of each of its runs: many rows in one run (at most `max_params`
    parameters), or one row in each run of an executemany.

    Only full statements of ROWS jobs are many-row ones, compiled once per connection (the
    sqlite3 module caches them): the jobs left over go one row a run, so no statement of
    another size is compiled.
    """
    for fields, h, run in _runs(jobs, held):
        per = min(ROWS, max_params // (len(_ALWAYS) + len(fields)))
        whole = len(run) - len(run) % per if per > 1 else 0
        for i in range(0, whole, per):
            yield statement(fields, h, per), [params(run[i : i + per], fields)]
        if whole < len(run):
            yield statement(fields, h, 1), [params([job], fields) for job in run[whole:]]


def _runs(
    jobs: Sequence[NewJob], held: Sequence[int]
) -> Iterator[tuple[Present, int, Sequence[NewJob]]]:
    """The jobs in runs of neighbours alike: the same OPTIONAL fields, the same key_held."""
    if not jobs:
        return
    tails = list(map(_tail, jobs))
    if tails.count(_NO_OPTIONAL) == len(jobs) and held.count(held[0]) == len(held):
        yield (), held[0], jobs  # the common batch, found without a loop in Python
        return
    start = 0
    kind = (present(jobs[0]), held[0])
    for i in range(1, len(jobs)):
        this = (present(jobs[i]), held[i])
        if this != kind:
            yield (*kind, jobs[start:i])
            start, kind = i, this
    yield (*kind, jobs[start:])
