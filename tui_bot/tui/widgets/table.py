"""KeyedTable: a DataTable updated row by row, by key; never cleared and rebuilt on a tick."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from tui_bot.engine.snapshot import Snapshot

Cell = Text
Row = tuple[Cell, ...]
Justify = Literal["left", "right"]
Column = tuple[str, str, Justify]  # key, label, justify


def cell(value: str, style: str = "", justify: Justify = "left") -> Text:
    """A table cell. Plain Text, so symbols or messages are never parsed as markup.

    Tables have no cell padding; the one leading space of every cell separates the columns.
    """
    return Text(" " + value, style=style, justify=justify, end="")


def num(value: str, style: str = "") -> Text:
    return cell(value, style, "right")


def _same(a: Text, b: Text) -> bool:
    return a.plain == b.plain and a.style == b.style and a.justify == b.justify


class KeyedTable(DataTable[Text]):
    """Columns are declared once; `sync` adds, updates and removes rows by key."""

    # a class's columns; a table whose columns depend on how it is used sets its own
    COLUMNS: Sequence[Column] = ()
    TITLE: ClassVar[str] = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id, classes=classes, cursor_type="row", zebra_stripes=False, cell_padding=0
        )
        self.border_title = self.TITLE
        self._cells: dict[str, Row] = {}
        self.last_snapshot: Snapshot | None = None

    def on_mount(self) -> None:
        for key, label, justify in self.COLUMNS:
            self.add_column(cell(label, "", justify), key=key)

    # -- to implement ----------------------------------------------------------------------
    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        raise NotImplementedError

    def subtitle_for(self, snapshot: Snapshot) -> str:
        return ""

    # -- rendering ---------------------------------------------------------------------------
    def show(self, snapshot: Snapshot) -> None:
        self.last_snapshot = snapshot
        self.sync(self.rows_for(snapshot))
        self.border_subtitle = self.subtitle_for(snapshot)

    def restyle(self) -> None:
        """Theme changed: cells carry theme colours, so write every cell again."""
        self._cells = {key: tuple(cell("") for _ in row) for key, row in self._cells.items()}
        if self.last_snapshot is not None:
            self.show(self.last_snapshot)

    def sync(self, rows: Mapping[str, Row]) -> None:
        """Make the table hold exactly `rows`, touching only what changed."""
        with self.app.batch_update():
            for key in [k for k in self._cells if k not in rows]:
                self.remove_row(key)
                del self._cells[key]
            columns = [key for key, _, _ in self.COLUMNS]
            for key, row in rows.items():
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*row, key=key)
                    self._cells[key] = row
                    continue
                kept = []
                for column, new, before in zip(columns, row, old, strict=True):
                    if _same(new, before):
                        kept.append(before)
                    else:
                        self.update_cell(key, column, new, update_width=True)
                        kept.append(new)
                self._cells[key] = tuple(kept)
            self._order(list(rows))

    def _order(self, keys: list[str]) -> None:
        """Show rows in the order of `keys` (a sort of the existing rows, no rebuild)."""
        if self.row_keys() == keys:
            return
        position = {id(self._cells[key][0]): index for index, key in enumerate(keys)}
        self.sort(key=lambda cells: position.get(id(cells[0]), len(position)))

    def row_keys(self) -> list[str]:
        """Keys in display order."""
        return [str(row.key.value) for row in self.ordered_rows]

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key: RowKey = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # the cursor is outside the rows
            return None
        return None if key.value is None else str(key.value)

    def theme_colour(self, name: str) -> str:
        """A colour from the app's current theme ($success, $error, ...) as a style string."""
        return self.app.theme_variables.get(name, "")
