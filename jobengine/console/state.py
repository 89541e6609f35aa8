"""The console's view state as pure functions: which rows a filter shows, which are
selected, and which rows an action applies to. No Textual, no engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobengine.console.data import Row
from jobengine.console.query import Query


@dataclass
class ViewState:
    """One listing's state, kept across refreshes: the filter text, the selected keys, the
    filter form's choices and the page shown (its first row's offset)."""

    filter: str = ""
    selected: set[str] = field(default_factory=set)
    query: Query = field(default_factory=Query)  # the filter form's choices
    offset: int = 0


def turn(offset: int, step: int, page: int, has_more: bool) -> int | None:
    """The offset of the page `step` (1 or -1) away from the one at `offset`, or None when
    there is none that way."""
    if step > 0:
        return offset + page if has_more else None
    return max(0, offset - page) if offset > 0 else None


def toggle(selected: set[str], key: str) -> set[str]:
    """`selected` with `key` added, or removed if it was there."""
    return selected - {key} if key in selected else selected | {key}


def prune(selected: set[str], rows: Sequence[Row]) -> set[str]:
    """Drop the selected keys whose rows are gone (deleted, purged, out of the page)."""
    return selected & {r.key for r in rows}


def targets(rows: Sequence[Row], selected: set[str], cursor: str | None) -> list[Row]:
    """The rows an action applies to: the selected rows shown, else the row at the cursor."""
    chosen = [r for r in rows if r.key in selected]
    if chosen:
        return chosen
    return [r for r in rows if r.key == cursor]


def select_all(selected: set[str], shown: Sequence[Row]) -> set[str]:
    """Every shown row selected; if they all were already, none of them."""
    keys = {r.key for r in shown}
    return selected - keys if keys and keys <= selected else selected | keys
