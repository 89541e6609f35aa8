"""SQLite's inserts of new jobs: many rows per statement, naming only the columns a job has.

The sqlite3 module sends every None and bool parameter through its adapter lookup, about as
costly as SQLite storing the value, so the NULL columns are left out and the constant ones
written as literals. Statements of ROWS rows save SQLite's per-statement work: a batch of
5000 jobs on a new connection, under callgrind, took 72k instructions a job with
executemany and 55k with 100 rows a statement, its compiling included (57k with 500, whose
compiling takes milliseconds). Jobs alike (the same OPTIONAL fields set, the same key_held)
share a statement; rows stay in the order given, so ids follow it.

A many-row statement binds once what all its jobs share: a field equal in every one (one
method, no key, the default queue...) and, when each job is due at its begin_ms, the
run_after_ms, as begin_ms's parameter again. A batch's common job then binds 3 values a row,
not 10, and the parameters are laid out a column at a time: writing 5000 such jobs (on a
store of 5000, commit included) went from 23.7k to 17.4k instructions a job.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, Final

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
# The fields a batch's jobs most often share (one method, no key, the default queue...): a
# many-row statement binds such a value once, not once a row.
_SHAREABLE = tuple(
    NewJob._fields.index(c) for c in ("method", "kwargs", "key", "description", "queue", "priority")
)

Present = tuple[int, ...]  # indexes into OPTIONAL of the fields a job has

# A NewJob's values as a plain tuple, in its fields' order: how a batch stages its jobs. A
# NewJob is one too. (A batch builds a plain tuple for less than a NewJob, and the garbage
# collector stops tracking a tuple of strings and numbers, never a NewJob: a batch of thousands
# kept as NewJobs grew the collector's oldest generation until it ran a full collection.)
Row = tuple[
    str, str, str, str, int, int, str, str, str, int,
    str | None, float | None, str | None, str | None,
]  # fmt: skip
# Where a Row holds the fields read from it by name: literal positions, which mypy types
# (tests/store/test_insert_many.py checks them against NewJob's fields).
METHOD: Final = 1
BEGIN: Final = 4
RUN_AFTER: Final = 5
KEY: Final = 6


def present(job: Row) -> Present:
    tail = _tail(job)
    if tail == _NO_OPTIONAL:
        return ()
    return tuple(i for i, v in enumerate(tail) if v is not None)


@functools.lru_cache(maxsize=64)
def statement(fields: Present, held: int) -> str:
    """The INSERT of one job with the OPTIONAL `fields`, key_held `held` (0 or 1)."""
    marks = ", ".join(["?"] * (len(_ALWAYS) + len(fields)))
    return f"INSERT INTO {TABLE} ({_names(fields)}) VALUES ({marks}, {_fixed(held)})"


def params(job: Row, fields: Present) -> list[Any]:
    """The parameters of `statement(fields, ...)` for `job`."""
    if not fields:
        return list(_head(job))
    return [*_head(job), *(job[len(_ALWAYS) + i] for i in fields)]


def _names(fields: Present) -> str:
    """The columns an INSERT of jobs with the OPTIONAL `fields` names, in their order."""
    cols = [*_ALWAYS, *(OPTIONAL[i] for i in fields), "key_held", *_CONSTANTS]
    return ", ".join(f'"{c}"' for c in cols)


def _fixed(held: int) -> str:
    """A row's literal values: key_held, then the constant columns."""
    return f"{int(held)}, {', '.join(_CONSTANTS.values())}"


def inserts(
    jobs: Sequence[Row], held: Sequence[int], max_params: int
) -> Iterator[tuple[str, list[list[Any]]]]:
    """The statements that insert `jobs`, `held[i]` whether job i takes its key, each with
    the parameters of each of its runs: many rows in one run (at most `max_params`
    parameters), or one row in each run of an executemany.

    Only full statements of ROWS jobs are many-row ones, compiled once per connection (the
    sqlite3 module caches them): the jobs left over go one row a run, so no statement of
    another size is compiled.
    """
    for fields, h, columns in _runs(jobs, held):
        shape = _shape(fields, columns)
        own = _own(shape)
        shared = [columns[c][0] for c in shape[1]]
        count = len(columns[0])
        per = min(ROWS, (max_params - len(shared)) // len(own))
        whole = count - count % per if per > 1 else 0
        for i in range(0, whole, per):
            values = [*shared, *[None] * (per * len(own))]
            for at, c in enumerate(own, len(shared)):
                values[at :: len(own)] = columns[c][i : i + per]  # a column at a time
            yield many_rows(shape, h, per), [values]
        if whole < count:
            rest = zip(*[columns[c][whole:] for c in _written(fields)], strict=True)
            yield statement(fields, h), [list(row) for row in rest]


# What the jobs of a many-row statement (fields and held aside) have in common: the NewJob
# fields equal in all of them, and whether each one's run_after_ms is its begin_ms.
Shape = tuple[Present, tuple[int, ...], bool]


def _shape(fields: Present, columns: Sequence[list[Any]]) -> Shape:
    """The shape of the jobs of `columns`. Equal values are stored alike in the SHAREABLE
    columns (text, and integers: priority 1 and True are both 1), so == decides."""
    count = len(columns[0])
    shared = tuple(c for c in _SHAREABLE if columns[c].count(columns[c][0]) == count)
    return fields, shared, columns[BEGIN] == columns[RUN_AFTER]


@functools.lru_cache(maxsize=64)
def _own(shape: Shape) -> tuple[int, ...]:
    """The NewJob fields that each row of `shape` binds for itself, in their order."""
    fields, shared, due_at_once = shape
    once = {*shared, RUN_AFTER} if due_at_once else set(shared)
    return tuple(c for c in _written(fields) if c not in once)


def _written(fields: Present) -> tuple[int, ...]:
    """The NewJob fields a job with the OPTIONAL `fields` writes, in their order."""
    return (*range(len(_ALWAYS)), *(len(_ALWAYS) + i for i in fields))


@functools.lru_cache(maxsize=64)
def many_rows(shape: Shape, held: int, rows: int) -> str:
    """The INSERT of `rows` jobs of `shape`, key_held `held`: the shared values are
    parameters ?1 to ?n, then come each row's own."""
    fields, shared, due_at_once = shape
    own = _own(shape)
    number = {c: n for n, c in enumerate(shared, 1)}
    tail = _fixed(held)
    values = []
    for r in range(rows):
        number.update((c, n) for n, c in enumerate(own, len(shared) + r * len(own) + 1))
        if due_at_once:
            number[RUN_AFTER] = number[BEGIN]
        values.append(f"({', '.join(f'?{number[c]}' for c in _written(fields))}, {tail})")
    # OR FAIL: a failing row stops the statement and leaves its earlier rows to the batch's
    # transaction, which rolls back whole (or to its savepoint) as the error leaves it. With
    # the default ABORT, SQLite would keep a statement journal to undo a statement's own rows,
    # and that journal cost a third of SQLite's time for a many-row statement.
    return f"INSERT OR FAIL INTO {TABLE} ({_names(fields)}) VALUES {', '.join(values)}"


def _runs(
    jobs: Sequence[Row], held: Sequence[int]
) -> Iterator[tuple[Present, int, list[list[Any]]]]:
    """The jobs in runs of neighbours alike (the same OPTIONAL fields, the same key_held),
    each run as its `_columns`."""
    if not jobs:
        return
    columns = _columns(jobs)
    count = len(jobs)
    if held.count(held[0]) == count and all(
        c.count(None) == count for c in columns[len(_ALWAYS) :]
    ):
        yield (), held[0], columns  # the common batch, found without a loop in Python
        return
    start = 0
    kind = (present(jobs[0]), held[0])
    for i in range(1, count):
        this = (present(jobs[i]), held[i])
        if this != kind:
            yield (*kind, _columns(jobs[start:i]))
            start, kind = i, this
    yield (*kind, _columns(jobs[start:]))


def _columns(jobs: Sequence[Row]) -> list[list[Any]]:
    """Each NewJob field's values, in the jobs' order. Strided slices of one flat list: zip(*jobs)
    makes an iterator per job, all alive at once, and that many new objects set off several
    runs of the garbage collector in a batch of thousands."""
    flat = list(chain.from_iterable(jobs))
    return [flat[c :: len(NewJob._fields)] for c in range(len(NewJob._fields))]
