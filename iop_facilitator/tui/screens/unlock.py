"""The unlock screen: shown before anything else for an encrypted database, and as the automatic lock.

It is a full screen (like the privacy curtain), so nothing of the meeting, the group or
the clinic shows behind it. For an encrypted database it asks for the passphrase (a
masked input; the app checks it in a thread worker); for a plain database the idle lock
is a screen lock only, and Enter unlocks it. Ctrl+Q (the app's key) still quits.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from iop_facilitator.services.text import clean_line

OPENING = "open"  # the app starts on an encrypted database: the passphrase opens it
RELOCK = "relock"  # the idle lock of an open database


class UnlockScreen(Screen[None]):
    """Passphrase (encrypted) or Enter (plain, screen lock only); see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "unlock", "Unlock", id="unlock.enter", tooltip="Unlock"),
    ]

    def __init__(self, *, mode: str, encrypted: bool, problem: str = "") -> None:
        super().__init__(id="unlock")
        self.mode = mode
        self.encrypted = encrypted
        self._initial_problem = problem
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-box"):
            if self.mode == OPENING:
                yield Static("The database is encrypted.", id="unlock-title", markup=False)
            else:
                yield Static("Locked after a quiet spell.", id="unlock-title", markup=False)
            if self.encrypted:
                yield Static("Type the passphrase and press Enter. Ctrl+Q quits.", id="unlock-hint", markup=False)
                yield Input(password=True, placeholder="passphrase", id="unlock-passphrase")
            else:
                yield Static(
                    "Screen lock only (this database is not encrypted). Press Enter to unlock. Ctrl+Q quits.",
                    id="unlock-hint",
                    markup=False,
                )
            yield Static(clean_line(self._initial_problem), id="unlock-status", markup=False)

    def on_mount(self) -> None:
        if self.encrypted:
            self.query_one("#unlock-passphrase", Input).focus()

    @on(Input.Submitted, "#unlock-passphrase")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._try(event.value)

    def action_unlock(self) -> None:
        if self.encrypted:
            self._try(self.query_one("#unlock-passphrase", Input).value)
        else:
            self.app.unlock_plain()  # type: ignore[attr-defined]

    def _try(self, passphrase: str) -> None:
        if self.busy:
            return
        if not passphrase:
            self.show_problem("Type the passphrase first.")
            return
        self.busy = True
        field = self.query_one("#unlock-passphrase", Input)
        field.value = ""  # the typed passphrase does not stay in the widget
        field.disabled = True
        self.show_problem("Checking…")
        self.app.try_unlock(passphrase, self.mode)  # type: ignore[attr-defined]

    def attempt_failed(self, problem: str) -> None:
        """The app's worker reports a wrong passphrase: one calm line, and try again."""
        self.busy = False
        if self.encrypted and self.is_mounted:
            field = self.query_one("#unlock-passphrase", Input)
            field.disabled = False
            field.focus()
        self.show_problem(problem)

    def show_problem(self, text: str) -> None:
        if self.is_mounted:
            self.query_one("#unlock-status", Static).update(clean_line(text))
