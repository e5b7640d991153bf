"""A DataTable that is updated by diffing rows by stable key, never cleared and refilled.

Rows arrive as (key, cells) each refresh; the table removes vanished keys, updates only changed cells,
adds new rows, and sorts once, all inside one batch_update. The cursor stays on the same row key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist, RowKey

from pilothouse.widgets.render import safe_text, shown


@dataclass(frozen=True, slots=True)
class Cell:
    """What a cell shows and the value it sorts by (`3/5` sorts as 3, a rollout by its progress)."""

    text: Text
    sort: Any = None

    def __post_init__(self) -> None:
        # Every table cell is display text, whoever built it: cluster strings cannot reach the terminal raw.
        object.__setattr__(self, "text", safe_text(self.text))

    def __rich__(self) -> RenderableType:
        return self.text

    def plain(self) -> str:
        return self.text.plain


def cell(value: str | Text, sort: Any = None, style: str = "") -> Cell:
    text = value if isinstance(value, Text) else shown(value, style, no_wrap=True, overflow="ellipsis")
    return Cell(text, text.plain.lower() if sort is None else sort)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None = None
    # How the column's sort reads, ascending then reversed: a health column sorts worst first.
    orders: tuple[str, str] = ("A to Z", "Z to A")


class DiffTable(DataTable[Cell], inherit_bindings=False):
    """Row-keyed table. `enter` is left to the screen (a remappable drill-down binding)."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        # Home/End go to the first/last row, as in k9s and less; ctrl+home/end too.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
        # k9s and vi: j/k move, g/G go to the first/last row (console/keys.py TABLE_KEYS keeps them off the
        # screens' bindings).
        Binding("j", "cursor_down", "Cursor down", show=False),
        Binding("k", "cursor_up", "Cursor up", show=False),
        Binding("g", "scroll_top", "First row", show=False),
        Binding("G", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, columns: Sequence[Column], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.table_columns = tuple(columns)
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self.sort_column: int | None = None
        self.sort_reverse = False

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for index, column in enumerate(self.table_columns):
            self.add_column(self._label(index), key=column.key, width=column.width)

    def _label(self, index: int) -> Text:
        label = shown(self.table_columns[index].label, "bold", no_wrap=True)
        if index == self.sort_column:
            # In front: a narrow column cuts its label's end, and the marker must stay visible.
            label = Text.assemble(("▼" if self.sort_reverse else "▲", "bold"), label, no_wrap=True)
        return label

    def set_columns(self, columns: Sequence[Column]) -> bool:
        """Replace the columns (a new layout, a new set of services); rows come back with the next sync."""
        if tuple(columns) == self.table_columns:
            return False
        self.table_columns = tuple(columns)
        if self.sort_column is not None and self.sort_column >= len(self.table_columns):
            self.sort_column = None
        self.clear(columns=True)
        self._cells.clear()
        self._add_columns()
        return True

    # -- queries ------------------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return [str(row.key.value) for row in self.ordered_rows]

    @property
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return None if row_key.value is None else str(row_key.value)

    def row_cells(self, key: str) -> tuple[Cell, ...]:
        """The cells shown for `key`; KeyError when the row is not in the table."""
        return self._cells[key]

    def move_to_key(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=index, scroll=True)
        return True

    # -- updates ------------------------------------------------------------------------------

    def sync(self, rows: Iterable[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table show exactly `rows`, touching only what changed."""
        keep = self.cursor_key
        column_keys = [ColumnKey(column.key) for column in self.table_columns]
        wanted: dict[str, tuple[Cell, ...]] = {key: tuple(cells) for key, cells in rows}
        resort = False
        changed: set[RowKey] = set()
        with self.app.batch_update():
            for key in [key for key in self._cells if key not in wanted]:
                self.remove_row(key)
                del self._cells[key]
            for key, cells in wanted.items():
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                    resort = True
                elif old != cells:
                    # PRIVATE_TEXTUAL_ALLOWED (tests/core/test_contracts.py): update_cell refreshes per cell, 8x
                    # the cost when a storm changes thousands; tests/ui/test_diff_table.py pins the behaviour.
                    row_key = RowKey(key)
                    row = self._data[row_key]
                    for index, (before, after) in enumerate(zip(old, cells, strict=True)):
                        if before != after:
                            # DataTable.update_cell's write without its refresh() per cell: under an event storm
                            # thousands of cells change per refresh, and one refresh repaints them all.
                            row[column_keys[index]] = after
                            changed.add(row_key)
                            if index == self.sort_column:
                                resort = True
                self._cells[key] = cells
            if resort:
                changed |= self._apply_sort()
            if changed:
                self._forget_rows(changed)
            if keep is not None and keep in self._cells:
                self.move_to_key(keep)

    def _forget_rows(self, keys: set[RowKey]) -> None:
        """Repaint these rows only. DataTable renders each cell through Rich (about 0.3 ms) and caches it keyed by
        a counter that any change bumps, so one changed cell had every visible cell rendered again (a third of the
        UI thread under an event storm). Cells and row renders are cached by row key: only the given rows' are
        dropped; the caches kept by position (lines, order, offsets) are cheap to rebuild and cleared."""
        # LRUCaches, not dicts: keys() is their only iteration.
        cells = self._cell_render_cache
        for cell_key in [cell_key for cell_key in cells.keys() if cell_key[0] in keys]:  # noqa: SIM118
            cells.discard(cell_key)
        rows = self._row_render_cache
        for row_key in [row_key for row_key in rows.keys() if row_key[0] in keys]:  # noqa: SIM118
            rows.discard(row_key)
        for positional in (self._line_cache, self._row_renderable_cache, self._ordered_row_cache,
                           self._offset_cache):
            positional.clear()
        self.refresh()

    def sort_description(self) -> str:
        """How the rows are sorted, in words ("" when by the default order)."""
        if self.sort_column is None:
            return ""
        column = self.table_columns[self.sort_column]
        return f"{column.label.lower()}, {column.orders[1 if self.sort_reverse else 0]}"

    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        """Sort by column index (None: the order rows were first given in is not kept; keys order)."""
        keep = self.cursor_key
        self.sort_column = column
        self.sort_reverse = reverse
        for index, table_column in enumerate(self.ordered_columns):
            table_column.label = self._label(index)
        self._apply_sort()
        self._update_count += 1  # the header's sort marker moved too: everything is drawn again
        self.refresh()
        if keep is not None:
            self.move_to_key(keep)
        # After the cursor's own scrolling has run: a "worst first" sort must show its first rows whenever
        # the cursor's row fits on screen with them, not keep the old scroll offset.
        self.call_after_refresh(self._show_first_rows_with_cursor)

    def _show_first_rows_with_cursor(self) -> None:
        visible_rows = self.scrollable_content_region.height - (self.header_height if self.show_header else 0)
        if self.cursor_row < visible_rows:
            self.scroll_to(y=0, animate=False)

    def _apply_sort(self) -> set[RowKey]:
        """Sort; the rows that moved (their cached renders carry their old position: the zebra stripe, the
        row a click lands on), for _forget_rows. DataTable.sort drops every cached render; the counter it bumps
        is put back and the caller forgets the moved rows instead."""
        column = self.sort_column
        before = {key: self._row_locations.get(key) for key in self._data}
        count = self._update_count
        if column is None:
            # Default order: the first column's sort value, which screens make a full natural key.
            self.sort(key=lambda row: row[0].sort)
        else:
            self.sort(key=lambda row: (row[column].sort, row[0].sort), reverse=self.sort_reverse)
        self._update_count = count
        return {key for key, index in before.items() if self._row_locations.get(key) != index}
