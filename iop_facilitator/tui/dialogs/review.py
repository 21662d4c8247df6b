"""The review step's dialogs: a safety event's disposition, the group's times, signing, co-signing, an addendum.

Each loads :file:`review.tcss` beside it (the meeting screen loads it too, so the first
dialog opens without reading a stylesheet).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static, TextArea

from iop_facilitator.enums import RiskLevel
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.timefmt import typed_time
from iop_facilitator.tui.keys import key_label

CSS_FILE = str(Path(__file__).with_suffix(".tcss"))

RISK_LABELS = {
    RiskLevel.not_assessed: "Not assessed",
    RiskLevel.low: "Low",
    RiskLevel.moderate: "Moderate",
    RiskLevel.high: "High",
    RiskLevel.imminent: "Imminent",
}


class ChoiceSet(RadioSet):
    """Radio buttons where the highlight is the choice: arrows choose, no wrap-around.

    Textual's ``RadioSet`` moves a highlight with the arrows and changes the choice only on
    Enter or Space, so a dialog could show "Low" highlighted and save "Not assessed".
    Here moving is choosing, and the highlight starts on the button that is pressed.
    """

    def _move(self, step: int) -> None:
        buttons = list(self.query(RadioButton))
        if not buttons:
            return
        if self._selected is None:  # mounting (RadioSet selects a first button): start on the pressed one
            on = [i for i, button in enumerate(buttons) if button.value]
            self._selected = on[0] if on else 0
            return
        index = max(0, min(len(buttons) - 1, self._selected + step))
        self._selected = index
        if not buttons[index].value:
            buttons[index].value = True  # presses it; the set releases the others and posts Changed

    def action_next_button(self) -> None:
        self._move(1)

    def action_previous_button(self) -> None:
        self._move(-1)


class DispositionDialog(ModalScreen["tuple[RiskLevel, str] | None"]):
    """Risk level and disposition of one safety event."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="review.dialog_save", tooltip="Save", priority=True),
        Binding("escape", "cancel", "Cancel", id="review.dialog_cancel", tooltip="Cancel"),
    ]

    def __init__(self, heading: str, concern: str, risk: str, disposition: str, problem: str = "") -> None:
        super().__init__(id="review-disposition-dialog")
        self.heading = heading
        self.concern = concern
        self.problem = problem  # why the last save of this disposition failed (shown; the text is back)
        try:
            self.risk = RiskLevel(risk)
        except ValueError:
            self.risk = RiskLevel.not_assessed
        self.disposition = disposition

    def compose(self) -> ComposeResult:
        with Vertical(classes="review-dialog"):
            yield Static(self.heading, classes="review-dialog-title", markup=False)
            yield Static(Text(f"Concern: {clean_line(self.concern) or '(not described)'}"), classes="review-dialog-text")
            yield Static("Risk level", classes="review-dialog-label", markup=False)
            with ChoiceSet(id="review-risk"):
                for level, label in RISK_LABELS.items():
                    yield RadioButton(label, value=level == self.risk, id=f"review-risk-{level.value}")
            yield Static("Disposition: what was done and what happens next", classes="review-dialog-label",
                         markup=False)
            area = TextArea(clean(self.disposition), id="review-disposition-text", soft_wrap=True)
            yield area
            yield Static(Text(self.problem), id="review-dialog-problem")
            save, cancel = key_label(self, "review.dialog_save", type(self)), key_label(self, "review.dialog_cancel", type(self))
            yield Static(f"↑↓ choose the risk level · {save} saves · {cancel} cancels", classes="review-dialog-hint",
                         markup=False)
            with Horizontal(classes="review-dialog-buttons"):
                yield Button("Save", id="review-dialog-save", variant="primary")
                yield Button("Cancel", id="review-dialog-cancel")

    def on_mount(self) -> None:
        self.query_one("#review-risk", RadioSet).focus()

    def action_save(self) -> None:
        risk_set = self.query_one("#review-risk", RadioSet)
        pressed = risk_set.pressed_button
        level = RiskLevel((pressed.id or "").removeprefix("review-risk-")) if pressed else RiskLevel.not_assessed
        text = clean(self.query_one("#review-disposition-text", TextArea).text).strip()
        if not text:
            self.query_one("#review-dialog-problem", Static).update(
                Text("Write the disposition: what was done and what happens next.")
            )
            self.query_one("#review-disposition-text", TextArea).focus()
            return
        self.dismiss((level, text))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#review-dialog-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#review-dialog-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


class TimesDialog(ModalScreen["tuple[str, str] | None"]):
    """Correct the actual start and stop time (HH:MM, program timezone)."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="review.times_save", tooltip="Save", priority=True),
        Binding("escape", "cancel", "Cancel", id="review.times_cancel", tooltip="Cancel"),
    ]

    def __init__(self, start: str, stop: str, zone: str) -> None:
        super().__init__(id="review-times-dialog")
        self.start, self.stop, self.zone = start, stop, zone

    def compose(self) -> ComposeResult:
        with Vertical(classes="review-dialog"):
            yield Static(f"Correct the group's times ({self.zone})", classes="review-dialog-title", markup=False)
            yield Static("Start (HH:MM)", classes="review-dialog-label", markup=False)
            yield Input(self.start, placeholder="09:00", id="review-start", max_length=5)
            yield Static("Stop (HH:MM)", classes="review-dialog-label", markup=False)
            yield Input(self.stop, placeholder="12:00", id="review-stop", max_length=5)
            yield Static("", id="review-times-problem", markup=False)
            save, cancel = key_label(self, "review.times_save", type(self)), key_label(self, "review.times_cancel", type(self))
            yield Static(f"Enter or {save} saves · {cancel} cancels · leave Stop empty if the group has not ended",
                         classes="review-dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#review-start", Input).focus()

    def action_save(self) -> None:
        start = self.query_one("#review-start", Input).value.strip()
        stop = self.query_one("#review-stop", Input).value.strip()
        for value in (start, stop):
            try:
                if value:
                    typed_time(value)
            except ValueError as problem:
                self.query_one("#review-times-problem", Static).update(Text(f"{value!r} is {problem}."))
                return
        self.dismiss((start, stop))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "review-start":
            self.query_one("#review-stop", Input).focus()
        else:
            self.action_save()


class ConfirmSign(ModalScreen[bool]):
    """"Sign as <name>, <credentials>? Signing locks the meeting." Y signs, N or Esc does not."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Sign", id="review.confirm_sign", tooltip="Sign and lock"),
        Binding("n,escape", "answer(False)", "Cancel", id="review.cancel_sign", tooltip="Do not sign"),
    ]

    YES = "Sign and lock"  # the button
    HINT = "{yes} signs · {no} cancels"  # with the keys of YES_ID and NO_ID
    YES_ID, NO_ID = "review.confirm_sign", "review.cancel_sign"

    def __init__(self, question: str) -> None:
        super().__init__(id="review-confirm-dialog")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="review-dialog review-confirm"):
            yield Static(Text(self.question), id="review-confirm-question")
            hint = self.HINT.format(yes=key_label(self, self.YES_ID, type(self)),
                                    no=key_label(self, self.NO_ID, type(self), every=True))
            yield Static(hint, classes="review-dialog-hint", markup=False)
            with Horizontal(classes="review-dialog-buttons"):
                yield Button(self.YES, id="review-confirm-yes", variant="warning")
                yield Button("Cancel", id="review-confirm-no")

    def on_mount(self) -> None:
        self.query_one("#review-confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "review-confirm-yes")


class AddendumDialog(ModalScreen["uuid.UUID | None"]):
    """A correction to a signed meeting: reason, text and (optionally) the member it is about.

    Saved through the app's store; a refusal (no credentials, empty reason) is shown in
    the dialog and nothing typed is lost. Dismisses with the new addendum's id.
    """

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="review.addendum_save", tooltip="Save the addendum", priority=True),
        Binding("escape", "cancel", "Cancel", id="review.addendum_cancel", tooltip="Close without saving"),
    ]

    def __init__(self, meeting_id: uuid.UUID, author_id: uuid.UUID, heading: str,
                 members: list[tuple[str, uuid.UUID]]) -> None:
        super().__init__(id="review-addendum-dialog")
        self.meeting_id, self.author_id, self.heading, self.members = meeting_id, author_id, heading, members
        self.saving = False

    def compose(self) -> ComposeResult:
        from textual.widgets import Select

        with Vertical(classes="review-dialog"):
            yield Static(Text(self.heading), classes="review-dialog-title")
            yield Static("The signed original stays as it is; the addendum is dated and signed with your "
                         "credentials, and cannot be changed afterwards.", classes="review-dialog-text", markup=False)
            yield Static("Reason for the correction", classes="review-dialog-label", markup=False)
            yield Input(placeholder="e.g. late entry, factual correction", id="review-addendum-reason",
                        max_length=500)
            yield Static("About", classes="review-dialog-label", markup=False)
            yield Select([(Text(clean_line(name)), ident) for name, ident in self.members],
                         id="review-addendum-member", prompt="The whole meeting", allow_blank=True, compact=True)
            yield Static("Addendum text", classes="review-dialog-label", markup=False)
            yield TextArea("", id="review-addendum-text", soft_wrap=True)
            yield Static("", id="review-addendum-problem", markup=False)
            save, cancel = key_label(self, "review.addendum_save", type(self)), key_label(self, "review.addendum_cancel", type(self))
            yield Static(f"{save} saves · {cancel} closes without saving", classes="review-dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#review-addendum-reason", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#review-addendum-text", TextArea).focus()

    def _problem(self, text: str) -> None:
        self.query_one("#review-addendum-problem", Static).update(Text(f"Not saved: {clean_line(text)}"))

    def action_save(self) -> None:
        from textual.widgets import Select

        if self.saving:
            return
        reason = clean_line(self.query_one("#review-addendum-reason", Input).value)
        text = clean(self.query_one("#review-addendum-text", TextArea).text).strip()
        if not reason:
            self._problem("write the reason for the correction")
            self.query_one("#review-addendum-reason", Input).focus()
            return
        if not text:
            self._problem("write the addendum's text")
            self.query_one("#review-addendum-text", TextArea).focus()
            return
        picked = self.query_one("#review-addendum-member", Select).value
        member_id = None if picked is Select.NULL else picked
        store = getattr(self.app, "store", None)
        if store is None:
            self._problem("the database is not open")
            return
        meeting_id, author_id = self.meeting_id, self.author_id

        def op(session: Any) -> uuid.UUID:
            from iop_facilitator.services.addenda import add_addendum

            return add_addendum(session, meeting_id, author_id, reason=reason, text=text, member_id=member_id).id

        self.saving = True
        from iop_facilitator.tui.store import Kept

        kept = Kept(f"addendum:{meeting_id}:{id(self)}", f"Addendum ({reason}) · {self.heading}", text, "addendum")
        store.submit(op, done=self._saved, failed=self._failed, held=self._held_back, keep=kept)

    def _held_back(self, words: str) -> None:
        """A passing fault (a full disk): the dialog stays open with the text until the addendum is saved."""
        if self.is_attached:
            self.query_one("#review-addendum-problem", Static).update(
                Text(f"⚠ Not saved yet: {clean_line(words)}. This closes by itself once it is saved."))

    def _saved(self, ident: uuid.UUID) -> None:
        self.saving = False
        if self.is_attached:
            self.dismiss(ident)

    def _failed(self, problem: str) -> None:
        self.saving = False
        if self.is_attached:
            self._problem(problem)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmCosign(ConfirmSign):
    """"Co-sign as <name>, <credentials>?" Y co-signs, N or Esc does not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Co-sign", id="review.confirm_cosign", tooltip="Co-sign the meeting"),
        Binding("n,escape", "answer(False)", "Cancel", id="review.cancel_cosign", tooltip="Do not co-sign"),
    ]
    YES = "Co-sign"
    HINT = "{yes} co-signs · {no} cancels"
    YES_ID, NO_ID = "review.confirm_cosign", "review.cancel_cosign"
