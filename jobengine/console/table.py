"""The listing widget: a DataTable that takes fresh rows and updates itself in place, keeping
the cursor on the same row (by key) and marking the selected rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from jobengine.console.data import Row

MARK = "●"


class JobTable(DataTable[str]):
    """Rows keyed by uuid; `show()` changes only the cells that changed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details"),  # shown in the footer, unlike the base's
    ]

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
        fresh = {r.key: (MARK if r.key in selected else "", *r.cells) for r in rows}
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
