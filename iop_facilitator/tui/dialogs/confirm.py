"""Yes-or-no dialogs: :class:`Confirm` (a question with its answers named) and :class:`LeaveConfirm` (leaving the meeting)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from iop_facilitator.tui.keys import key_label

CSS_FILE = str(Path(__file__).with_suffix(".tcss"))

class Confirm(ModalScreen[bool]):
    """Yes or no, by keyboard: Enter confirms, Escape cancels."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("escape,n", "answer(False)", "No", id="confirm.no", tooltip="Cancel"),
    ]

    def __init__(self, title: str, body: str, yes: str, no: str = "Not now") -> None:
        super().__init__(classes="confirm-screen")
        self._title, self._body, self._yes, self._no = title, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="confirm-dialog"):
            yield Static(Text(self._title), classes="confirm-title")
            yield Static(Text(self._body), classes="confirm-body")
            yes, no = key_label(self, "confirm.yes", type(self)), key_label(self, "confirm.no", type(self))
            yield Static(Text(f"{yes}: {self._yes}    {no}: {self._no}"), classes="confirm-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LeaveConfirm(ModalScreen[bool]):
    """Esc on a step's list: one key to leave (``y``); any other key stays in the meeting."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Leave", id="meeting.leave_yes", tooltip="Leave the meeting for the home screen"),
        Binding("n,escape", "answer(False)", "Stay", id="meeting.leave_no", tooltip="Stay in the meeting"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="leave-dialog"):
            yield Static(Text("Leave the meeting for the home screen?", style="bold"))
            yield Static(Text("It stays open: reopening it comes back to this step, this field and this member."))
            yield Static(Text(f"{key_label(self, 'meeting.leave_yes', type(self))}: leave    any other key: stay"),
                         id="leave-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_key(self, event: events.Key) -> None:
        if event.key in ("y", "n", "escape"):
            return  # the bindings answer
        event.stop()
        event.prevent_default()
        self.notify("Still in the meeting; that key was not typed anywhere.", markup=False, timeout=4)
        self.dismiss(False)
