"""The listing widget: a DataTable that takes fresh rows and updates itself in place, keeping
the cursor on the same row (by key) and marking the selected rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from jobengine.console.data import Row

MARK = "●"
# The widest a long text column grows, so that a screen's other columns stay in view; the
# whole text is on the detail screen (enter).
CAPS = {"description": 32, "method": 44, "error": 40, "message": 60}


class JobTable(DataTable[str]):
    """Rows keyed by uuid; `show()` changes only the cells that changed. Moving past the last
    row (or above the first) asks for the next (previous) page with `PastEdge`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details"),  # shown in the footer, unlike the base's
    ]

    class PastEdge(Message):
        """The cursor was moved past the end (`step` 1) or the start (`step` -1)."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._columns: tuple[str, ...] = ()
        self._shown: dict[str, tuple[str, ...]] = {}

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def _at_edge(self, step: int) -> bool:
        row = self.cursor_coordinate.row
        if step > 0 and row < self.row_count - 1:
            return False
        if step < 0 and row > 0:
            return False
        self.post_message(self.PastEdge(step))
        return True

    def action_cursor_down(self) -> None:
        if not self._at_edge(1):
            super().action_cursor_down()

    def action_page_down(self) -> None:
        if not self._at_edge(1):
            super().action_page_down()

    def action_cursor_up(self) -> None:
        if not self._at_edge(-1):
            super().action_cursor_up()

    def action_page_up(self) -> None:
        if not self._at_edge(-1):
            super().action_page_up()

    def land(self, where: str) -> None:
        """Put the cursor on the first row ("top") or the last ("bottom")."""
        if self.row_count:
            self.move_cursor(row=0 if where == "top" else self.row_count - 1, animate=False)

    def set_columns(self, columns: Sequence[str]) -> None:
        if tuple(columns) == self._columns:
            return
        self.clear(columns=True)
        self._shown.clear()
        self._columns = tuple(columns)
        for name in columns:
            self.add_column(name, key=name)

    def show(self, rows: Sequence[Row], selected: set[str]) -> None:
        """Show `rows`: same keys in the same order update cell by cell; otherwise the rows
        are laid out again and the cursor follows its row."""
        caps = [CAPS.get(name) for name in self._columns[1:]]
        fresh = {
            r.key: (
                MARK if r.key in selected else "",
                *(_clip(c, cap) for c, cap in zip(r.cells, caps, strict=True)),
            )
            for r in rows
        }
        if list(fresh) == list(self._shown):
            self._update_cells(fresh)
            return
        keep = self.cursor_key
        self.clear()
        for key, cells in fresh.items():
            self.add_row(*cells, key=key)
        self._shown = fresh
        if keep in fresh:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _update_cells(self, fresh: dict[str, tuple[str, ...]]) -> None:
        for key, cells in fresh.items():
            old = self._shown[key]
            for name, before, after in zip(self._columns, old, cells, strict=True):
                if before != after:
                    self.update_cell(key, name, after, update_width=True)
        self._shown = fresh


def _clip(text: str, cap: int | None) -> str:
    return text if cap is None or len(text) <= cap else text[: cap - 1] + "…"
