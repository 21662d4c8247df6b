"""A stale edit, shown: both texts side by side, and the leader decides.

Opened by a step pane when a save met an
:class:`~iop_facilitator.errors.EditConflict` (someone else saved the same field, or
deleted the story note, after this screen loaded it). Nothing is saved and nothing
is dropped until the leader chooses:

* ``m`` keeps mine: my text is saved over theirs;
* ``t`` keeps theirs: my text is dropped, after a second key confirms it (``y``);
* ``e`` merges by editing: a field pre-filled with theirs and mine, ``Ctrl+S`` saves it.

The step pane opens the dialog only at a pause in the typing; should keys still arrive
within :data:`QUIET_SECONDS` of the last one typed in the field, they go on "mine"
(shown) instead of choosing, so a typed ``m``, ``t`` or ``e`` never decides anything.

Both texts are user text: cleaned and shown with markup off. The dialog dismisses
with a :class:`Resolution`; the pane saves the kept text as an edit of theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from iop_facilitator.services.text import clean, clean_line


QUIET_SECONDS = 0.5  # a pause this long ends typing: keys choose from then on


@dataclass(frozen=True)
class Resolution:
    """The leader's choice: keep theirs (``text`` unused), or save ``text`` (mine or merged)."""

    keep_theirs: bool
    text: str = ""


class ConflictDialog(ModalScreen[Resolution]):
    """Theirs and mine, and three ways out; see the module docstring."""

    CSS_PATH = str(Path(__file__).with_name("conflict.tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "mine", "Keep mine", id="conflict.mine", tooltip="Save my text over theirs"),
        Binding("t", "theirs", "Keep theirs", id="conflict.theirs", tooltip="Keep their text and drop mine (asks)"),
        Binding("e", "merge", "Merge", id="conflict.merge", tooltip="Edit a merged text, then save it"),
        Binding("ctrl+s", "save_merged", "Save merged", id="conflict.save", priority=True,
                tooltip="Save the merged text"),
        Binding("escape", "back", "Back", id="conflict.back", tooltip="Back to the choice (nothing is lost)"),
    ]

    def __init__(self, title: str, *, theirs: str | None, mine: str, deleted_choice: str = "Keep mine: save it again",
                 single_line: bool = False, limit: int = 0,
                 view: Callable[[str | None, str], tuple[str | None, str, str | None]] | None = None,
                 on_typed: Callable[[str], None] | None = None) -> None:
        """``view(theirs, mine)`` gives the texts to show and, for a field that is not free text (goals
        ticked), the merged value ``e`` keeps at once (None: merge by editing). ``on_typed(mine)``
        hears of letters typed on into the dialog (the text offered for rescue follows them)."""
        super().__init__(id="conflict")
        self.title_text = title
        self.theirs = theirs
        self.mine = mine
        self.deleted_choice = deleted_choice
        self.single_line = single_line
        self.limit = limit
        self.view = view or (lambda theirs, mine: (theirs, mine, None))
        self.on_typed = on_typed
        self.mode = "choose"  # "choose", "confirm" (dropping mine), "merge"
        # The pane opens the dialog at a pause in the typing; should keys still come without a
        # pause of QUIET_SECONDS since the field was last typed in, they are typing, not choices.
        self._typing = True
        self._last_key = 0.0
        #: When the field was last typed in (the pane sets it; the clock of ``clock.monotonic``).
        self.typed_at = 0.0

    # -- layout -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="conflict-dialog"):
            yield Static(Text(f"Changed elsewhere: {clean_line(self.title_text)}", style="bold"), id="conflict-title")
            yield Static("", id="conflict-why")
            with VerticalScroll(id="conflict-texts"):
                yield Static("", id="conflict-theirs-label", classes="conflict-label")
                yield Static("", id="conflict-theirs", classes="conflict-text")
                yield Static(Text("Yours (not saved yet):", style="bold"), classes="conflict-label")
                yield Static("", id="conflict-mine", classes="conflict-text")
            yield TextArea("", id="conflict-merge", soft_wrap=True)
            yield Static("", id="conflict-problem")
            yield Static("", id="conflict-hint")

    def on_mount(self) -> None:
        self._last_key = self.typed_at
        self._show()

    def _keep_typing(self, event: events.Key) -> None:
        """A key typed on after the dialog opened: it goes on my text (Backspace takes the last letter back)."""
        if event.key == "backspace":
            self.mine = self.mine[:-1]
        elif event.key == "enter" and not self.single_line:
            self.mine += "\n"
        elif event.is_printable and event.character:
            self.mine += event.character
        else:
            return
        if self.on_typed is not None:
            self.on_typed(self.mine)
        self._show()

    def update(self, *, mine: str, theirs: str | None) -> None:
        """A later save of the same field met the same change: show the newest texts.

        Letters typed on into the dialog (see :meth:`_keep_typing`) are newer than any save.
        """
        if not self.mine.startswith(mine):
            self.mine = mine
        self.theirs = theirs
        if self.is_mounted:
            self._show()

    def _show(self) -> None:
        deleted = self.theirs is None
        why = ("Someone deleted this note on another screen while you were editing it."
               if deleted else "Someone saved this field on another screen while you were typing.")
        self.query_one("#conflict-why", Static).update(Text(f"{why} Nothing is saved or lost until you choose."))
        self.query_one("#conflict-theirs-label", Static).update(
            Text("Theirs: deleted" if deleted else "Theirs (saved now):", style="bold"))
        theirs_shown, mine_shown, merged = self.view(self.theirs, self.mine)
        self.query_one("#conflict-theirs", Static).update(self._shown(theirs_shown))
        self.query_one("#conflict-mine", Static).update(self._shown(mine_shown))
        merging = self.mode == "merge"
        self.query_one("#conflict-texts").display = not merging
        self.query_one("#conflict-merge").display = merging
        if self.mode == "confirm":
            hint = ("Drop your text and keep theirs? y: drop mine · any other key: back"
                    if not deleted else "Let your text go (the note stays deleted)? y: yes · any other key: back")
        elif merging:
            hint = (f"Edit the text to keep · {self._key('conflict.save', 'ctrl+s')} saves it · "
                    f"{self._key('conflict.back', 'esc')} back (nothing is lost)")
        else:
            mine = self.deleted_choice if deleted else "Keep mine (saved over theirs)"
            theirs = "Let mine go (stays deleted)" if deleted else "Keep theirs (drops mine)"
            merge = "Edit a merged text" if merged is None else "Both (everything chosen on either screen)"
            hint = (f"{self._key('conflict.mine', 'm')}: {mine} · {self._key('conflict.theirs', 't')}: {theirs} · "
                    f"{self._key('conflict.merge', 'e')}: {merge}")
        self.query_one("#conflict-hint", Static).update(Text(hint, style="bold"))

    def _key(self, binding_id: str, default: str) -> str:
        """The key bound to ``binding_id`` now (the user's keymap may move it)."""
        from iop_facilitator.tui.keys import key_label

        return key_label(self, binding_id, ConflictDialog, default)

    @staticmethod
    def _shown(value: str | None) -> Text:
        if value is None:
            return Text("(deleted)", style="italic")
        text = clean(value).strip()
        return Text(text) if text else Text("(empty)", style="italic")

    # -- choices ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("mine", "theirs", "merge"):
            return self.mode == "choose"
        if action == "save_merged":
            return self.mode == "merge"
        return True

    def action_mine(self) -> None:
        self.dismiss(Resolution(False, self.mine))

    def action_theirs(self) -> None:
        self.mode = "confirm"
        self._show()

    def action_merge(self) -> None:
        merged = self.view(self.theirs, self.mine)[2]
        if merged is not None:
            self.dismiss(Resolution(False, merged))
            return
        self.mode = "merge"
        parts = [clean(p).strip() for p in (self.theirs, self.mine) if p is not None and clean(p).strip()]
        joined = (" " if self.single_line else "\n\n").join(dict.fromkeys(parts))  # the same text once
        area = self.query_one("#conflict-merge", TextArea)
        area.load_text(joined)
        self._show()
        area.focus()

    def action_save_merged(self) -> None:
        text = self.query_one("#conflict-merge", TextArea).text
        if self.single_line:
            text = clean_line(text)
        if self.limit and len(clean(text).strip()) > self.limit:
            self.query_one("#conflict-problem", Static).update(Text(
                f"The merged text has {len(clean(text).strip()):,} characters; this field holds {self.limit:,}. "
                "Shorten it, then Ctrl+S."))
            return
        self.dismiss(Resolution(False, text))

    def action_back(self) -> None:
        if self.mode == "choose":
            self.query_one("#conflict-problem", Static).update(Text(
                f"Choose first: {self._key('conflict.mine', 'm')} keeps yours, {self._key('conflict.theirs', 't')} "
                f"keeps theirs, {self._key('conflict.merge', 'e')} merges. Your text is kept until you do."))
            return
        self.mode = "choose"
        self.query_one("#conflict-problem", Static).update("")
        self._show()

    def on_key(self, event: events.Key) -> None:
        from iop_facilitator.clock import monotonic

        if self._typing:
            now = monotonic()
            if now - self._last_key < QUIET_SECONDS:
                # Still typing when the dialog opened: the letters belong to my text, not to the choice.
                event.stop()
                event.prevent_default()
                self._last_key = now
                self._keep_typing(event)
                return
            self._typing = False
        if self.mode != "confirm":
            return
        event.stop()
        event.prevent_default()
        if event.key == "y":
            self.dismiss(Resolution(True))
        else:
            self.mode = "choose"
            self._show()
