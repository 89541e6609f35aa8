"""Text filters for listings: every word of a person's text must occur (any case) in one of
a few columns, as LIKE conditions the database runs (the console's `/` filter)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

import peewee

_ESCAPE = "\\"


def _pattern(word: str) -> str:
    for ch in (_ESCAPE, "%", "_"):
        word = word.replace(ch, _ESCAPE + ch)
    return f"%{word}%"


def _like(column: Any, pattern: str) -> Any:
    # peewee's ILIKE is LIKE on SQLite (which ignores ASCII case) and ILIKE on PostgreSQL;
    # the ESCAPE clause makes a typed % or _ match itself on both.
    like = peewee.Expression(column, peewee.OP.ILIKE, pattern, flat=True)
    return peewee.EnclosedNodeList([peewee.NodeList((like, peewee.SQL(f"ESCAPE '{_ESCAPE}'")))])


def words_condition(columns: Sequence[Any], text: str | None) -> Any:
    """A condition true for rows where each word of `text` occurs in one of `columns`; None
    when `text` has no words (no filter)."""
    words = (text or "").split()
    if not words:
        return None
    cond = None
    for word in words:
        pattern = _pattern(word)
        any_column = reduce(lambda a, b: a | b, [_like(c, pattern) for c in columns])
        cond = any_column if cond is None else cond & any_column
    return cond
