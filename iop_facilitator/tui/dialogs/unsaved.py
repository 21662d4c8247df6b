"""Quitting with typed text not in the database: say so, and never drop it without a choice.

Shown by the app's quit key when the store still holds text it could not save (a full
disk, a database gone or read-only, an open conflict). The leader can:

* ``w`` keep waiting: the app stays open and keeps trying; this dialog says when
  everything is saved and then quits by itself;
* ``r`` copy the text to a rescue file (0600, named on screen) and quit;
* ``Esc`` go back to the app.

Dismisses with ``"rescue"``, ``"saved"`` (everything got saved while waiting) or None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.store import Kept

CHECK_SECONDS = 0.5


class UnsavedOnQuit(ModalScreen[str | None]):
    CSS_PATH = str(Path(__file__).with_name("unsaved.tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "wait", "Keep waiting", id="unsaved.wait", tooltip="Stay open and keep trying to save"),
        Binding("r", "rescue", "Rescue file and quit", id="unsaved.rescue",
                tooltip="Copy the unsaved text to a private rescue file, then quit"),
        Binding("escape", "back", "Back", id="unsaved.back", tooltip="Back to the app"),
    ]

    def __init__(self, reason: str, kept: Sequence[Kept], others: int,
                 still_unsaved: Callable[[], tuple[list[Kept], int]]) -> None:
        super().__init__(id="unsaved")
        self.reason = reason
        self.kept = list(kept)
        self.others = others
        self.still_unsaved = still_unsaved
        self.waiting = False

    def compose(self) -> ComposeResult:
        with Vertical(id="unsaved-dialog"):
            yield Static(Text("Not everything is saved", style="bold"), id="unsaved-title")
            yield Static("", id="unsaved-reason")
            with VerticalScroll(id="unsaved-list"):
                yield Static("", id="unsaved-items")
            yield Static("", id="unsaved-hint")

    def on_mount(self) -> None:
        self._show()
        self.set_interval(CHECK_SECONDS, self._check)

    def _show(self) -> None:
        reason = clean_line(self.reason) or "the database has not taken these changes yet"
        self.query_one("#unsaved-reason", Static).update(Text(f"{reason[:1].upper()}{reason[1:]}."))
        items = Text()
        for kept in self.kept:
            size = len(kept.text)
            items.append("• ")
            items.append(clean_line(kept.label))
            items.append(f" ({size:,} character{'s' if size != 1 else ''})\n", style="dim")
        if self.others:
            items.append(f"• {self.others} other change{'s' if self.others != 1 else ''} (marks, ratings, "
                         "times) waiting to be saved\n")
        self.query_one("#unsaved-items", Static).update(items)
        from iop_facilitator.tui.keys import key_label

        wait = key_label(self, "unsaved.wait", UnsavedOnQuit, "w")
        rescue_key = key_label(self, "unsaved.rescue", UnsavedOnQuit, "r")
        back = f"{key_label(self, 'unsaved.back', UnsavedOnQuit, 'esc')}: back to the app"
        if self.waiting:
            hint = (f"Waiting: the app keeps trying and quits by itself once everything is saved · "
                    f"{rescue_key}: rescue file and quit · {back}")
        else:
            rescue = (f"{rescue_key}: copy the text to a rescue file only you can read, and quit · " if self.kept else
                      f"{rescue_key}: quit anyway (there is no typed text to rescue) · ")
            hint = f"{wait}: keep waiting (quit once saved) · {rescue}{back}"
        self.query_one("#unsaved-hint", Static).update(Text(hint, style="bold"))

    def _check(self) -> None:
        kept, others = self.still_unsaved()
        if not kept and not others:
            self.dismiss("saved")
            return
        if [(k.key, k.text) for k in kept] != [(k.key, k.text) for k in self.kept] or others != self.others:
            self.kept, self.others = kept, others
            self._show()

    def action_wait(self) -> None:
        self.waiting = True
        self._show()

    def action_rescue(self) -> None:
        self.dismiss("rescue")

    def action_back(self) -> None:
        self.dismiss(None)
