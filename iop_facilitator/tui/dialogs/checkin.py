"""The check-in step's two small dialogs: a drop-in (a member not on today's list) and a brand-new member."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.keys import key_label

CSS_FILE = str(Path(__file__).with_suffix(".tcss"))

class DropInScreen(ModalScreen[uuid.UUID | None]):
    """Find an existing member who is not on today's list. Names appear only after two letters."""

    CSS_PATH = CSS_FILE
    MIN_LETTERS = 2
    MAX_SHOWN = 8
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="checkin.dropin_cancel", tooltip="Close without adding"),
        Binding("down", "move(1)", "Next", id="checkin.dropin_down", show=False),
        Binding("up", "move(-1)", "Previous", id="checkin.dropin_up", show=False),
    ]

    def __init__(self, candidates: list[tuple[uuid.UUID, str]]) -> None:
        super().__init__(id="checkin-dropin")
        self.candidates = [(mid, clean_line(name)) for mid, name in candidates]

    def compose(self) -> ComposeResult:
        with Vertical(id="dropin-dialog", classes="checkin-dialog"):
            yield Static("Add a drop-in: a member who is not enrolled in this group", classes="dialog-title",
                         markup=False)
            yield Input(placeholder="Type two or more letters of the display name", id="dropin-name")
            yield OptionList(id="dropin-matches")
            yield Static("", id="dropin-status", classes="dialog-hint", markup=False)
            cancel = key_label(self, "checkin.dropin_cancel", type(self))
            yield Static(f"Enter adds the highlighted member (marked present) · ↑↓ choose · {cancel} cancels",
                         classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self._list_matches("")
        self.query_one("#dropin-name", Input).focus()

    def matches(self, text: str) -> list[tuple[uuid.UUID, str]]:
        needle = clean_line(text).lower()
        if len(needle) < self.MIN_LETTERS:
            return []
        return [(mid, name) for mid, name in self.candidates if needle in name.lower()][: self.MAX_SHOWN]

    def _list_matches(self, text: str) -> None:
        found = self.matches(text)
        options = self.query_one("#dropin-matches", OptionList)
        options.clear_options()
        options.add_options([Option(Text(name), id=str(mid)) for mid, name in found])
        options.display = bool(found)
        if found:
            options.highlighted = 0
        status = self.query_one("#dropin-status", Static)
        if len(clean_line(text)) < self.MIN_LETTERS:
            status.update(Text(""))
        elif not found:
            status.update(Text("No one else by that name (members already on today's list are not offered)."))
        else:
            status.update(Text(f"{len(found)} found"))

    @on(Input.Changed, "#dropin-name")
    def _changed(self, event: Input.Changed) -> None:
        self._list_matches(event.value)

    @on(Input.Submitted, "#dropin-name")
    def _submitted(self) -> None:
        self._choose()

    @on(OptionList.OptionSelected, "#dropin-matches")
    def _selected(self) -> None:
        self._choose()

    def _choose(self) -> None:
        options = self.query_one("#dropin-matches", OptionList)
        if options.highlighted is None or options.option_count == 0:
            return
        option = options.get_option_at_index(options.highlighted)
        self.dismiss(uuid.UUID(option.id))

    def action_move(self, step: int) -> None:
        options = self.query_one("#dropin-matches", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -1
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_close(self) -> None:
        self.dismiss(None)


class NewMemberScreen(ModalScreen[str | None]):
    """A brand-new member: their display name, checked by the same rule the service applies."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel", id="checkin.newmember_cancel", tooltip="Close without adding"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="newmember-dialog", classes="checkin-dialog"):
            yield Static("Add a new member (enrolled in this group from today and marked present)",
                         classes="dialog-title", markup=False)
            yield Input(placeholder="Preferred first name and last initial, e.g. Jordan M.", id="newmember-name")
            yield Static("", id="newmember-problem", markup=False)
            cancel = key_label(self, "checkin.newmember_cancel", type(self))
            yield Static(f"Enter adds · {cancel} cancels. The name is shown to the room: first name and last initial only.",
                         classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#newmember-name", Input).focus()

    @on(Input.Submitted, "#newmember-name")
    def _submitted(self, event: Input.Submitted) -> None:
        from iop_facilitator.errors import IopError
        from iop_facilitator.services.members import normalise_display_name

        try:
            name = normalise_display_name(event.value)
        except IopError as problem:
            self.query_one("#newmember-problem", Static).update(Text(f"⚠ {clean_line(str(problem))}"))
            return
        self.dismiss(name)

    @on(Input.Changed, "#newmember-name")
    def _changed(self) -> None:
        self.query_one("#newmember-problem", Static).update(Text(""))

    def action_close(self) -> None:
        self.dismiss(None)
