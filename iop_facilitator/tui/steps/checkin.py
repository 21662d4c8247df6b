"""The Check-in step: roll call and the check-in round on one list, one pass per member.

Every key applies to the highlighted member, and only Enter (or the arrows, or
the mouse) moves the highlight: status, mood, urge, feeling word and safety flag
can be typed in any order at full speed and all land on that member.

* ``p`` present, ``l`` late, ``a`` absent, ``e`` excused;
* a digit sets the mood (``x`` is 10); ``u`` then a digit sets the urge;
  ``-`` clears the mood (after ``u``: the urge); ``f`` opens a one-line field
  for the feeling word (Enter or Esc keeps it); ``!`` flags or unflags a safety
  concern; ``t`` corrects the arrival time (HH:MM in the program's timezone);
* a rating (or a feeling word or a safety flag) for a member not marked yet
  marks them present, and the row says so at once; for a member marked absent
  it is refused, in words on screen;
* Enter moves to the next member; ``d`` adds a drop-in, ``n`` a brand-new member.

The line above the key hint names the member who gets the next key, or says
why the last key could not apply. Each key is saved at once and kept in a local
overlay until a fresh snapshot includes it (dropped field by field), so fast
typing never reads a stale status; the row is redrawn from the overlay as soon
as the commit is done, not while it runs (that would slow the commit down). Everything is in words or symbols, never colour alone; on a narrow
terminal the safety flag and the absence warning share one column.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.services.text import clean_line
from iop_facilitator.timefmt import local_hhmm, parse_hhmm
from iop_facilitator.tui.dialogs.checkin import DropInScreen, NewMemberScreen
from iop_facilitator.tui.steps.base import LOCKED_MESSAGE, Edit, GotoStep, StepPane, TextSave
from iop_facilitator.tui.widgets.fields import LimitedInput

if TYPE_CHECKING:

    from iop_facilitator.services.live_read import MemberLine, Snapshot

CSS_FILE = str(Path(__file__).with_suffix(".tcss"))
FEELING_MAX = 40  # services.live.FEELING_MAX (not imported: keeps SQLAlchemy out of the first frame)
SIGNED_MESSAGE = LOCKED_MESSAGE
ATTENDED = (AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.left_early)
NOT_HERE = (AttendanceStatus.absent_unexcused, AttendanceStatus.absent_excused, AttendanceStatus.cancelled)
NARROW_WIDTH = 100  # below this many columns the list drops the times and joins safety and absences

KEY_HINT = (
    "p present · l late · a absent · e excused · 0-9 mood (x=10) · u 0-9 urge\n"
    "- clear · f feeling · ! safety · Enter next · t arrival · d drop-in · n new"
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
NARROW_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("num", "#", 2),
    ("name", "Member", 16),
    ("status", "Status", 10),
    ("mood", "Mood", 4),
    ("urge", "Urge", 4),
    ("feeling", "Feeling", 11),
    ("flags", "Flags", 11),
)
# What each check-in key changes, by the MemberLine field it shows in.
FIELDS = {"status": "status", "mood": "mood", "urge": "urge", "feeling": "feeling", "safety": "safety_concern"}


# --------------------------------------------------------------------------- words for the list


def status_words(line: MemberLine, tz: str, *, narrow: bool = False) -> str:
    status = line.status
    if status is None:
        return "· not yet" if narrow else "· not marked"
    if status == AttendanceStatus.present:
        return "✓ present" if narrow else f"✓ present {local_hhmm(line.arrived_at, tz)}".rstrip()
    if status == AttendanceStatus.late:
        return "✓ late" if narrow else f"✓ late {local_hhmm(line.arrived_at, tz)}".rstrip()
    if status == AttendanceStatus.left_early:
        return "✓ left" if narrow else f"✓ left {local_hhmm(line.left_at, tz)}".rstrip()
    if status == AttendanceStatus.absent_unexcused:
        return "✗ absent"
    if status == AttendanceStatus.absent_excused:
        return "✗ excused"
    return "cancelled"


def absence_words(line: MemberLine, limit: int, *, narrow: bool = False) -> str:
    """``⚠ 5/6 absences`` near the program's limit, ``⚠ 7/6 over limit`` past it."""
    count = line.absences
    if limit <= 0:
        return (f"{count} abs" if narrow else f"{count} absences") if count else ""
    if narrow:
        if line.over_limit:
            return f"⚠{count}/{limit} over"
        return f"⚠{count}/{limit}" if line.near_limit else ""
    if line.over_limit:
        return f"⚠ {count}/{limit} over limit"
    if line.near_limit:
        return f"⚠ {count}/{limit} absences"
    return f"{count}/{limit} absences" if count else ""


def totals_text(snapshot: Snapshot, statuses: list[AttendanceStatus | None] | None = None, *,
                narrow: bool = False) -> Text:
    """Counts of the roll call; ``statuses`` (one per member) as shown, when keys are not saved yet."""
    shown = statuses if statuses is not None else [m.status for m in snapshot.members]
    excused = sum(1 for s in shown if s == AttendanceStatus.absent_excused)
    absent = sum(1 for s in shown if s in (AttendanceStatus.absent_excused, AttendanceStatus.absent_unexcused))
    parts = [
        f"Present {sum(1 for s in shown if s in (AttendanceStatus.present, AttendanceStatus.left_early))}",
        f"Late {sum(1 for s in shown if s == AttendanceStatus.late)}",
        f"Absent {absent}" + (f" ({excused} excused)" if excused else ""),
        f"Not yet marked {sum(1 for s in shown if s is None)}",
        f"{len(shown)} on the list",
    ]
    return Text((" · " if narrow else "   ·   ").join(parts))


def row_cells(number: int, line: MemberLine, snapshot: Snapshot, *, narrow: bool = False) -> dict[str, Text]:
    name = Text(clean_line(line.display_name), overflow="ellipsis", no_wrap=True)
    if line.drop_in:
        name.append(" (drop-in)", style="italic")
    cells = {
        "num": Text(str(number), justify="right"),
        "name": name,
        "status": Text(status_words(line, snapshot.timezone, narrow=narrow)),
        "mood": Text("—" if line.mood is None else str(line.mood), justify="right"),
        "urge": Text("—" if line.urge is None else str(line.urge), justify="right"),
        "feeling": Text(clean_line(line.feeling), overflow="ellipsis", no_wrap=True),
    }
    if narrow:
        flags = " ".join(part for part in ("⚑" if line.safety_concern else "",
                                           absence_words(line, snapshot.max_absences, narrow=True)) if part)
        cells["flags"] = Text(flags, no_wrap=True, overflow="ellipsis")
    else:
        cells["safety"] = Text("⚑ concern" if line.safety_concern else "")
        cells["absences"] = Text(absence_words(line, snapshot.max_absences))
    return cells


# --------------------------------------------------------------------------- the pane


class RollTable(DataTable, inherit_bindings=False):
    """The roll-call list: a DataTable that leaves Enter, Home and End to the pane (next, first, last member)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        b for b in DataTable.BINDINGS
        if not (isinstance(b, Binding) and set(b.key.split(",")) & {"enter", "home", "end"})
    ]


class CheckinPane(StepPane):
    """Roll call and check-in on one list of the meeting's members."""

    STEP = "checkin"
    TITLE = "Check-in"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "mark('present')", "Present", id="checkin.present", tooltip="Mark the highlighted member present"),
        Binding("l", "mark('late')", "Late", id="checkin.late", tooltip="Mark the highlighted member late"),
        Binding("a", "mark('absent_unexcused')", "Absent", id="checkin.absent",
                tooltip="Mark the highlighted member absent"),
        Binding("e", "mark('absent_excused')", "Excused", id="checkin.excused",
                tooltip="Mark the highlighted member's absence excused"),
        Binding("enter", "next", "Next member", id="checkin.next", tooltip="Move to the next member"),
        Binding("home", "first", "First member", id="checkin.first", show=False, tooltip="Go to the first member"),
        Binding("end", "last", "Last member", id="checkin.last", show=False, tooltip="Go to the last member"),
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
        Binding("escape", "cancel", "Cancel", id="checkin.cancel", show=False,
                tooltip="Close the field or cancel u (on the list: leave the meeting, asks first)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._row_ids: list[uuid.UUID] = []
        self._shown: dict[uuid.UUID, dict[str, str]] = {}
        self._want_member: uuid.UUID | None = None
        self._urge_armed: uuid.UUID | None = None  # u was pressed on this member
        self._editor: tuple[str, uuid.UUID] | None = None  # ("feeling" | "arrival", member)
        self._hint_shown = KEY_HINT
        self._narrow = False
        self._columns = COLUMNS
        # What was typed and is not in a snapshot yet: member -> field -> (value, edit number).
        self._local: dict[uuid.UUID, dict[str, tuple[Any, int]]] = {}
        self._seq = 0
        self._committed: set[int] = set()
        self._feeling_seq: dict[str, int] = {}  # feeling key -> the overlay edit number of its last final save
        self._said: tuple[str, bool] = ("", False)  # (text, is a warning)

    def compose(self) -> ComposeResult:
        yield Static("", id="checkin-totals", markup=False)
        table: DataTable[Text] = RollTable(id="checkin-table", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(id="checkin-editor"):
            yield Static("", id="checkin-editor-label", markup=False)
            yield LimitedInput(id="checkin-input", limit=FEELING_MAX, what="the feeling word", select_on_focus=False)
        yield Static("", id="checkin-said", markup=False)
        yield Static(KEY_HINT, id="checkin-hint", markup=False)

    def on_mount(self) -> None:
        self._layout_columns(self._narrow)
        if self.snapshot is not None:
            self._show_snapshot(self.snapshot)

    def fit(self, width: int, height: int) -> None:
        narrow = width < NARROW_WIDTH
        if narrow != self._narrow and not self.is_mounted:
            self._narrow = narrow
            self._columns = NARROW_COLUMNS if narrow else COLUMNS
        elif narrow != self._narrow:
            self._layout_columns(narrow)
            if self.snapshot is not None:
                self._show_snapshot(self.snapshot)

    def _layout_columns(self, narrow: bool) -> None:
        """Wide: every column with times. Narrow (80 columns): shorter words, safety and absences as flags."""
        table = self.query_one("#checkin-table", DataTable)
        keep = self._current_id()
        self._narrow = narrow
        self._columns = NARROW_COLUMNS if narrow else COLUMNS
        table.clear(columns=True)
        for key, label, width in self._columns:
            table.add_column(Text(label), width=width, key=key)
        self._row_ids, self._shown = [], {}
        if keep is not None:
            self._want_member = self._want_member or keep

    # -- what the list shows: the snapshot with what was typed since ------------------------
    def _effective(self, line: MemberLine) -> MemberLine:
        local = self._local.get(line.member_id)
        if not local:
            return line
        return dataclasses.replace(line, **{FIELDS[name]: value for name, (value, _seq) in local.items()})

    def _status_of(self, line: MemberLine) -> AttendanceStatus | None:
        local = self._local.get(line.member_id, {})
        return local["status"][0] if "status" in local else line.status

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None and self.is_mounted:
            self._show_snapshot(snapshot)

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        # Keys whose commit came back are in this snapshot (it was read after them): drop them.
        for member_id in list(self._local):
            fields = {k: v for k, v in self._local[member_id].items() if v[1] not in self._committed}
            if fields:
                self._local[member_id] = fields
            else:
                del self._local[member_id]
        self._committed.clear()
        table = self.query_one("#checkin-table", DataTable)
        lines = [self._effective(line) for line in snapshot.members]
        self.query_one("#checkin-totals", Static).update(
            totals_text(snapshot, [line.status for line in lines], narrow=self._narrow), layout=False)  # one line
        ids = [line.member_id for line in lines]
        cells = {line.member_id: row_cells(number, line, snapshot, narrow=self._narrow)
                 for number, line in enumerate(lines, 1)}
        if ids == self._row_ids:
            # Same people in the same order: change only the cells that changed, the cursor stays put.
            for member_id, row in cells.items():
                self._update_row(member_id, row)
        else:
            keep = self._want_member or self._current_id()
            table.clear()
            for member_id, row in cells.items():
                table.add_row(*row.values(), key=str(member_id))
            self._row_ids = ids
            self._shown = {member_id: {k: t.plain for k, t in row.items()} for member_id, row in cells.items()}
            if keep in ids:
                table.move_cursor(row=ids.index(keep), animate=False)
        if self._want_member in ids:
            table.move_cursor(row=ids.index(self._want_member), animate=False)
            self._want_member = None
        self._render_hint()
        self._render_said()

    def show_lines(self, snapshot: Snapshot, member_ids: tuple[Any, ...]) -> None:
        """A key's commit: redraw only these members' rows and the counters (not the whole list)."""
        if not self.is_mounted or [line.member_id for line in snapshot.members] != self._row_ids:
            self.snapshot = snapshot
            return
        self.set_reactive(CheckinPane.snapshot, snapshot)
        for member_id in member_ids:
            # The line was read after every commit answered so far: its committed keys are in it.
            local = {k: v for k, v in self._local.pop(member_id, {}).items() if v[1] not in self._committed}
            if local:
                self._local[member_id] = local
        still = {seq for fields in self._local.values() for _value, seq in fields.values()}
        self._committed &= still  # keys of other members wait for their own line (or a full snapshot)
        for member_id in member_ids:
            self._refresh_member(member_id)
        self._render_hint()
        self._render_said()

    def _update_row(self, member_id: uuid.UUID, row: dict[str, Text]) -> None:
        table = self.query_one("#checkin-table", DataTable)
        shown = self._shown.setdefault(member_id, {})
        for key, text in row.items():
            if shown.get(key) != text.plain:
                table.update_cell(str(member_id), key, text)
                shown[key] = text.plain

    def _refresh_member(self, member_id: uuid.UUID) -> None:
        """Show at once what was just typed for this member (before the database answers)."""
        snapshot = self.snapshot
        if snapshot is None or member_id not in self._row_ids:
            return
        number = self._row_ids.index(member_id) + 1
        line = next((m for m in snapshot.members if m.member_id == member_id), None)
        if line is None:
            return
        self._update_row(member_id, row_cells(number, self._effective(line), snapshot, narrow=self._narrow))
        statuses = [self._status_of(m) for m in snapshot.members]
        self.query_one("#checkin-totals", Static).update(totals_text(snapshot, statuses, narrow=self._narrow),
                                                         layout=False)

    # -- saving a key ---------------------------------------------------------------------
    def _send(self, member_id: uuid.UUID, values: dict[str, Any], service: Any, *args: Any, **kwargs: Any) -> None:
        """Show ``values`` on the member's row now and save them with ``service``."""
        self._seq += 1
        seq = self._seq
        local = self._local.setdefault(member_id, {})
        for name, value in values.items():
            local[name] = (value, seq)
        self.edit(service, *args, done=lambda _result: self._saved(seq, member_id),
                  failed=lambda problem: self._not_saved(seq, problem, member_id), members=(member_id,), **kwargs)

    def _saved(self, seq: int, member_id: uuid.UUID) -> None:
        """Committed: the row shows it now (a few milliseconds after the key; redrawing the list
        while the commit runs would slow the commit down), and the next snapshot includes it."""
        self._committed.add(seq)
        self._refresh_member(member_id)

    def _not_saved(self, seq: int, problem: str, member_id: uuid.UUID) -> None:
        for other in list(self._local):
            self._local[other] = {k: v for k, v in self._local[other].items() if v[1] != seq}
            if not self._local[other]:
                del self._local[other]
        self._refresh_member(member_id)
        self._say(f"⚠ Not saved: {problem}", warn=True)
        self.notify(problem, title="Not saved", severity="error", timeout=10, markup=False)

    # -- the lines under the list ------------------------------------------------------------
    def _say(self, text: str, *, warn: bool = False) -> None:
        if (text, warn) == self._said:
            return
        self._said = (text, warn)
        self._render_said()

    def _render_said(self) -> None:
        text, warn = self._said
        said = self.query_one("#checkin-said", Static)
        said.set_class(warn, "-warning")
        if not text:
            text = self._pointer()
        said.update(Text(text, no_wrap=True, overflow="ellipsis"), layout=False)  # one fixed line

    def _pointer(self) -> str:
        """Who gets the next key, in words."""
        snapshot = self.snapshot
        line = self._current()
        if snapshot is None or line is None:
            return ""
        if snapshot.status == MeetingStatus.signed:
            return "Signed and locked: the roll call is read-only."
        number = self._row_ids.index(line.member_id) + 1
        text = f"▶ #{number} {clean_line(line.display_name)} gets the next key"
        if self._status_of(line) is None:
            text += " · not marked yet: a rating marks them present"
        return text

    def _render_hint(self) -> None:
        snapshot = self.snapshot
        if snapshot is not None and snapshot.status == MeetingStatus.signed:
            text = "Signed and locked: the roll call is read-only.  s stories · F1 all keys"
        elif self._editor is not None:
            text = ("Enter or Esc keeps the feeling word (ctrl+u clears it)" if self._editor[0] == "feeling"
                    else "Enter saves the arrival time · Esc cancels")
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

    def current_member_id(self) -> uuid.UUID | None:
        return self._current_id()

    def place_cursor(self, member_id: Any) -> None:
        table = self.query_one("#checkin-table", DataTable)
        if member_id in self._row_ids:
            table.move_cursor(row=self._row_ids.index(member_id), animate=False)
        else:
            self._want_member = member_id

    def focus_first(self) -> None:
        if self._editor is not None:
            self.query_one("#checkin-input", Input).focus()
        else:
            self.query_one("#checkin-table", DataTable).focus()

    def focus_member(self, member_id: Any) -> None:
        if self._editor is not None:
            self._close_editor()
        self.query_one("#checkin-table", DataTable).focus()
        self.place_cursor(member_id)

    @on(DataTable.RowHighlighted, "#checkin-table")
    def _moved(self) -> None:
        """``u`` applies to the member it was pressed on: moving away cancels it. A warning is for that row."""
        if self._urge_armed is not None and self._urge_armed != self._current_id():
            self._disarm()
        self._said = ("", False)
        self._render_said()

    def action_next(self) -> None:
        self._disarm()
        table = self.query_one("#checkin-table", DataTable)
        if not self._row_ids:
            return
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)
        else:
            self._say("That was the last member on the list (↑ goes back; F3 goes to the stories).")

    def action_first(self) -> None:
        if self._row_ids:
            self.query_one("#checkin-table", DataTable).move_cursor(row=0, animate=False)

    def action_last(self) -> None:
        if self._row_ids:
            self.query_one("#checkin-table", DataTable).move_cursor(row=len(self._row_ids) - 1, animate=False)

    def on_paste(self, event: events.Paste) -> None:
        """A paste on the list (not in the feeling field) is not a stream of keys: say where it can go."""
        event.stop()
        self._refuse("A paste goes into a text field: f opens the feeling word of the highlighted member.")

    # -- guards -------------------------------------------------------------------
    def _editable(self) -> bool:
        snapshot = self.snapshot
        if snapshot is None:
            return False
        if snapshot.status == MeetingStatus.signed:
            self.notify(SIGNED_MESSAGE, title="Locked", markup=False)
            self._say(SIGNED_MESSAGE, warn=True)
            return False
        return True

    def _refuse(self, text: str) -> None:
        """A key that cannot apply: say why, on the list and in a notification."""
        self._say(f"⚠ {text}", warn=True)
        self.notify(text, markup=False, timeout=5)

    def _may_rate(self, line: MemberLine) -> bool:
        """Ratings are for members who are here or not marked yet (then they mark them present)."""
        if self._status_of(line) in NOT_HERE:
            self._refuse(f"{clean_line(line.display_name)} is marked "
                         f"{status_words(self._effective(line), '').removeprefix('✗ ')}: press p or l first, then the rating.")
            return False
        return True

    def _here(self, line: MemberLine) -> bool:
        """Attended (by the snapshot or by a key already typed): the arrival time applies."""
        if self._status_of(line) in ATTENDED:
            return True
        self._refuse(f"Mark {clean_line(line.display_name)} present or late first (p or l).")
        return False

    def _checkin(self, line: MemberLine, values: dict[str, Any]) -> None:
        """Save check-in values for ``line``'s member; a member not marked yet becomes present."""
        from iop_facilitator.services.live import set_checkin

        shown = dict(values)
        implied = self._status_of(line) is None
        if implied:
            shown["status"] = AttendanceStatus.present
        kwargs = {("safety_concern" if k == "safety" else k): v for k, v in values.items()}
        assert self.snapshot is not None
        self._send(line.member_id, shown, set_checkin, self.snapshot.meeting_id, line.member_id,
                   imply_present=True, by=self.author_id, **kwargs)
        if implied:
            self._say(f"{clean_line(line.display_name)} is now marked present (a rating means they are here).")
        else:
            self._say("")

    # -- roll call ------------------------------------------------------------------
    def action_mark(self, status: str) -> None:
        from iop_facilitator.services.live import set_status

        self._disarm()
        line = self._current()
        if line is None or not self._editable():
            return
        value = AttendanceStatus(status)
        self._send(line.member_id, {"status": value}, set_status, self.snapshot.meeting_id, line.member_id, value,
                   by=self.author_id)
        self._say("")

    # -- ratings ----------------------------------------------------------------------
    def action_urge(self) -> None:
        line = self._current()
        if line is None or not self._editable() or not self._may_rate(line):
            return
        self._urge_armed = line.member_id
        self._render_hint()

    def _disarm(self) -> None:
        if self._urge_armed is not None:
            self._urge_armed = None
            self._render_hint()

    def action_rating(self, value: int | None) -> None:
        which = "urge" if self._urge_armed is not None else "mood"
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._may_rate(line):
            return
        if value is None and getattr(self._effective(line), which) is None:
            self._say(f"{clean_line(line.display_name)} has no {which} rating to clear.")
            return
        self._checkin(line, {which: value})

    def action_safety(self) -> None:
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._may_rate(line):
            return
        flag = not self._effective(line).safety_concern
        self._checkin(line, {"safety": flag})
        if flag:
            self.notify("Safety concern flagged. F9 has the crisis steps and records a safety event.",
                        title="Safety", markup=False)

    # -- the one-line field: feeling word, arrival time -----------------------------------
    def action_feeling(self) -> None:
        self._disarm()
        line = self._current()
        if line is None or not self._editable() or not self._may_rate(line):
            return
        self.loaded(f"feeling:{line.member_id}", clean_line(line.feeling))  # the base of the edit: the stored word
        self._open_editor("feeling", line, f"Feeling word for {clean_line(line.display_name)}:",
                          clean_line(self._effective(line).feeling), "a word or two")

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
        field = self.query_one("#checkin-input", LimitedInput)
        if kind == "feeling":
            field.set_limit(FEELING_MAX, "the feeling word")
        else:
            field.set_limit(5, "the arrival time")
        field.placeholder = placeholder
        with field.prevent(Input.Changed):
            field.value = value
        field.cursor_position = len(value)
        self.query_one("#checkin-editor").add_class("-open")
        self._render_hint()
        self.focus_now(field)

    def _close_editor(self) -> None:
        self._editor = None
        self.query_one("#checkin-editor").remove_class("-open")
        self.query_one("#checkin-table", DataTable).focus()
        self._render_hint()

    def _keep_feeling(self, member_id: uuid.UUID, text: str) -> None:
        """Save the feeling word now (shown on the row at once), as an edit of the word it started from."""
        line = self._line(member_id)
        word = clean_line(text)
        key = f"feeling:{member_id}"
        sent = key in self._pending or self._inflight.get(key, 0) > 0
        self.cancel_pending(key)
        if line is None or self.snapshot is None or (word == clean_line(self._effective(line).feeling) and not sent):
            return
        self._seq += 1
        seq = self._seq
        local = self._local.setdefault(member_id, {})
        implied = self._status_of(line) is None
        if implied:
            local["status"] = (AttendanceStatus.present, seq)
        local["feeling"] = (word, seq)
        save = self._feeling_save(member_id, word)
        save.done = lambda _result: self._saved(seq, member_id)
        self._feeling_seq[key] = seq
        self.save_text(save, later=False)
        self._refresh_member(member_id)
        if implied:
            self._say(f"{clean_line(line.display_name)} is now marked present (a rating means they are here).")
        else:
            self._say("")

    def _feeling_save(self, member_id: uuid.UUID, word: str) -> TextSave:
        from iop_facilitator.services.live import set_checkin

        assert self.snapshot is not None
        meeting_id, author = self.snapshot.meeting_id, self.author_id
        line = self._line(member_id)
        name = clean_line(line.display_name) if line is not None else "a member"

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: set_checkin(session, meeting_id, member_id, feeling=clean_line(body),
                                               imply_present=True, by=author, feeling_based_on=based_on)

        return TextSave(f"feeling:{member_id}", word, make, title=f"Feeling word · {name}",
                        label=f"Check-in feeling word · {name} · {self.place()}", what="feeling word",
                        single_line=True, limit=FEELING_MAX, members=(member_id,))

    @on(Input.Changed, "#checkin-input")
    def _editor_typed(self, event: Input.Changed) -> None:
        """The feeling word is kept while typing too (a closed terminal must not lose it)."""
        event.stop()
        if self._editor is None or self._editor[0] != "feeling" or self.snapshot is None:
            return
        self.save_text(self._feeling_save(self._editor[1], clean_line(event.value)))

    # -- the step contract for text others may edit too (the feeling word) -------------------
    def field_of(self, key: str) -> Any:
        if self._editor is not None and key == f"{self._editor[0]}:{self._editor[1]}":
            return self.query_one("#checkin-input", LimitedInput)
        return None

    def current_text(self, key: str) -> str | None:
        field = self.field_of(key)
        if field is not None:
            return clean_line(field.value)
        recipe = self._recipes.get(key)
        return recipe.text if recipe is not None else None

    def show_text(self, key: str, text: str | None) -> None:
        member_id = uuid.UUID(key.split(":", 1)[1])
        local = self._local.setdefault(member_id, {})
        if text is None:
            local.pop("feeling", None)
        else:
            self._seq += 1
            local["feeling"] = (clean_line(text), self._seq)
            recipe = self._recipes.get(key)
            if recipe is not None:
                seq = self._seq
                recipe.done = lambda _result: self._saved(seq, member_id)
        if not local:
            self._local.pop(member_id, None)
        self._refresh_member(member_id)

    def _resolved(self, save: TextSave, dialog: Any, choice: Any) -> None:
        if choice is None or choice.keep_theirs:
            member_id = uuid.UUID(save.key.split(":", 1)[1])
            if member_id in self._local:
                self._local[member_id].pop("feeling", None)  # theirs comes with the next snapshot
        super()._resolved(save, dialog, choice)

    def text_not_saved(self, save: TextSave, problem: str) -> None:
        seq = self._feeling_seq.get(save.key)
        member_id = uuid.UUID(save.key.split(":", 1)[1])
        if seq is not None:
            self._not_saved(seq, problem, member_id)
        else:
            super().text_not_saved(save, problem)

    @on(Input.Submitted, "#checkin-input")
    def _editor_submitted(self, event: Input.Submitted) -> None:
        from iop_facilitator.services.live import set_arrival

        event.stop()
        if self._editor is None or self.snapshot is None:
            return
        kind, member_id = self._editor
        if not self._editable():
            self._close_editor()
            return
        snapshot = self.snapshot
        if kind == "feeling":
            self._close_editor()
            self._keep_feeling(member_id, event.value)
            return
        try:
            at = parse_hhmm(event.value, snapshot.local_date, snapshot.timezone)
        except ValueError as problem:
            line = self._line(member_id)
            who = clean_line(line.display_name) if line else "the member"
            self.query_one("#checkin-editor-label", Static).update(Text(f"Arrival time of {who}: ⚠ {problem}"))
            return
        self.edit(set_arrival, snapshot.meeting_id, member_id, at, by=self.author_id, members=(member_id,))
        self._close_editor()

    @on(Input.Blurred, "#checkin-input")
    def _editor_left(self, event: Input.Blurred) -> None:
        """The focus went elsewhere (a click, a step key): the feeling word typed so far is kept."""
        if self._editor is not None and self._editor[0] == "feeling" and self.snapshot is not None:
            member_id = self._editor[1]
            self._editor = None
            self.query_one("#checkin-editor").remove_class("-open")
            self._render_hint()
            self._keep_feeling(member_id, event.value)

    def action_cancel(self) -> None:
        if self._editor is not None:
            kind, member_id = self._editor
            value = self.query_one("#checkin-input", Input).value
            self._close_editor()
            if kind == "feeling":
                self._keep_feeling(member_id, value)
        elif self._urge_armed is not None:
            self._disarm()
        else:
            raise SkipAction()  # nothing to cancel: Escape goes on to the meeting screen (it asks first)

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

        self.post_message(Edit(read, reload=False, done=loaded, facts=False))

    def _drop_in_chosen(self, member_id: uuid.UUID | None) -> None:
        from iop_facilitator.services.live import add_drop_in

        self.focus_first()
        if member_id is None or self.snapshot is None:
            return
        self._want_member = member_id
        self.edit(add_drop_in, self.snapshot.meeting_id, member_id, by=self.author_id)

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

        self.edit(add_new_member, self.snapshot.meeting_id, display_name, by=self.author_id, done=added)

    def action_stories(self) -> None:
        self._disarm()
        self.post_message(GotoStep("stories", self._current_id()))
