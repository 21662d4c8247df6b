"""The Check-in step: roll call and the check-in round, all from one list.

One key on the highlighted member sets their attendance and moves to the next
row (``p`` present, ``l`` late, ``a`` absent, ``e`` excused). The check-in
round happens on the same list without leaving it: a digit sets the mood
(``x`` is 10), ``u`` then a digit sets the urge, ``-`` clears, ``f`` opens a
one-line field for the feeling word, ``!`` flags a safety concern and ``t``
corrects the arrival time (HH:MM in the program's timezone). ``d`` adds a
drop-in (an existing member from another group) and ``n`` a brand-new member.

Everything the list says is in words or symbols, never colour alone, and it
shows only what the room may see: display names, today's check-in, the
absence count against the program's limit. The cursor stays on the member the
facilitator is working with whenever a fresh snapshot arrives.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.steps.base import Edit, GotoStep, LOCKED_MESSAGE, StepPane

if TYPE_CHECKING:
    import datetime as dt

    from iop_facilitator.services.live import MemberLine, Snapshot

CSS_FILE = str(Path(__file__).with_suffix(".tcss"))
FEELING_MAX = 40  # services.live.FEELING_MAX (not imported: keeps SQLAlchemy out of the first frame)
SIGNED_MESSAGE = LOCKED_MESSAGE
ATTENDED = (AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.left_early)

KEY_HINT = (
    "p present · l late · a absent · e excused (each moves down)   "
    "0-9 mood, x = 10 · u then 0-9/x urge · - clears\n"
    "f feeling word · ! safety concern · t arrival time · d drop-in · n new member · s stories · F1 all keys"
)

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("num", "#", 3),
    ("name", "Member", 26),
    ("status", "Status", 16),
    ("mood", "Mood", 4),
    ("urge", "Urge", 4),
    ("feeling", "Feeling", 18),
    ("safety", "Safety", 9),
    ("absences", "Absences", 17),
)


# --------------------------------------------------------------------------- words for the list


def local_hhmm(value: dt.datetime | None, tz: str) -> str:
    """``HH:MM`` of an aware UTC time in the program's timezone ("" for None)."""
    from iop_facilitator.clock import to_local

    local = to_local(value, tz)
    return local.format("HH:mm") if local is not None else ""


def status_words(line: MemberLine, tz: str) -> str:
    status = line.status
    if status is None:
        return "· not marked"
    if status == AttendanceStatus.present:
        return f"✓ present {local_hhmm(line.arrived_at, tz)}".rstrip()
    if status == AttendanceStatus.late:
        return f"✓ late {local_hhmm(line.arrived_at, tz)}".rstrip()
    if status == AttendanceStatus.left_early:
        return f"✓ left {local_hhmm(line.left_at, tz)}".rstrip()
    if status == AttendanceStatus.absent_unexcused:
        return "✗ absent"
    if status == AttendanceStatus.absent_excused:
        return "✗ excused"
    return "cancelled"


def absence_words(line: MemberLine, limit: int) -> str:
    """``⚠ 5/6 absences`` near the program's limit, ``⚠ 7/6 over limit`` past it."""
    count = line.absences
    if limit <= 0:
        return f"{count} absences" if count else ""
    if line.over_limit:
        return f"⚠ {count}/{limit} over limit"
    if line.near_limit:
        return f"⚠ {count}/{limit} absences"
    return f"{count}/{limit} absences" if count else ""


def totals_text(snapshot: Snapshot) -> Text:
    excused = sum(1 for m in snapshot.members if m.status == AttendanceStatus.absent_excused)
    absent = f"Absent {snapshot.absent}" + (f" ({excused} excused)" if excused else "")
    parts = [
        f"Present {snapshot.present}",
        f"Late {snapshot.late}",
        absent,
        f"Not yet marked {snapshot.unmarked}",
        f"{len(snapshot.members)} on the list",
    ]
    return Text("   ·   ".join(parts))


def row_cells(number: int, line: MemberLine, snapshot: Snapshot) -> dict[str, Text]:
    name = Text(clean_line(line.display_name), overflow="ellipsis", no_wrap=True)
    if line.drop_in:
        name.append(" (drop-in)", style="italic")
    return {
        "num": Text(str(number), justify="right"),
        "name": name,
        "status": Text(status_words(line, snapshot.timezone)),
        "mood": Text("—" if line.mood is None else str(line.mood), justify="right"),
        "urge": Text("—" if line.urge is None else str(line.urge), justify="right"),
        "feeling": Text(clean_line(line.feeling), overflow="ellipsis", no_wrap=True),
        "safety": Text("⚑ concern" if line.safety_concern else ""),
        "absences": Text(absence_words(line, snapshot.max_absences)),
    }


_TIME = re.compile(r"^\s*(\d{1,2})\s*[:.h]?\s*(\d{2})\s*$")


def parse_local_time(text: str, day: dt.date, tz: str) -> dt.datetime:
    """``HH:MM`` (also ``9:05``, ``0905``, ``9.05``) on ``day`` in ``tz``, as aware UTC.

    Raises ValueError with a message for the user.
    """
    import pendulum

    match = _TIME.match(text or "")
    if not match:
        raise ValueError("use HH:MM (24-hour), e.g. 09:05")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("use HH:MM (24-hour), e.g. 09:05")
    local = pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=tz)
    return local.in_timezone("UTC")


# --------------------------------------------------------------------------- the pane


class CheckinPane(StepPane):
    """Roll call and check-in on one list of the meeting's members."""

    STEP = "checkin"
    TITLE = "Check-in"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "mark('present')", "Present", id="checkin.present", tooltip="Mark present and move down"),
        Binding("l", "mark('late')", "Late", id="checkin.late", tooltip="Mark late and move down"),
        Binding("a", "mark('absent_unexcused')", "Absent", id="checkin.absent", tooltip="Mark absent and move down"),
        Binding("e", "mark('absent_excused')", "Excused", id="checkin.excused",
                tooltip="Mark excused absence and move down"),
        Binding("t", "arrival", "Arrival", id="checkin.arrival", tooltip="Correct the arrival time (HH:MM)"),
        *[
            Binding(str(d), f"rating({d})", f"Mood {d}", id=f"checkin.mood_{d}", show=False,
                    tooltip=f"Mood {d} (after u: urge {d})")
            for d in range(10)
        ],
        Binding("x", "rating(10)", "Mood 10", id="checkin.mood_10", show=False, tooltip="Mood 10 (after u: urge 10)"),
        Binding("u", "urge", "Urge", id="checkin.urge", tooltip="The next 0-9 or x sets the urge rating"),
        Binding("minus", "rating(None)", "Clear rating", id="checkin.clear_rating", show=False,
                tooltip="Clear the mood (after u: the urge)"),
        Binding("f", "feeling", "Feeling", id="checkin.feeling", tooltip="Type the feeling word"),
        Binding("exclamation_mark", "safety", "Safety", id="checkin.safety", tooltip="Flag or unflag a safety concern"),
        Binding("d", "drop_in", "Drop-in", id="checkin.drop_in", tooltip="Add a drop-in member"),
        Binding("n", "new_member", "New member", id="checkin.new_member", tooltip="Add a brand-new member"),
        Binding("s", "stories", "Stories", id="checkin.stories", show=False, tooltip="Stories of this member"),
        Binding("escape", "cancel", "Cancel", id="checkin.cancel", show=False, tooltip="Close the field or cancel u"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._row_ids: list[uuid.UUID] = []
        self._shown: dict[uuid.UUID, dict[str, str]] = {}
        self._want_member: uuid.UUID | None = None
        self._urge_armed: uuid.UUID | None = None  # u was pressed on this member
        self._editor: tuple[str, uuid.UUID] | None = None  # ("feeling" | "arrival", member)
        self._sent_status: dict[uuid.UUID, AttendanceStatus] = {}
        self._hint_shown = KEY_HINT

    def compose(self) -> ComposeResult:
        yield Static("", id="checkin-totals", markup=False)
        table: DataTable[Text] = DataTable(id="checkin-table", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(id="checkin-editor"):
            yield Static("", id="checkin-editor-label", markup=False)
            yield Input(id="checkin-input", max_length=FEELING_MAX, select_on_focus=False)
        yield Static(KEY_HINT, id="checkin-hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#checkin-table", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(Text(label), width=width, key=key)
        if self.snapshot is not None:
            self._show_snapshot(self.snapshot)

    # -- reading the snapshot ------------------------------------------------
    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None and self.is_mounted:
            self._show_snapshot(snapshot)

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        table = self.query_one("#checkin-table", DataTable)
        self.query_one("#checkin-totals", Static).update(totals_text(snapshot), layout=False)  # one fixed line
        for line in snapshot.members:
            if self._sent_status.get(line.member_id) == line.status:
                self._sent_status.pop(line.member_id, None)
        ids = [line.member_id for line in snapshot.members]
        cells = {
            line.member_id: row_cells(number, line, snapshot) for number, line in enumerate(snapshot.members, 1)
        }
        if ids == self._row_ids:
            # Same people in the same order: change only the cells that changed, the cursor stays put.
            for member_id, row in cells.items():
                shown = self._shown.get(member_id, {})
                for key, text in row.items():
                    if shown.get(key) != text.plain:
                        table.update_cell(str(member_id), key, text)
        else:
            keep = self._want_member or self._current_id()
            table.clear()
            for member_id, row in cells.items():
                table.add_row(*row.values(), key=str(member_id))
            self._row_ids = ids
            if keep in ids:
                table.move_cursor(row=ids.index(keep), animate=False)
        if self._want_member in ids:
            table.move_cursor(row=ids.index(self._want_member), animate=False)
            self._want_member = None
        self._shown = {member_id: {k: t.plain for k, t in row.items()} for member_id, row in cells.items()}
        self._render_hint()

    def _render_hint(self) -> None:
        snapshot = self.snapshot
        if snapshot is not None and snapshot.status == MeetingStatus.signed:
            text = "Signed and locked: the roll call is read-only.  s stories · F1 all keys"
        elif self._editor is not None:
            text = "Enter saves · Esc cancels"
        elif self._urge_armed is not None:
            line = self._line(self._urge_armed)
            who = clean_line(line.display_name) if line else "this member"
            text = f"Urge for {who}: press 0-9, or x for 10; - clears it; Esc cancels."
        else:
            text = KEY_HINT
        if text != self._hint_shown:  # an unchanged hint would still cost a layout pass
            self._hint_shown = text
            self.query_one("#checkin-hint", Static).update(Text(text))

    # -- where the cursor is ------------------------------------------------------
    def _current_id(self) -> uuid.UUID | None:
        table = self.query_one("#checkin-table", DataTable)
        if not self._row_ids or table.row_count == 0:
            return None
        row = table.cursor_row
        return self._row_ids[row] if 0 <= row < len(self._row_ids) else None

    def _current(self) -> MemberLine | None:
        member_id = self._current_id()
        if member_id is None or self.snapshot is None:
            return None
        return self._line(member_id)

    def _line(self, member_id: uuid.UUID) -> MemberLine | None:
        if self.snapshot is None:
            return None
        return next((m for m in self.snapshot.members if m.member_id == member_id), None)

    def focus_first(self) -> None:
        if self._editor is not None:
            self.query_one("#checkin-input", Input).focus()
        else:
            self.query_one("#checkin-table", DataTable).focus()

    def focus_member(self, member_id: Any) -> None:
        if self._editor is not None:
            self._close_editor()
        table = self.query_one("#checkin-table", DataTable)
        table.focus()
        if member_id in self._row_ids:
            table.move_cursor(row=self._row_ids.index(member_id), animate=False)
        else:
            self._want_member = member_id

    def _advance(self) -> None:
        table = self.query_one("#checkin-table", DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)

    # -- guards -------------------------------------------------------------------
    def _editable(self) -> bool:
        snapshot = self.snapshot
        if snapshot is None:
            return False
        if snapshot.status == MeetingStatus.signed:
            self.notify(SIGNED_MESSAGE, title="Locked", markup=False)
            return False
        return True

    def _here(self, line: MemberLine) -> bool:
        """Attended (by the snapshot, or by a mark already sent): check-in fields apply."""
        sent = self._sent_status.get(line.member_id)
        if (sent if sent is not None else line.status) in ATTENDED:
            return True
        self.notify(f"Mark {clean_line(line.display_name)} present or late first (p or l).", markup=False)
        return False

    # -- roll call ------------------------------------------------------------------
    def action_mark(self, status: str) -> None:
        from iop_facilitator.services.live import set_status

        self._disarm()
        line = self._current()
        if line is None or not self._editable():
            return
        value = AttendanceStatus(status)
        self._sent_status[line.member_id] = value
        self.edit(set_status, self.snapshot.meeting_id, line.member_id, value)
        self._advance()

    # -- ratings ----------------------------------------------------------------------
    def action_urge(self) -> None:
        line = self._current()
        if line is None or not self._editable() or not self._here(line):
            return
        self._urge_armed = line.member_id
        self._render_hint()

    def _disarm(self) -> None:
        if self._urge_armed is not None:
            self._urge_armed = None
            self._render_hint()

    @on(DataTable.RowHighlighted, "#checkin-table")
    def _moved(self) -> None:
        """``u`` applies to the member it was pressed on: moving away cancels it."""
        if self._urge_armed is not None and self._urge_armed != self._current_id():
            self._disarm()

    def action_rating(self, value: int | None) -> None:
        from iop_facilitator.services.live import set_checkin

        which = "urge" if self._urge_armed is not None else "mood"
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._here(line):
            return
        self.edit(set_checkin, self.snapshot.meeting_id, line.member_id, **{which: value})

    def action_safety(self) -> None:
        from iop_facilitator.services.live import set_checkin

        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._here(line):
            return
        flag = not line.safety_concern
        self.edit(set_checkin, self.snapshot.meeting_id, line.member_id, safety_concern=flag)
        if flag:
            self.notify("Safety concern flagged. F9 has the crisis steps and records a safety event.",
                        title="Safety", markup=False)

    # -- the one-line field: feeling word, arrival time -----------------------------------
    def action_feeling(self) -> None:
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._here(line):
            return
        self._open_editor("feeling", line, f"Feeling word for {clean_line(line.display_name)}:",
                          clean_line(line.feeling), "a word or two")

    def action_arrival(self) -> None:
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._here(line):
            return
        current = local_hhmm(line.arrived_at, self.snapshot.timezone)
        self._open_editor("arrival", line, f"Arrival time of {clean_line(line.display_name)} (HH:MM, 24-hour):",
                          current, "HH:MM")

    def _open_editor(self, kind: str, line: MemberLine, label: str, value: str, placeholder: str) -> None:
        self._editor = (kind, line.member_id)
        self.query_one("#checkin-editor-label", Static).update(Text(label))
        field = self.query_one("#checkin-input", Input)
        field.max_length = FEELING_MAX if kind == "feeling" else 5
        field.placeholder = placeholder
        field.value = value
        field.cursor_position = len(value)
        self.query_one("#checkin-editor").add_class("-open")
        self._render_hint()
        field.focus()

    def _close_editor(self) -> None:
        self._editor = None
        self.query_one("#checkin-editor").remove_class("-open")
        self.query_one("#checkin-table", DataTable).focus()
        self._render_hint()

    @on(Input.Submitted, "#checkin-input")
    def _editor_submitted(self, event: Input.Submitted) -> None:
        from iop_facilitator.services.live import set_arrival, set_checkin

        event.stop()
        if self._editor is None or self.snapshot is None:
            return
        kind, member_id = self._editor
        if not self._editable():
            self._close_editor()
            return
        snapshot = self.snapshot
        if kind == "feeling":
            self.edit(set_checkin, snapshot.meeting_id, member_id, feeling=clean_line(event.value)[:FEELING_MAX])
        else:
            try:
                at = parse_local_time(event.value, snapshot.local_date, snapshot.timezone)
            except ValueError as problem:
                line = self._line(member_id)
                who = clean_line(line.display_name) if line else "the member"
                self.query_one("#checkin-editor-label", Static).update(
                    Text(f"Arrival time of {who}: ⚠ {problem}")
                )
                return
            self.edit(set_arrival, snapshot.meeting_id, member_id, at)
        self._close_editor()

    def action_cancel(self) -> None:
        if self._editor is not None:
            self._close_editor()
        elif self._urge_armed is not None:
            self._disarm()
        else:
            raise SkipAction()  # nothing to cancel: Escape goes on to the meeting screen

    # -- who is in the room --------------------------------------------------------------------
    def action_drop_in(self) -> None:
        self._disarm()
        if not self._editable():
            return
        present = {m.member_id for m in self.snapshot.members}

        def read(session: Any) -> list[tuple[uuid.UUID, str]]:
            from iop_facilitator.services.members import list_members

            return [(row.member.id, row.member.display_name) for row in list_members(session)]

        def loaded(rows: list[tuple[uuid.UUID, str]]) -> None:
            candidates = [(mid, name) for mid, name in rows if mid not in present]
            self.app.push_screen(DropInScreen(candidates), callback=self._drop_in_chosen)

        self.post_message(Edit(read, reload=False, done=loaded))

    def _drop_in_chosen(self, member_id: uuid.UUID | None) -> None:
        from iop_facilitator.services.live import add_drop_in

        self.focus_first()
        if member_id is None or self.snapshot is None:
            return
        self._want_member = member_id
        self._sent_status[member_id] = AttendanceStatus.present
        self.edit(add_drop_in, self.snapshot.meeting_id, member_id)

    def action_new_member(self) -> None:
        self._disarm()
        if not self._editable():
            return
        self.app.push_screen(NewMemberScreen(), callback=self._new_member_named)

    def _new_member_named(self, display_name: str | None) -> None:
        from iop_facilitator.services.live import add_new_member

        self.focus_first()
        if not display_name or self.snapshot is None:
            return

        def added(member: Any) -> None:
            self._want_member = member.id
            self._sent_status[member.id] = AttendanceStatus.present

        self.edit(add_new_member, self.snapshot.meeting_id, display_name, done=added)

    def action_stories(self) -> None:
        self._disarm()
        self.post_message(GotoStep("stories", self._current_id()))


# --------------------------------------------------------------------------- the two small dialogs


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
            yield Static("Enter adds the highlighted member (marked present) · ↑↓ choose · Esc cancels",
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
            yield Static("Enter adds · Esc cancels. The name is shown to the room: first name and last initial only.",
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
