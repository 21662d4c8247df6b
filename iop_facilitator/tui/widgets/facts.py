"""The facts of one member's note as rows of picks, one key each (the notes step).

The pane gives :class:`FactsPanel` its rows (:meth:`FactsPanel.show`): goals addressed
(digits tick a goal of the member's plan), progress per addressed goal, participation,
affect, the risk screen and substance use (the leader's observation is the pane's own field,
right below). Each row under the cursor lists its
choices with their key (``i improved · n no change · w worse``; the others show what was
picked), and takes the keys. A pick moves the cursor on to the next row not picked yet (past the
last, the pane opens the observation), so the usual note is a handful of keys in a row; ↑/↓
move between rows to correct one. Ticking goals (digits) leaves the cursor where it is. Enter
on a row with words (a goal's measurable value, the presentation, the use detail) asks for
them.

The panel changes nothing itself: it posts :class:`FactsPanel.Picked` (the row, the
value) and :class:`FactsPanel.Words` (the row wants its words typed) up to the pane,
which saves through the store and gives the panel new rows.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from iop_facilitator.tui.keys import key_label

PICK_KEYS = string.ascii_lowercase + "123456789"


@dataclass(frozen=True)
class Choice:
    key: str  # one letter or digit
    value: str
    label: str


@dataclass(frozen=True)
class FactRow:
    """One row of the panel: a fact and its choices.

    ``name``: "goals", "progress:<goal id>", "participation", "affect", "risk", "use" or
    "observation". ``chosen``: the values picked now. ``multi``: a pick toggles one value
    (goals, affect) instead of replacing the choice. ``words``: what Enter asks for ("" when
    the row has no words). ``detail``: those words as saved. ``hint``: one more line (e.g. a
    concern raised at check-in).
    """

    name: str
    title: str
    choices: tuple[Choice, ...] = ()
    chosen: frozenset[str] = frozenset()
    multi: bool = False
    words: str = ""
    detail: str = ""
    hint: str = ""
    needed: bool = True  # the row still wants a pick (the cursor starts on the first such row)

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)


class FactsPanel(Widget, can_focus=True):
    """Rows of picks for one member's note facts (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "row(-1)", "Previous fact", id="facts.up", show=False, tooltip="The fact above"),
        Binding("down", "row(1)", "Next fact", id="facts.down", show=False, tooltip="The fact below"),
        Binding("enter", "words", "Words", id="facts.words", tooltip="Type the words of this fact"),
        *(Binding(key, f"pick('{key}')", f"Pick the choice marked {key}", id=f"facts.pick_{key}", show=False,
                  tooltip="Pick the choice with this key on the highlighted fact") for key in PICK_KEYS),
    ]

    rows: reactive[tuple[FactRow, ...]] = reactive((), always_update=True)
    cursor: reactive[int] = reactive(0)

    class Picked(Message):
        """The leader picked ``value`` on ``row`` (for a multi row: toggled it)."""

        def __init__(self, panel: FactsPanel, row: FactRow, value: str) -> None:
            super().__init__()
            self.panel = panel
            self.row = row
            self.value = value

    class Words(Message):
        """The leader asked to type the words of ``row`` (Enter)."""

        def __init__(self, panel: FactsPanel, row: FactRow) -> None:
            super().__init__()
            self.panel = panel
            self.row = row

    class Done(Message):
        """The cursor moved past the last row (the pane then opens the observation)."""

        def __init__(self, panel: FactsPanel) -> None:
            super().__init__()
            self.panel = panel

    def show(self, rows: tuple[FactRow, ...], *, start: bool = False) -> None:
        """Show ``rows``; ``start``: put the cursor on the first row that still wants a pick."""
        current = self.current_row
        self.rows = rows
        if start:
            self.cursor = next((i for i, row in enumerate(rows) if row.needed), max(0, len(rows) - 1))
        elif current is not None:
            same = next((i for i, row in enumerate(rows) if row.name == current.name), None)
            self.cursor = same if same is not None else min(self.cursor, max(0, len(rows) - 1))
        else:
            self.cursor = 0

    @property
    def current_row(self) -> FactRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def go_to(self, name: str) -> bool:
        """Put the cursor on the row named ``name`` (or starting with it: "progress"). False if none."""
        found = next((i for i, row in enumerate(self.rows) if row.name == name), None)
        if found is None:
            found = next((i for i, row in enumerate(self.rows) if row.name.startswith(name)), None)
        if found is None:
            return False
        self.cursor = found
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick":
            row = self.current_row
            return row is not None and row.choice(str(parameters[0])) is not None
        if action == "words":
            row = self.current_row
            return row is not None and bool(row.words)
        return True

    def action_row(self, delta: int) -> None:
        if not self.rows:
            return
        target = self.cursor + delta
        if target >= len(self.rows):
            self.post_message(self.Done(self))
            return
        self.cursor = max(0, target)

    def action_pick(self, key: str) -> None:
        row = self.current_row
        choice = row.choice(key) if row is not None else None
        if row is None or choice is None:
            return
        self.post_message(self.Picked(self, row, choice.value))
        if not row.multi or row.name == "affect":
            self.next_wanted()

    def next_wanted(self) -> None:
        """On to the next row that still wants a pick; past the last one, :class:`Done`."""
        following = next((i for i in range(self.cursor + 1, len(self.rows)) if self.rows[i].needed), None)
        if following is None:
            self.post_message(self.Done(self))
            return
        self.cursor = following

    def action_words(self) -> None:
        row = self.current_row
        if row is not None and row.words:
            self.post_message(self.Words(self, row))

    def watch_cursor(self) -> None:
        self.refresh(layout=True)
        self.refresh_bindings()  # check_action depends on the row under the cursor (Enter: its words)

    def watch_rows(self) -> None:
        self.refresh(layout=True)
        self.refresh_bindings()

    def render(self) -> Text:
        """The row under the cursor shows every choice with its key; the others what was picked."""
        text = Text(no_wrap=False, overflow="fold")
        for index, row in enumerate(self.rows):
            if index:
                text.append("\n")
            here = index == self.cursor and self.has_focus
            text.append("▸ " if index == self.cursor else "  ", style="bold" if here else "")
            text.append(row.title, style="bold")
            if row.name == "goals":
                for choice in row.choices:
                    ticked = choice.value in row.chosen
                    if not here and not ticked:
                        continue
                    text.append(f"\n    {choice.key} " if here else "\n    ", style="bold underline" if here else "")
                    text.append("[x] " if ticked else "[ ] ")
                    text.append(choice.label)
                if not row.chosen and not here:
                    text.append(" none ticked", style="italic")
            elif here:
                text.append(":")
                for choice in row.choices:
                    picked = choice.value in row.chosen
                    text.append(" ")
                    text.append(choice.key, style="bold underline")
                    text.append(" ")
                    text.append(choice.label, style="reverse" if picked else "")
                if row.detail:
                    text.append(f" · {row.detail}")
                if row.words:
                    text.append(f" · {key_label(self, 'facts.words', owner=FactsPanel)}: {row.words}", style="italic")
            else:
                picked = [c.label for c in row.choices if c.value in row.chosen]
                text.append(": " + (", ".join(picked) if picked else "–"))
                if row.detail:
                    text.append(f" · {row.detail}")
            if row.hint:
                text.append(f"\n    {row.hint}", style="italic")
        return text

    def on_focus(self) -> None:
        self.refresh(layout=True)

    def on_blur(self) -> None:
        self.refresh(layout=True)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return max(1, len(self.render().wrap(self.app.console, max(1, width))))
