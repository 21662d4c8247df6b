"""F1: every key binding of the screen underneath, in a modal.

The app collects the rows (:func:`binding_rows`) from the calling screen's
active bindings, so a user's keymap (``[keys]`` in config.toml) is reflected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


@dataclass(frozen=True)
class BindingRow:
    keys: str
    description: str
    binding_id: str


def binding_rows(screen: Screen) -> list[BindingRow]:
    """The bindings active on ``screen`` (focused widget, screen, app), one row per action.

    Several keys for one action share a row. Rows of bindings with an id (the
    app's own, which a keymap can change) come first. A hidden binding that does
    nothing here now is left out (the notes step's pick keys: only those of the
    fact under the cursor are keys on this screen).
    """
    app = screen.app
    merged: dict[tuple[str, str], tuple[list[str], str, str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.system or (not active.enabled and not binding.show):
            continue
        description = binding.description or binding.action.replace("_", " ")
        ident = binding.id or ""
        slot = (ident or f"{id(active.node)}:{binding.action}", description)
        keys, _desc, _ident = merged.setdefault(slot, ([], description, ident))
        shown = app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    rows = [BindingRow(", ".join(keys), desc, ident) for keys, desc, ident in merged.values()]
    return sorted(rows, key=lambda row: (row.binding_id == "", row.binding_id))


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; Escape (or F1, or q) closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, rows: list[BindingRow], *, config_hint: str = "") -> None:
        super().__init__(id="help")
        self.rows = rows
        self.config_hint = config_hint

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("Keys on this screen", id="help-title", markup=False)
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            hint = "Escape closes this list. Ctrl+P searches every command."
            if self.config_hint:
                hint += " " + self.config_hint
            yield Static(hint, id="help-hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.add_column(Text("Key"), key="key")
        table.add_column(Text("Action"), key="action")
        table.add_column(Text("Id (for [keys] in config.toml)"), key="id")
        for row in self.rows:
            table.add_row(Text(row.keys), Text(row.description), Text(row.binding_id))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
