"""The crisis panel: the program's crisis lines and steps, and a safety event for a member.

Opened with one key from anywhere. The resources come from the program
settings (988, 911 and local numbers by default), never from topic files.
During a meeting the facilitator can record a safety event for a member (or
for the group); it then needs a disposition before the meeting can be signed.

The member under the cursor of the step on screen is chosen when the panel
opens; where the step has no member under a cursor nothing is chosen and the
leader must choose (never the first name of the list by default). The chosen
member is named in words above the list, so what is recorded is what is shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.widgets.fields import LimitedInput

GROUP_OPTION = "__group__"
SHORT_LINES = 30  # a terminal with fewer lines gets the compact panel


@dataclass(frozen=True)
class CrisisInfo:
    resources: tuple[tuple[str, str, str], ...]  # name, contact, when
    steps: tuple[str, ...]


@dataclass(frozen=True)
class SafetyRecord:
    member_id: uuid.UUID | None
    concern: str


class CrisisScreen(ModalScreen[SafetyRecord | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="crisis.close", tooltip="Close the crisis panel"),
        Binding("ctrl+s", "record", "Record safety event", id="crisis.record", tooltip="Record a safety event", priority=True),
    ]

    def __init__(self, info: CrisisInfo, members: list[tuple[uuid.UUID, str]] | None = None,
                 chosen: uuid.UUID | None = None) -> None:
        super().__init__(id="crisis")
        self.info = info
        self.members = members
        self.chosen = chosen if members and any(mid == chosen for mid, _ in members) else None

    def compose(self) -> ComposeResult:
        # The crisis lines stay in view whatever has the focus (they are outside the part that
        # scrolls), and so do who is chosen and the keys; the steps and the form scroll between.
        with Vertical(id="crisis-dialog"):
            yield Static("Crisis resources", id="crisis-title", markup=False)
            with VerticalScroll(id="crisis-resources", can_focus=False):
                for name, contact, when in self.info.resources:
                    line = Text()
                    line.append(clean_line(name), style="bold")
                    line.append(f": {clean_line(contact)}")
                    if when:
                        line.append(f"  ({clean_line(when)})")
                    yield Static(line, classes="crisis-resource")
            with VerticalScroll(id="crisis-body"):
                yield Static("Steps to take", classes="crisis-subtitle", markup=False)
                for index, step in enumerate(self.info.steps, 1):
                    yield Static(f"{index}. {clean_line(step)}", classes="crisis-step", markup=False)
                if self.members is not None:
                    yield Static("Record a safety event for", classes="crisis-subtitle", markup=False)
                    options = [Option(clean_line(name), id=str(mid)) for mid, name in self.members]
                    options.append(Option("The group / not one member", id=GROUP_OPTION))
                    yield OptionList(*options, id="crisis-member")
                    yield LimitedInput(placeholder="What happened, in a few words (no other names)",
                                       id="crisis-concern", what="the concern")
            if self.members is not None:
                yield Static("", id="crisis-chosen", markup=False)
                record, close = key_label(self, "crisis.record", type(self)), key_label(self, "crisis.close", type(self))
                yield Static(f"↑↓ choose who · {record} records the event (it needs a disposition before signing) · "
                             f"{close} closes.", id="crisis-hint", markup=False)
            else:
                yield Static(f"{key_label(self, 'crisis.close', type(self))} closes this panel.", id="crisis-hint",
                             markup=False)

    def on_resize(self, event: events.Resize) -> None:
        # On a short terminal (24 lines) the panel takes the whole height and the list fewer
        # lines, so the list, the concern and the crisis lines all fit at once.
        self.set_class(event.size.height < SHORT_LINES, "-short")

    def on_mount(self) -> None:
        self.set_class(self.app.size.height < SHORT_LINES, "-short")
        if self.members is not None:
            chooser = self.query_one("#crisis-member", OptionList)
            ids = [str(mid) for mid, _ in self.members]
            chooser.highlighted = ids.index(str(self.chosen)) if self.chosen is not None else None
            self._show_chosen()
            chooser.focus()

    def _chosen_option(self) -> str | None:
        chooser = self.query_one("#crisis-member", OptionList)
        if chooser.highlighted is None or not chooser.option_count:
            return None
        return chooser.get_option_at_index(chooser.highlighted).id

    def _show_chosen(self) -> None:
        option_id = self._chosen_option()
        line = Text()
        if option_id is None:
            line.append("Nobody chosen yet: ", style="bold")
            line.append("press ↓ to choose the member (or the group).")
        else:
            name = next((clean_line(n) for mid, n in self.members or () if str(mid) == option_id),
                        "the group / not one member")
            line.append("For: ", style="bold")
            line.append(name, style="bold reverse")
        self.query_one("#crisis-chosen", Static).update(line)

    @on(OptionList.OptionHighlighted, "#crisis-member")
    def _highlighted(self) -> None:
        self._show_chosen()

    @on(OptionList.OptionSelected, "#crisis-member")
    def _selected(self) -> None:
        self.query_one("#crisis-concern", LimitedInput).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_record(self) -> None:
        if self.members is None:
            return
        option_id = self._chosen_option()
        if option_id is None:
            self.notify("Choose the member (or the group) first: ↑↓ in the list.", severity="warning", markup=False)
            self.query_one("#crisis-member", OptionList).focus()
            return
        member_id = None if option_id == GROUP_OPTION else uuid.UUID(option_id)
        concern = clean(self.query_one("#crisis-concern", LimitedInput).value).strip()
        self.dismiss(SafetyRecord(member_id, concern))

    def on_input_submitted(self) -> None:
        self.action_record()
