"""The Check-out step: closing ratings, takeaways, who left early, homework, and finishing the group.

* One row per member who attended. Digit keys on the highlighted row set the
  closing rating (0-9; ``1`` then ``0`` quickly makes 10), as in roll call.
* The takeaway of the highlighted member is typed below the table (saved as
  you type, debounced); Enter saves it and moves to the next member.
* A key records that the member left early now; another undoes it; the
  "Left at" field corrects the time (HH:MM in the program's timezone).
* The meeting's homework, prefilled from the guide's homework when empty.
* ``checkout.finish`` records the stop time, computes each member's minutes,
  and moves on to the notes step.

Status is always in words ("not rated", "Left early 10:42"), never colour alone;
a member flagged with a safety concern at check-in keeps the ⚑ here too. On a
short terminal (24 lines) the homework field and the hints shrink so the table
and the field being typed in stay on screen. Every change names its author.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static, TextArea

from iop_facilitator import clock as clock_module
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.timefmt import local_hhmm, parse_hhmm
from iop_facilitator.tui.dialogs.confirm import Confirm
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.steps.base import GotoStep, StepPane, TextSave
from iop_facilitator.tui.steps.topic import (
    SIGNED_MESSAGE,
    Drafts,
    FieldArea,
    is_signed,
)
from iop_facilitator.tui.widgets.fields import LimitedInput

if TYPE_CHECKING:

    from iop_facilitator.library.model import LoadedTopic
    from iop_facilitator.services.live_read import MemberLine, Snapshot

HOMEWORK_KEY = "homework"
TEN_WINDOW = 1.2  # seconds in which "1" then "0" makes a rating of 10
TAKEAWAY_MAX = 500  # services.live.TAKEAWAY_MAX
STATUS_WORDS = {"present": "Present", "late": "Late", "left_early": "Left early"}


def _takeaway_key(member_id: uuid.UUID) -> str:
    return f"takeaway:{member_id}"


def homework_suggestion(loaded: LoadedTopic | None) -> str:
    if loaded is None:
        return ""
    homework = loaded.topic.homework
    return clean(f"{clean_line(homework.title)}\n{homework.instructions.strip()}").strip()


class CheckoutPane(StepPane):
    STEP = "checkout"
    TITLE = "Check-out"

    BINDINGS: ClassVar[list[BindingType]] = [
        *[
            Binding(
                str(digit),
                f"rate({digit})",
                "Closing rating",
                id=f"checkout.rate_{digit}",
                tooltip=f"Closing rating {digit} for the highlighted member",
                key_display="0-9",
                show=digit == 1,
            )
            for digit in range(10)
        ],
        Binding("backspace,delete", "clear_rating", "Clear rating", id="checkout.clear_rating",
                tooltip="Clear the highlighted member's closing rating", show=False),
        Binding("t", "takeaway", "Takeaway", id="checkout.takeaway", tooltip="Type the highlighted member's takeaway"),
        Binding("l", "left_early", "Left early", id="checkout.left_early",
                tooltip="The highlighted member left early (now)"),
        Binding("u", "undo_left", "Undo left early", id="checkout.undo_left",
                tooltip="The highlighted member did not leave early", show=False),
        Binding("e", "left_time", "Left at", id="checkout.left_time",
                tooltip="Correct the time the highlighted member left (HH:MM)", show=False),
        Binding("h", "homework", "Homework", id="checkout.homework", tooltip="Edit the homework"),
        Binding("ctrl+f", "finish", "Finish group", id="checkout.finish",
                tooltip="Finish the group: record the stop time and go to the notes"),
        Binding("escape", "leave_field", "Back to the list", id="checkout.leave_field",
                tooltip="Leave the field and go back to the member list", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: A clock that never jumps (for "1" then "0" = 10). Tests may replace it.
        self.clock: Callable[[], float] = clock_module.monotonic
        self.drafts = Drafts()
        self._row_ids: list[uuid.UUID] = []
        self._editor_member: uuid.UUID | None = None
        self._editor_loaded = ""
        self._homework_loaded = ""
        self._prefill_unsaved = False
        self._homework_declined = False  # the facilitator emptied the homework: do not prefill again
        self._last_digit: tuple[uuid.UUID, int, float] | None = None

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="checkout-question")
        yield Static("", id="checkout-status")
        yield DataTable(id="checkout-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="checkout-editor"):
            yield Static("", id="checkout-takeaway-label")
            yield LimitedInput(id="checkout-takeaway", placeholder="What they take away (Enter: next member)",
                               limit=TAKEAWAY_MAX, what="the takeaway")
            yield Static("Left at", id="checkout-left-label")
            yield Input(id="checkout-left", placeholder="HH:MM", restrict=r"[0-9:. ]*", max_length=5)
        yield Static("Homework for next group (from the guide when empty; saved as you type)", id="checkout-homework-label")
        yield FieldArea(id="checkout-homework", soft_wrap=True, placeholder="The homework for next group")
        yield Static("", id="checkout-hint")

    def on_mount(self) -> None:
        table = self.query_one("#checkout-table", DataTable)
        table.add_column("Member", key="member", width=22)
        table.add_column("Check-in", key="checkin", width=9)
        table.add_column("Closing", key="closing", width=10)
        table.add_column("Attendance", key="attendance", width=18)
        table.add_column("Takeaway", key="takeaway")
        self._render_all()

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        self._render_all()

    def watch_library(self) -> None:
        self._render_all()

    # -- helpers ---------------------------------------------------------------
    @property
    def table(self) -> DataTable:
        return self.query_one("#checkout-table", DataTable)

    def _loaded_topic(self) -> LoadedTopic | None:
        snapshot, library = self.snapshot, self.library
        if snapshot is None or snapshot.topic_id is None or library is None:
            return None
        return library.topics.get(snapshot.topic_id)

    def current_member(self) -> MemberLine | None:
        snapshot = self.snapshot
        if snapshot is None or not self._row_ids:
            return None
        row = self.table.cursor_row
        if not 0 <= row < len(self._row_ids):
            return None
        member_id = self._row_ids[row]
        return next((m for m in snapshot.attended if m.member_id == member_id), None)

    def _editable(self) -> bool:
        if self.snapshot is None:
            return False
        if is_signed(self.snapshot):
            self.notify(SIGNED_MESSAGE, markup=False)
            return False
        return True

    def _takeaway_of(self, member: MemberLine) -> str:
        return self.drafts.typed.get(_takeaway_key(member.member_id), member.takeaway or "")

    def _cells(self, member: MemberLine) -> list[Text]:
        snapshot = self.snapshot
        assert snapshot is not None
        status = member.status.value if member.status is not None else ""
        attendance = STATUS_WORDS.get(status, status.replace("_", " ").capitalize())
        if status == "left_early" and member.left_at is not None:
            attendance += f" {local_hhmm(member.left_at, snapshot.timezone)}"
        elif status == "late" and member.arrived_at is not None:
            attendance += f" ({local_hhmm(member.arrived_at, snapshot.timezone)})"
        takeaway = clean_line(self._takeaway_of(member))
        name = Text("⚑ " if member.safety_concern else "")
        name.append(clean_line(member.display_name))
        return [
            name,
            Text("—" if member.mood is None else str(member.mood)),
            Text("not rated" if member.checkout_mood is None else f"{member.checkout_mood} of 10"),
            Text(attendance),
            Text(takeaway or "no takeaway yet", style="" if takeaway else "italic"),
        ]

    # -- rendering -------------------------------------------------------------
    def _render_all(self) -> None:
        if not self.is_mounted:
            return
        snapshot = self.snapshot
        if snapshot is None:
            return
        signed = is_signed(snapshot)
        self._render_question()
        self._render_table(snapshot)
        self._render_homework(snapshot)
        for selector in ("#checkout-takeaway", "#checkout-left"):
            self.query_one(selector, Input).disabled = signed
        self.query_one("#checkout-homework", FieldArea).read_only = signed
        self._render_status(snapshot)
        self._render_hint()

    def _render_question(self) -> None:
        loaded = self._loaded_topic()
        question = self.query_one("#checkout-question", Static)
        if loaded is None:
            question.update(Text("Check-out: ask each member for a closing rating (0-10) and one takeaway."))
        else:
            text = Text("Check-out question: ", style="bold")
            text.append(clean_line(loaded.topic.check_out_prompt), style="")
            question.update(text)

    def _render_table(self, snapshot: Snapshot) -> None:
        table = self.table
        attended = list(snapshot.attended)
        ids = [m.member_id for m in attended]
        if ids != self._row_ids:
            current = self._row_ids[table.cursor_row] if self._row_ids and 0 <= table.cursor_row < len(self._row_ids) else None
            table.clear()
            for member in attended:
                table.add_row(*self._cells(member), key=str(member.member_id))
            self._row_ids = ids
            if ids:
                table.move_cursor(row=ids.index(current) if current in ids else 0)
        else:
            for member in attended:
                for column, cell in zip(("member", "checkin", "closing", "attendance", "takeaway"), self._cells(member)):
                    table.update_cell(str(member.member_id), column, cell)
        self._load_editor()

    def _render_status(self, snapshot: Snapshot) -> None:
        attended = snapshot.attended
        total = len(attended)
        rated = sum(1 for m in attended if m.checkout_mood is not None)
        takeaways = sum(1 for m in attended if self._takeaway_of(m).strip())
        left = sum(1 for m in attended if m.status is not None and m.status.value == "left_early")
        homework_area = self.query_one("#checkout-homework", FieldArea)
        if self._prefill_unsaved:
            homework = "from the guide, not saved yet"
        elif homework_area.text.strip():
            homework = "written"
        else:
            homework = "none"
        if snapshot.actual_end is not None:
            minutes = int((snapshot.actual_end - snapshot.actual_start).total_seconds() // 60) if snapshot.actual_start else 0
            group = f"finished at {local_hhmm(snapshot.actual_end, snapshot.timezone)} ({minutes} min)"
        else:
            group = "in progress"
        if is_signed(snapshot):
            group += "; signed and locked"
        parts = [
            f"Closing ratings: {rated} of {total}",
            f"Takeaways: {takeaways} of {total}",
            f"Left early: {left}",
            f"Homework: {homework}",
            f"Group: {group}",
        ]
        if not total:
            parts = ["No one is marked as attending yet: take roll call in Check-in first", f"Group: {group}"]
        self.query_one("#checkout-status", Static).update(Text(" · ".join(parts)))

    def _render_hint(self) -> None:
        def k(binding_id: str) -> str:
            return key_label(self, binding_id, CheckoutPane)

        self.query_one("#checkout-hint", Static).update(
            Text(
                f"0-9 closing rating (1 then 0 = 10) · {k('checkout.takeaway')} takeaway · "
                f"{k('checkout.left_early')} left early now · {k('checkout.undo_left')} undo · "
                f"{k('checkout.left_time')} correct the time · {k('checkout.homework')} homework · "
                f"{k('checkout.finish')} finish the group"
            )
        )

    # -- the editor row under the table ---------------------------------------------
    def _load_editor(self) -> None:
        member = self.current_member()
        label = self.query_one("#checkout-takeaway-label", Static)
        takeaway = self.query_one("#checkout-takeaway", Input)
        left = self.query_one("#checkout-left", Input)
        snapshot = self.snapshot
        if member is None or snapshot is None:
            label.update(Text("Takeaway:"))
            self._editor_member = None
            return
        label.update(Text(f"Takeaway of {clean_line(member.display_name)}:"))
        key = _takeaway_key(member.member_id)
        value = self._takeaway_of(member)
        if member.member_id != self._editor_member:
            self._editor_member = member.member_id
            self._editor_loaded = value
            takeaway.value = value
            if key not in self.drafts.typed:
                self.loaded(key, member.takeaway or "")
            left.value = local_hhmm(member.left_at, snapshot.timezone)
            self.refresh_marks()
            return
        busy = takeaway.has_focus or self.text_busy(key)
        if self.drafts.may_replace(key, member.takeaway or "", busy=busy) and takeaway.value != (member.takeaway or ""):
            self._editor_loaded = member.takeaway or ""
            takeaway.value = self._editor_loaded
        if takeaway.value == (member.takeaway or ""):
            self.loaded(key, member.takeaway or "")
        if not left.has_focus:
            left.value = local_hhmm(member.left_at, snapshot.timezone)

    @on(DataTable.RowHighlighted, "#checkout-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._load_editor()

    @on(DataTable.RowSelected, "#checkout-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_takeaway()

    @on(Input.Changed, "#checkout-takeaway")
    def _takeaway_changed(self, event: Input.Changed) -> None:
        event.stop()
        snapshot, member_id = self.snapshot, self._editor_member
        if snapshot is None or member_id is None or is_signed(snapshot):
            return
        key = _takeaway_key(member_id)
        if event.value == self._editor_loaded and key not in self.drafts.typed and not self.text_busy(key):
            return  # loaded from the snapshot, not typed
        self.drafts.note(key, event.value)
        self.save_text(self._takeaway_save(member_id, event.value))
        self._show_takeaway_cell(member_id, event.value)
        self._render_status(snapshot)

    def _show_takeaway_cell(self, member_id: uuid.UUID, text: str) -> None:
        if member_id in self._row_ids:
            takeaway = clean_line(text)
            self.table.update_cell(str(member_id), "takeaway",
                                   Text(takeaway or "no takeaway yet", style="" if takeaway else "italic"))

    def _takeaway_save(self, member_id: uuid.UUID, text: str) -> TextSave:
        from iop_facilitator.services.live import set_checkout

        assert self.snapshot is not None
        meeting_id, author = self.snapshot.meeting_id, self.author_id
        line = next((m for m in self.snapshot.members if m.member_id == member_id), None)
        name = clean_line(line.display_name) if line is not None else "a member"

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: set_checkout(session, meeting_id, member_id, takeaway=body,
                                                takeaway_based_on=based_on, by=author)

        return TextSave(_takeaway_key(member_id), text, make, title=f"Check-out takeaway · {name}",
                        label=f"Check-out takeaway · {name} · {self.place()}", what="takeaway", single_line=True,
                        limit=TAKEAWAY_MAX, members=(member_id,))

    @on(Input.Submitted, "#checkout-takeaway")
    def _takeaway_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._editor_member is not None:
            self.send_pending(_takeaway_key(self._editor_member))
        table = self.table
        table.focus()
        if table.cursor_row + 1 < len(self._row_ids):
            table.move_cursor(row=table.cursor_row + 1)

    @on(Input.Submitted, "#checkout-left")
    def _left_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        member, snapshot = self.current_member(), self.snapshot
        if member is None or snapshot is None or not self._editable():
            return
        from iop_facilitator.services.live import set_left_early

        text = event.value.strip()
        name = clean_line(member.display_name)
        if not text:
            if member.left_at is not None:
                self.edit(set_left_early, snapshot.meeting_id, member.member_id, None, by=self.author_id, members=(member.member_id,))
                self.notify(f"{name} is no longer marked as leaving early.", markup=False, timeout=4)
            self.table.focus()
            return
        try:
            at = parse_hhmm(text, snapshot.local_date, snapshot.timezone)
        except ValueError as exc:
            self.notify(f"{text!r} is {exc}.", title="Left at", severity="warning", markup=False)
            return
        self.edit(set_left_early, snapshot.meeting_id, member.member_id, at, by=self.author_id, members=(member.member_id,))
        self.notify(f"{name} left early at {local_hhmm(at, snapshot.timezone)}.", markup=False, timeout=4)
        self.table.focus()

    # -- homework ----------------------------------------------------------------------
    def _render_homework(self, snapshot: Snapshot) -> None:
        area = self.query_one("#checkout-homework", FieldArea)
        server = snapshot.homework or ""
        suggestion = homework_suggestion(self._loaded_topic())
        if server and server != suggestion and self.library is not None:
            # homework prefilled from another topic, never edited: follow the topic that was chosen since
            others = {homework_suggestion(t) for t in self.library.topics.values()}
            if server in others:
                server = ""
        busy = area.has_focus or self.text_busy(HOMEWORK_KEY)
        if not self.drafts.may_replace(HOMEWORK_KEY, snapshot.homework or "", busy=busy):
            return
        self.loaded(HOMEWORK_KEY, snapshot.homework or "")  # what the shown text derives from: the next edit's base
        if server:
            self._prefill_unsaved = False
            wanted = server
        elif self._homework_declined:
            self._prefill_unsaved = False
            wanted = ""
        else:
            self._prefill_unsaved = bool(suggestion)
            wanted = suggestion
        if area.text != wanted:
            self._homework_loaded = wanted
            area.load_text(wanted)

    @on(TextArea.Changed, "#checkout-homework")
    def _homework_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        snapshot = self.snapshot
        text = event.text_area.text
        if snapshot is None or is_signed(snapshot):
            return
        if text == self._homework_loaded and HOMEWORK_KEY not in self.drafts.typed and not self.text_busy(HOMEWORK_KEY):
            return  # loaded, not typed
        self._prefill_unsaved = False
        self._homework_declined = not text.strip()
        self.drafts.note(HOMEWORK_KEY, text)
        self.save_text(self._homework_save(text))
        self._render_status(snapshot)

    def _homework_save(self, text: str) -> TextSave:
        from iop_facilitator.services.live import set_homework

        assert self.snapshot is not None
        meeting_id = self.snapshot.meeting_id

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: set_homework(session, meeting_id, body, based_on=based_on)

        return TextSave(HOMEWORK_KEY, text, make, title="Homework", label=f"Homework · {self.place()}",
                        what="homework")

    # -- the step contract for text others may edit too ------------------------------
    def _field_key(self, key: str) -> Any:
        if key == HOMEWORK_KEY:
            return self.query_one("#checkout-homework", FieldArea)
        if self._editor_member is not None and key == _takeaway_key(self._editor_member):
            return self.query_one("#checkout-takeaway", Input)
        return None

    def field_of(self, key: str) -> Any:
        return self._field_key(key)

    def current_text(self, key: str) -> str | None:
        field = self._field_key(key)
        if isinstance(field, TextArea):
            return field.text
        if isinstance(field, Input):
            return field.value
        return self.drafts.typed.get(key)

    def show_text(self, key: str, text: str | None) -> None:
        value = text or ""
        self.drafts.note(key, value)  # shown until a snapshot holds it
        field = self._field_key(key)
        if isinstance(field, TextArea) and field.text != value:
            self._homework_loaded = value
            with field.prevent(TextArea.Changed):
                field.load_text(value)
        elif isinstance(field, Input) and field.value != value:
            self._editor_loaded = value
            with field.prevent(Input.Changed):
                field.value = value
        if key.startswith("takeaway:"):
            self._show_takeaway_cell(uuid.UUID(key.split(":", 1)[1]), value)

    def save_prefilled_homework(self) -> None:
        """Save the homework shown from the guide (the facilitator saw it and did not change it)."""
        snapshot = self.snapshot
        if not self._prefill_unsaved or snapshot is None or is_signed(snapshot):
            return
        text = self.query_one("#checkout-homework", FieldArea).text
        if not text.strip():
            return
        self._prefill_unsaved = False
        self.drafts.note(HOMEWORK_KEY, text)
        self.save_text(self._homework_save(text), later=False)

    # -- keys ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        if action in ("rate", "clear_rating", "takeaway", "left_early", "undo_left", "left_time"):
            return self.current_member() is not None and not self._in_field()
        if action == "leave_field":
            return self._in_field()
        if action == "homework":
            return self.snapshot is not None and not self._in_field()
        return True

    def _in_field(self) -> bool:
        focused = self.app.focused
        return isinstance(focused, (Input, TextArea)) and self in focused.ancestors

    def action_rate(self, digit: int) -> None:
        member, snapshot = self.current_member(), self.snapshot
        if member is None or snapshot is None or not self._editable():
            return
        now = self.clock() - self.app.key_waited()  # when it was typed (tui/keys.py), not when handled
        value = digit
        last = self._last_digit
        if digit == 0 and last is not None and last[0] == member.member_id and last[1] == 1 and now - last[2] <= TEN_WINDOW:
            value = 10
        self._last_digit = (member.member_id, digit, now)
        from iop_facilitator.services.live import set_checkout

        self.edit(set_checkout, snapshot.meeting_id, member.member_id, mood=value, by=self.author_id, members=(member.member_id,))
        self.table.update_cell(str(member.member_id), "closing", Text(f"{value} of 10"))

    def action_clear_rating(self) -> None:
        member, snapshot = self.current_member(), self.snapshot
        if member is None or snapshot is None or not self._editable():
            return
        from iop_facilitator.services.live import set_checkout

        self._last_digit = None
        self.edit(set_checkout, snapshot.meeting_id, member.member_id, mood=None, by=self.author_id, members=(member.member_id,))
        self.table.update_cell(str(member.member_id), "closing", Text("not rated"))

    def action_takeaway(self) -> None:
        if self.current_member() is not None:
            self.focus_now(self.query_one("#checkout-takeaway", Input))

    def action_left_time(self) -> None:
        if self.current_member() is not None:
            self.focus_now(self.query_one("#checkout-left", Input))

    def action_homework(self) -> None:
        self.focus_now(self.query_one("#checkout-homework", FieldArea))

    def action_leave_field(self) -> None:
        self.flush_pending()
        if self._row_ids:
            self.table.focus()
        else:
            self.screen.set_focus(None)

    def action_left_early(self) -> None:
        member, snapshot = self.current_member(), self.snapshot
        if member is None or snapshot is None or not self._editable():
            return
        name = clean_line(member.display_name)
        if member.left_at is not None:
            self.notify(
                f"{name} is already marked as leaving at {local_hhmm(member.left_at, snapshot.timezone)}; "
                f"{key_label(self, 'checkout.left_time', CheckoutPane)} corrects the time, "
                f"{key_label(self, 'checkout.undo_left', CheckoutPane)} undoes it.",
                markup=False,
            )
            return
        from iop_facilitator.clock import utcnow
        from iop_facilitator.services.live import set_left_early

        at = utcnow()
        self.edit(set_left_early, snapshot.meeting_id, member.member_id, at, by=self.author_id, members=(member.member_id,))
        self.table.update_cell(str(member.member_id), "attendance", Text(f"Left early {local_hhmm(at, snapshot.timezone)}"))
        self.notify(
            f"{name} left early at {local_hhmm(at, snapshot.timezone)}. "
            f"{key_label(self, 'checkout.undo_left', CheckoutPane)} undoes it.",
            markup=False,
            timeout=5,
        )

    def action_undo_left(self) -> None:
        member, snapshot = self.current_member(), self.snapshot
        if member is None or snapshot is None or not self._editable():
            return
        name = clean_line(member.display_name)
        if member.left_at is None and (member.status is None or member.status.value != "left_early"):
            self.notify(f"{name} is not marked as leaving early.", markup=False, timeout=4)
            return
        from iop_facilitator.services.live import set_left_early

        self.edit(set_left_early, snapshot.meeting_id, member.member_id, None, by=self.author_id, members=(member.member_id,))
        self.notify(f"{name} is no longer marked as leaving early.", markup=False, timeout=4)

    def action_finish(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self._editable():
            return
        if snapshot.actual_end is not None:
            self.notify(f"The group finished at {local_hhmm(snapshot.actual_end, snapshot.timezone)}.", markup=False,
                        timeout=4)
            self.save_prefilled_homework()
            self.flush_pending()
            self.post_message(GotoStep("notes"))
            return
        from iop_facilitator.clock import utcnow

        body = (f"The stop time ({local_hhmm(utcnow(), snapshot.timezone)}) is recorded and each member's minutes "
                "are worked out. You can still edit check-out until the notes are signed.")
        unrated = [clean_line(m.display_name) for m in snapshot.attended if m.checkout_mood is None]
        if unrated:
            body += f"\n\nNo closing rating yet: {', '.join(unrated)}."
        self.app.push_screen(Confirm("Finish the group now?", body, "Finish the group"), callback=self._finish_confirmed)

    def _finish_confirmed(self, yes: bool | None) -> None:
        snapshot = self.snapshot
        if not yes or snapshot is None:
            return
        from iop_facilitator.services.live import finish_meeting

        self.save_prefilled_homework()
        self.flush_pending()
        self.edit(finish_meeting, snapshot.meeting_id, done=lambda _result: self.post_message(GotoStep("notes")))

    # -- the step contract -----------------------------------------------------------
    def focus_first(self) -> None:
        self.save_prefilled_homework()
        if self._row_ids:
            self.table.focus()
        else:
            self.query_one("#checkout-homework", FieldArea).focus()

    def focus_member(self, member_id: Any) -> None:
        self.place_cursor(member_id)
        self.focus_first()

    def place_cursor(self, member_id: Any) -> None:
        if member_id in self._row_ids:
            self.table.move_cursor(row=self._row_ids.index(member_id))

    def current_member_id(self) -> uuid.UUID | None:
        member = self.current_member()
        return member.member_id if member is not None else None

    def fit(self, width: int, height: int) -> None:
        self.set_class(height < 30, "-short")
