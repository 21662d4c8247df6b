"""Fields with a limit: shown on screen, and never cut without the leader's say.

:class:`LimitedInput` is a one-line field that shows its limit (``12/40`` on its
border), says so when a typed key does not fit, keeps every line of a multi-line
paste (joined by spaces; Textual's ``Input`` keeps only the first line) and asks
(:class:`PasteTooLong`) before a paste that would not fit, pasting only what the
leader agrees to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.tui.keys import key_label

# --------------------------------------------------------------------------- fields with a limit


class PasteTooLong(ModalScreen[bool]):
    """A paste that would not fit: paste what fits (y) or nothing (n / Esc)."""

    CSS_PATH = str(Path(__file__).with_suffix(".tcss"))

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Paste what fits", id="paste.fit", tooltip="Paste the part that fits"),
        Binding("n,escape", "answer(False)", "Paste nothing", id="paste.cancel", tooltip="Paste nothing"),
    ]

    def __init__(self, what: str, pasted: int, room: int, limit: int) -> None:
        super().__init__(classes="paste-screen")
        self.what, self.pasted, self.room, self.limit = what, pasted, room, limit

    def compose(self) -> ComposeResult:
        left_out = self.pasted - self.room
        with Vertical(classes="paste-dialog"):
            yield Static(Text("This paste does not fit", style="bold"))
            yield Static(Text(
                f"The paste has {self.pasted:,} characters; {self.what} holds {self.limit:,} and has room for "
                f"{self.room:,} more. Pasting what fits leaves out the last {left_out:,} characters."
            ))
            fit, cancel = key_label(self, "paste.fit", type(self)), key_label(self, "paste.cancel", type(self), every=True)
            yield Static(Text(f"{fit}: paste the first {self.room:,} characters    {cancel}: paste nothing"),
                         classes="paste-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LimitedInput(Input):
    """A one-line field that shows its limit and never drops typed or pasted text without a word.

    ``what`` names the field in messages ("the note"). The counter shows on the field's
    bottom border; ``limit`` 0 means no limit (multi-line pastes are still joined, not cut).
    """

    def __init__(self, *args: Any, limit: int = 0, what: str = "this field", **kwargs: Any) -> None:
        super().__init__(*args, max_length=limit, **kwargs)
        self.limit = limit
        self.what = what

    def on_mount(self) -> None:
        self._count()

    def set_limit(self, limit: int, what: str | None = None) -> None:
        self.limit = limit
        self.max_length = limit
        if what is not None:
            self.what = what
        self._count()

    def watch_value(self, value: str) -> None:
        self._count()

    def _count(self) -> None:
        if self.limit:
            used = len(self.value)
            self.border_subtitle = f"{used:,}/{self.limit:,}" + (" full" if used >= self.limit else "")
        else:
            self.border_subtitle = ""

    def restricted(self) -> None:
        """A key that does not fit: say so (Textual only rings the bell)."""
        if self.limit and len(self.value) >= self.limit:
            self.notify(f"{self.what.capitalize()} is full: it holds {self.limit:,} characters.",
                        severity="warning", timeout=4, markup=False)
        else:
            super().restricted()

    async def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # Input's own handler keeps only the first line
        event.stop()
        text = clean_line(event.text) if "\n" in event.text else clean(event.text)
        if not text:
            return
        start, end = sorted(self.selection)
        room = self.limit - (len(self.value) - (end - start)) if self.limit else len(text)
        if len(text) <= room:
            self.replace(text, start, end)
            return
        if room <= 0:
            self.notify(f"{self.what.capitalize()} is full ({self.limit:,} characters): nothing was pasted.",
                        severity="warning", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.replace(text[:room], start, end)
                self.notify(f"Pasted the first {room:,} characters; {len(text) - room:,} were left out.",
                            markup=False)
            else:
                self.notify("Nothing was pasted.", markup=False)
            self.focus()

        self.app.push_screen(PasteTooLong(self.what, len(text), room, self.limit), callback=answered)
