"""The admin list screens' common shape: a title, a one-line summary, a table of records, an empty hint, an optional detail.

:class:`AdminListScreen` is what the roster and the groups screens share: the
table is filled from a read model (plain values read in the app's store thread by
:meth:`AdminListScreen.read`), the highlighted record is kept across reloads, Enter
edits it, and an add or edit form (:class:`~iop_facilitator.tui.dialogs.form.FormScreen`)
reloads the list and highlights the saved record (:meth:`AdminListScreen.after_form`).
A subclass names its ids, columns and bindings and says how one record becomes a
row; the forms stay its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Static

from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader

ADMIN_CSS = str(Path(__file__).parent / "admin.tcss")

DataT = TypeVar("DataT")


def words(value: str) -> str:
    """An enum value as words (``relapse_prevention`` -> ``relapse prevention``)."""
    return value.replace("_", " ")


class AdminListScreen(Screen[None], Generic[DataT]):
    """A list of records with a form to add or edit one; subclasses fill in the blanks below."""

    CSS_PATH = ADMIN_CSS

    PREFIX: ClassVar[str]  # ids: "<prefix>-title", "<prefix>-hint", "<prefix>-empty"; bindings "<prefix>.add"
    TITLE_TEXT: ClassVar[str]  # the screen's heading
    NOUN: ClassVar[tuple[str, str]]  # ("member", "members")
    TABLE_ID: ClassVar[str]
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]]  # (heading, key)
    ROW_HEIGHT: ClassVar[int] = 1
    DETAIL_ID: ClassVar[str | None] = None  # a Static below the table about the highlighted record

    def __init__(self, screen_id: str) -> None:
        super().__init__(id=screen_id)
        self.data: DataT | None = None
        self._select_after_load: uuid.UUID | None = None

    # -- what a subclass says ----------------------------------------------------------
    def read(self) -> Callable[[Any], DataT]:
        """The read model: a function the store runs with a session, returning plain values."""
        raise NotImplementedError

    def records(self, data: DataT) -> tuple[Any, ...]:
        raise NotImplementedError

    @staticmethod
    def record_id(record: Any) -> uuid.UUID:
        raise NotImplementedError

    def row(self, record: Any, data: DataT) -> Iterable[Text]:
        raise NotImplementedError

    def summary(self, data: DataT) -> str:
        """The line under the title (counts, what is shown)."""
        raise NotImplementedError

    def render_detail(self, record: Any, detail: Static) -> None:
        """Fill the detail line for the highlighted record (only with a ``DETAIL_ID``)."""

    # -- the screen ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self.TITLE_TEXT, id=f"{self.PREFIX}-title", classes="admin-title")
        yield Static("Loading…", id=f"{self.PREFIX}-hint", classes="admin-hint")
        yield DataTable(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        yield Static("", id=f"{self.PREFIX}-empty", classes="empty-hint")
        if self.DETAIL_ID:
            yield Static("", id=self.DETAIL_ID)
        yield KeyFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    def on_mount(self) -> None:
        table = self.table
        for heading, key in self.COLUMNS:
            table.add_column(heading, key=key)
        self.query_one(f"#{self.PREFIX}-empty").display = False
        table.focus()
        self.reload()

    def reload(self) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return
        store.read(self.read(), self._loaded, self._failed)

    def _failed(self, problem: str) -> None:
        self.notify(problem, title=self.TITLE_TEXT, severity="error", timeout=10, markup=False)

    def _loaded(self, data: DataT) -> None:
        if not self.is_mounted:
            return
        self.data = data
        table = self.table
        current = self.selected()  # the highlighted row's record, looked up in the new data
        wanted = self._select_after_load or (self.record_id(current) if current is not None else None)
        self._select_after_load = None
        records = self.records(data)
        table.clear()
        for record in records:
            table.add_row(*self.row(record, data), key=str(self.record_id(record)), height=self.ROW_HEIGHT)
        if wanted is not None and str(wanted) in table.rows:
            table.move_cursor(row=table.get_row_index(str(wanted)), animate=False)
        empty = self.query_one(f"#{self.PREFIX}-empty", Static)
        empty.display = not records
        table.display = bool(records)
        add_key = key_label(self, f"{self.PREFIX}.add", default="a")
        empty.update(Text(f"No {self.NOUN[1]} yet: press {add_key} to add one."))
        self.query_one(f"#{self.PREFIX}-hint", Static).update(Text(self.summary(data)))
        self._show_detail()

    def selected(self) -> Any:
        """The highlighted record (a read-model value), or None."""
        if self.data is None:
            return None
        records = self.records(self.data)
        table = self.table
        if not records or not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return next((r for r in records if str(self.record_id(r)) == key), None)

    def need_selected(self) -> Any:
        """The highlighted record, or None after telling the user to highlight one."""
        record = self.selected()
        if record is None:
            self.notify(f"Highlight a {self.NOUN[0]} first.", markup=False)
        return record

    def after_form(self, message: str, select: uuid.UUID | None = None) -> Callable[[Any], None]:
        """The callback of a form: on a save, say ``message``, reload and highlight the saved record."""

        def finished(result: Any) -> None:
            if result is None:  # cancelled
                return
            if isinstance(result, uuid.UUID):
                self._select_after_load = result
            elif select is not None:
                self._select_after_load = select
            self.notify(message, markup=False)
            self.reload()

        return finished

    def _show_detail(self) -> None:
        if not self.DETAIL_ID:
            return
        detail = self.query_one(f"#{self.DETAIL_ID}", Static)
        record = self.selected()
        detail.display = record is not None
        if record is not None:
            self.render_detail(record, detail)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == self.TABLE_ID:
            self.action_edit()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == self.TABLE_ID:
            self._show_detail()

    # -- actions common to the list screens ----------------------------------------------
    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.reload()

    def action_edit(self) -> None:
        raise NotImplementedError
