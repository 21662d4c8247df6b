"""The Notes step: one individualized note per member who attended, and the group narrative.

Left, the list: the group narrative first, then every member who attended
(``snapshot.attended``; absent members get no note), each with its state in
words ("✓ complete" / "missing: response, plan"). Right, the editor of the
highlighted entry.

A member's note is drafted from that member's own line of the snapshot only
(:func:`~iop_facilitator.services.notes.draft_response` and
:func:`~iop_facilitator.services.notes.draft_plan` take one ``MemberLine``), so
nothing another member said can reach it. Drafting fills empty fields only:
text the facilitator wrote is never replaced. Drafts are computed in the
writer thread from a freshly loaded snapshot, after the typing still waiting
for its debounce has been queued, so they see everything saved so far.

Typing is saved with :meth:`StepPane.edit_later`. Debounced saves do not
reload the snapshot, so the pane keeps what was typed (``_typed``) and shows
that over the snapshot until a snapshot catches up; a refresh never replaces a
field that is focused (with text in it) or still waiting to be saved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, OptionList, SelectionList, Static, TextArea
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.widgets.selection_list import Selection

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.steps.base import LOCKED_MESSAGE, Edit, StepPane, TextSave

if TYPE_CHECKING:
    from iop_facilitator.library.model import LoadedTopic
    from iop_facilitator.services.live_read import MemberLine, Snapshot

NARRATIVE = "narrative"
INDENT = "  "
TEXT_FIELDS = ("intervention", "response", "plan")


# --------------------------------------------------------------------------- note formats
#
# Every format is stored in the same four fields of a ProgressNote
# (goal_ids, intervention, response, plan); the format only changes the labels
# and the order in which the editor shows them:
#
#   GIRP  Goal = goal_ids · Intervention = intervention · Response = response · Plan = plan
#   BIRP  Behavior = goal_ids (the treatment-plan goal whose behaviour the group targeted;
#         what the member actually did is written in Response) · Intervention · Response · Plan
#   DAP   Data = intervention (what the group provided) + response (what the member said and did)
#         · Assessment = goal_ids (the goals addressed; progress is described in the response)
#         · Plan = plan
#   SOAP  Subjective = response (the member's own report) · Objective = intervention (what the
#         clinician did and observed) · Assessment = goal_ids · Plan = plan


@dataclass(frozen=True)
class FieldLabel:
    field: str  # "goals" or one of TEXT_FIELDS
    title: str  # the editor's label
    short: str  # in "missing: ..."


FORMATS: dict[str, tuple[FieldLabel, ...]] = {
    "GIRP": (
        FieldLabel("goals", "G · Goal: treatment-plan goal(s) addressed (at least one)", "goal"),
        FieldLabel("intervention", "I · Intervention", "intervention"),
        FieldLabel("response", "R · Response: this member's own participation", "response"),
        FieldLabel("plan", "P · Plan", "plan"),
    ),
    "BIRP": (
        FieldLabel("goals", "B · Behavior: treatment-plan goal(s) targeted (at least one)", "behavior goal"),
        FieldLabel("intervention", "I · Intervention", "intervention"),
        FieldLabel("response", "R · Response: this member's own participation", "response"),
        FieldLabel("plan", "P · Plan", "plan"),
    ),
    "DAP": (
        FieldLabel("intervention", "D · Data: interventions provided", "data (intervention)"),
        FieldLabel("response", "D · Data: this member's own report and participation", "data (response)"),
        FieldLabel("goals", "A · Assessment: treatment-plan goal(s) addressed (at least one)", "assessment goal"),
        FieldLabel("plan", "P · Plan", "plan"),
    ),
    "SOAP": (
        FieldLabel("response", "S · Subjective: this member's own report", "subjective"),
        FieldLabel("intervention", "O · Objective: interventions and observations", "objective"),
        FieldLabel("goals", "A · Assessment: treatment-plan goal(s) addressed (at least one)", "assessment goal"),
        FieldLabel("plan", "P · Plan", "plan"),
    ),
}


def format_fields(note_format: str) -> tuple[FieldLabel, ...]:
    return FORMATS.get(str(note_format).upper(), FORMATS["GIRP"])


# --------------------------------------------------------------------------- drafting
#
# Drafting itself is services.notes.draft_notes (run in the writer thread): it needs the
# whole meeting, so the keys work once the group is finished (check-out, finish the group).


class NoteArea(TextArea):
    """A TextArea that leaves F6 and F7 to the meeting screen (step keys), not to line/all selection."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("select_line", "select_all"):
            return False  # the key then goes on to the screen's binding
        return super().check_action(action, parameters)


def goal_list(text: str) -> list[str]:
    """Goal ids from their comma-joined form (how the note's goals ride along as a text field)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _nothing(_session: Any) -> None:
    """An edit that changes nothing: asks the screen for a fresh snapshot after queued saves."""


# --------------------------------------------------------------------------- the pane


class NotesPane(StepPane):
    STEP = "notes"
    TITLE = "Notes"
    EDITS_FACTS = False  # notes are drafted from the other steps, never from themselves

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "draft", "Draft", id="notes.draft",
                tooltip="Draft the empty fields of the selected note (or the narrative)"),
        Binding("ctrl+g", "draft_all", "Draft all", id="notes.draft_all",
                tooltip="Draft the empty fields of every attending member's note and the narrative"),
        Binding("ctrl+down", "next_member", "Next note", id="notes.next", tooltip="Next note", show=False),
        Binding("ctrl+up", "previous_member", "Previous note", id="notes.previous", tooltip="Previous note",
                show=False),
    ]


    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._current: str | None = None  # NARRATIVE or a member id (str) shown in the editor
        self._typed: dict[str, str] = {}  # edit key -> text typed here, until a snapshot shows it
        self._goals_local: dict[uuid.UUID, tuple[str, ...]] = {}
        self._order: tuple[str, ...] = ()  # the format's field order the editor is laid out in

    def compose(self) -> ComposeResult:
        with Horizontal(id="notes-body"):
            with Vertical(id="notes-left"):
                yield Static("Notes", id="notes-heading", markup=False)
                yield OptionList(id="notes-list")
                yield Static("", id="notes-hint", markup=False)
            with ContentSwitcher(id="notes-editor", initial="notes-narrative-box"):
                with Vertical(id="notes-narrative-box"):
                    yield Static("Group narrative", classes="notes-title", markup=False)
                    yield Static(
                        "What the group did as a whole: topic, counts, methods. No member names here; "
                        "each member's own participation goes in their note.",
                        classes="notes-help",
                        markup=False,
                    )
                    yield NoteArea(id="notes-narrative", soft_wrap=True)
                with VerticalScroll(id="notes-member-box"):
                    yield Static("", id="notes-member-title", classes="notes-title", markup=False)
                    with Vertical(id="notes-field-goals", classes="notes-field"):
                        yield Static("", id="notes-label-goals", classes="notes-label", markup=False)
                        yield SelectionList[str](id="notes-goals")
                        yield Static("", id="notes-goals-none", classes="notes-help", markup=False)
                    for field in TEXT_FIELDS:
                        with Vertical(id=f"notes-field-{field}", classes="notes-field"):
                            yield Static("", id=f"notes-label-{field}", classes="notes-label", markup=False)
                            yield NoteArea(id=f"notes-{field}", soft_wrap=True)

    def on_mount(self) -> None:
        self._render_hint()
        response = self.query_one("#notes-response", NoteArea)
        response.placeholder = "Drafted only from this member's check-in and story notes"
        self.query_one("#notes-goals-none", Static).display = False

    def _render_hint(self) -> None:
        key = partial(key_label, self, owner=NotesPane)
        if self.snapshot is not None and self.snapshot.actual_end is None:
            drafts = f"Drafts ({key('notes.draft')}, {key('notes.draft_all')}): after the group is finished"
        else:
            drafts = f"{key('notes.draft')} drafts empty fields · {key('notes.draft_all')} every note"
        self.query_one("#notes-hint", Static).update(Text(
            f"{drafts} · {key('notes.previous')}/{key('notes.next')} other note · Space ticks a goal"
        ))

    def on_show(self) -> None:
        # Other steps save typing without reloading: ask for a fresh snapshot when the step opens.
        if self.snapshot is not None:
            self.post_message(Edit(_nothing))

    # -- state -----------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self.snapshot is not None and self.snapshot.status == MeetingStatus.signed

    def _line(self, member_id: uuid.UUID) -> MemberLine | None:
        if self.snapshot is None:
            return None
        return next((m for m in self.snapshot.attended if m.member_id == member_id), None)

    def _saved_text(self, key: str) -> str:
        snapshot = self.snapshot
        if snapshot is None:
            return ""
        if key == NARRATIVE:
            return snapshot.narrative
        member, field = key.split(":")
        line = self._line(uuid.UUID(member))
        note = line.note if line else None
        return getattr(note, field) if note else ""

    def text_of(self, key: str) -> str:
        """What the field ``key`` holds now: typed here (maybe not saved yet) or else saved."""
        if key in self._typed:
            return self._typed[key]
        return self._saved_text(key)

    def goals_of(self, member_id: uuid.UUID) -> tuple[str, ...]:
        if member_id in self._goals_local:
            return self._goals_local[member_id]
        line = self._line(member_id)
        return tuple(line.note.goal_ids) if line and line.note else ()

    def missing_of(self, member_id: uuid.UUID) -> list[str]:
        """The format's names of the fields of this member's note that are still empty."""
        gaps = []
        for label in format_fields(self.snapshot.note_format if self.snapshot else "GIRP"):
            if label.field == "goals":
                if not self.goals_of(member_id):
                    gaps.append(label.short)
            elif not self.text_of(f"{member_id}:{label.field}").strip():
                gaps.append(label.short)
        return gaps

    def _topic(self) -> LoadedTopic | None:
        snapshot, library = self.snapshot, self.library
        if snapshot is None or snapshot.topic_id is None or library is None:
            return None
        return library.topics.get(snapshot.topic_id.strip().lower())

    def _forget_saved(self) -> None:
        """Drop typed text the snapshot now holds (and goal picks it now shows)."""
        for key in list(self._typed):
            if not self.text_busy(key) and self._saved_text(key) == self._typed[key]:
                del self._typed[key]
        for member_id in list(self._goals_local):
            line = self._line(member_id)
            if self.text_busy(f"{member_id}:goals"):
                continue
            if line is None or (line.note and tuple(line.note.goal_ids) == self._goals_local[member_id]):
                del self._goals_local[member_id]

    # -- snapshot ----------------------------------------------------------------
    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.is_mounted:
            return
        self._forget_saved()
        self._render_hint()
        self._layout_format()
        self._render_list()
        self._load_editor(force=False)
        self._apply_lock()

    def watch_library(self) -> None:
        if self.snapshot is not None and self.is_mounted:
            self._render_list()

    def _layout_format(self) -> None:
        assert self.snapshot is not None
        labels = format_fields(self.snapshot.note_format)
        order = tuple(label.field for label in labels)
        if order == self._order:
            return
        self._order = order
        box = self.query_one("#notes-member-box", VerticalScroll)
        previous: Any = self.query_one("#notes-member-title", Static)
        for label in labels:
            container = self.query_one(f"#notes-field-{label.field}", Vertical)
            box.move_child(container, after=previous)
            previous = container
            self.query_one(f"#notes-label-{label.field}", Static).update(Text(label.title))

    def _entry_prompt(self, key: str) -> Text:
        text = Text()
        if key == NARRATIVE:
            text.append("Group narrative", style="bold")
            done = bool(self.text_of(NARRATIVE).strip())
            text.append(f"\n{INDENT}✓ written" if done else f"\n{INDENT}missing: narrative")
            return text
        member_id = uuid.UUID(key)
        line = self._line(member_id)
        if line is not None and line.safety_concern:
            text.append("⚑ ")
        text.append(clean_line(line.display_name if line else "?"), style="bold")
        if line is not None and line.status in (AttendanceStatus.late, AttendanceStatus.left_early):
            text.append(f"{INDENT}(late)" if line.status == AttendanceStatus.late else f"{INDENT}(left early)")
        gaps = self.missing_of(member_id)
        text.append(f"\n{INDENT}✓ complete" if not gaps else f"\n{INDENT}missing: {', '.join(gaps)}")
        return text

    def _render_list(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        heading = f"Notes · {snapshot.note_format} · {len(snapshot.attended)} attended"
        if self.locked:
            heading += " · SIGNED (read only)"
        self.query_one("#notes-heading", Static).update(Text(heading))
        listing = self.query_one("#notes-list", OptionList)
        keys = (NARRATIVE, *(str(m.member_id) for m in snapshot.attended))
        current_keys = tuple(o.id for o in listing.options)
        if keys == current_keys:
            for key in keys:
                listing.replace_option_prompt(key, self._entry_prompt(key))
            return
        highlighted = listing.highlighted_option.id if listing.highlighted_option else self._current
        listing.clear_options()
        listing.add_options([Option(self._entry_prompt(key), id=key) for key in keys])
        index = keys.index(highlighted) if highlighted in keys else 0
        listing.highlighted = index
        self._show(keys[index])

    def _show(self, key: str) -> None:
        """Put entry ``key`` (the narrative or a member's note) in the editor."""
        if key == self._current:
            return
        self._current = key
        switcher = self.query_one("#notes-editor", ContentSwitcher)
        switcher.current = "notes-narrative-box" if key == NARRATIVE else "notes-member-box"
        self._load_editor(force=True)

    def _set_area(self, area: TextArea, key: str, *, force: bool) -> None:
        value = self.text_of(key)
        if area.text != value:
            if not force:
                if self.text_busy(key):
                    return  # typing not saved yet: the snapshot is older than the screen
                if area.has_focus and area.text.strip():
                    return  # never move text under the cursor (a later edit of it is checked against this)
            with area.prevent(TextArea.Changed):
                area.load_text(value)
        if key not in self._typed:
            self.loaded(key, value)  # the database's text is on screen: the next edit is based on it

    def _load_editor(self, *, force: bool) -> None:
        snapshot, key = self.snapshot, self._current
        if snapshot is None or key is None:
            return
        if key == NARRATIVE:
            self._set_area(self.query_one("#notes-narrative", NoteArea), NARRATIVE, force=force)
            return
        line = self._line(uuid.UUID(key))
        if line is None:
            return
        title = Text()
        title.append(clean_line(line.display_name), style="bold")
        title.append(f" · {snapshot.note_format} note")
        if line.drop_in:
            title.append(" · drop-in")
        self.query_one("#notes-member-title", Static).update(title)
        self._load_goals(line, force=force)
        for field in TEXT_FIELDS:
            self._set_area(self.query_one(f"#notes-{field}", NoteArea), f"{key}:{field}", force=force)

    def _load_goals(self, line: MemberLine, *, force: bool) -> None:
        goals = self.query_one("#notes-goals", SelectionList)
        picked = set(self.goals_of(line.member_id))
        if line.member_id not in self._goals_local:
            self.loaded(f"{line.member_id}:goals", ",".join(line.note.goal_ids) if line.note else "")
        wanted = [(g.id, g.text) for g in line.goals]
        shown = [(str(o.value), str(o.prompt)) for o in goals.options]
        none = self.query_one("#notes-goals-none", Static)
        none.display = not line.goals
        if not line.goals:
            none.update(Text("No active treatment-plan goals on file for this member: add them in the member's "
                             "record (iop member goals) to complete this note."))
        with goals.prevent(SelectionList.SelectedChanged):
            if force or shown != [(gid, clean_line(text)) for gid, text in wanted]:
                highlighted = goals.highlighted
                goals.clear_options()
                goals.add_options([
                    Selection(clean_line(text), gid, gid in picked) for gid, text in wanted
                ])
                if wanted:
                    goals.highlighted = 0 if force or highlighted is None else min(highlighted, len(wanted) - 1)
            elif set(goals.selected) != picked:
                for gid, _text in wanted:
                    (goals.select if gid in picked else goals.deselect)(gid)

    def _apply_lock(self) -> None:
        locked = self.locked
        for area in self.query(NoteArea):
            area.read_only = locked
        self.query_one("#notes-goals", SelectionList).disabled = locked

    # -- typing --------------------------------------------------------------------
    def _key_of(self, area: TextArea) -> str | None:
        if area.id == "notes-narrative":
            return NARRATIVE
        field = (area.id or "").removeprefix("notes-")
        if field in TEXT_FIELDS and self._current not in (None, NARRATIVE):
            return f"{self._current}:{field}"
        return None

    @on(TextArea.Changed)
    def _typed_text(self, event: TextArea.Changed) -> None:
        event.stop()
        snapshot = self.snapshot
        key = self._key_of(event.text_area)
        if snapshot is None or key is None or self.locked:
            return
        text = event.text_area.text
        if text == self.text_of(key):
            return
        self._typed[key] = text
        self.save_text(self._text_save(key, text))
        self._refresh_prompt(NARRATIVE if key == NARRATIVE else key.split(":")[0])

    def _text_save(self, key: str, text: str) -> TextSave:
        """How field ``key`` (the narrative, ``member:field`` or ``member:goals``) is saved as an edit of its base."""
        assert self.snapshot is not None
        meeting_id = self.snapshot.meeting_id
        if key == NARRATIVE:
            from iop_facilitator.services.live import set_narrative

            def narrative(body: str, based_on: str | None) -> Callable[[Any], Any]:
                return lambda session: set_narrative(session, meeting_id, body, based_on=based_on)

            return TextSave(key, text, narrative, title="Group narrative", label=f"Group narrative · {self.place()}",
                            what="narrative")
        from iop_facilitator.services.notes import save_note

        member, field = key.split(":")
        member_id = uuid.UUID(member)
        line = self._line(member_id)
        name = clean_line(line.display_name) if line is not None else "a member"
        title = f"{self._field_title(field)} · {name}"
        if field == "goals":
            def goals(body: str, based_on: str | None) -> Callable[[Any], Any]:
                base = None if based_on is None else {"goal_ids": goal_list(based_on)}
                return lambda session: save_note(session, meeting_id, member_id, goal_ids=goal_list(body), based_on=base)

            return TextSave(key, text, goals, title=title, label=f"Note goals · {name} · {self.place()}", what="goals")

        def note(body: str, based_on: str | None) -> Callable[[Any], Any]:
            base = None if based_on is None else {field: based_on}
            return lambda session: save_note(session, meeting_id, member_id, **{field: body}, based_on=base)

        return TextSave(key, text, note, title=title, label=f"Note, {title} · {self.place()}", what="note")

    def _field_title(self, field: str) -> str:
        labels = format_fields(self.snapshot.note_format if self.snapshot else "GIRP")
        found = next((label.title for label in labels if label.field == field), field)
        return found.split(":")[0]

    # -- the step contract for text others may edit too ------------------------------
    def field_of(self, key: str) -> Any:
        if key == NARRATIVE:
            return self.query_one("#notes-narrative", NoteArea) if self._current == NARRATIVE else None
        member, field = key.split(":")
        if member != self._current:
            return None
        return self.query_one("#notes-goals" if field == "goals" else f"#notes-{field}")

    def current_text(self, key: str) -> str | None:
        if key.endswith(":goals"):
            return ",".join(self.goals_of(uuid.UUID(key.split(":")[0])))
        return self.text_of(key)

    def show_text(self, key: str, text: str | None) -> None:
        value = text or ""
        if key.endswith(":goals"):
            member_id = uuid.UUID(key.split(":")[0])
            self._goals_local[member_id] = tuple(goal_list(value))
            line = self._line(member_id)
            if line is not None and self._current == str(member_id):
                self._load_goals(line, force=False)
            self._refresh_prompt(str(member_id))
            return
        self._typed[key] = value  # shown until a snapshot holds it
        area = self.field_of(key)
        if area is not None and area.text != value:
            with area.prevent(TextArea.Changed):
                area.load_text(value)
        self._refresh_prompt(NARRATIVE if key == NARRATIVE else key.split(":")[0])

    def conflict_view(self, key: str, theirs: str | None, mine: str) -> tuple[str | None, str, str | None]:
        """Goals are shown by their text, and "merge" ticks every goal ticked on either screen."""
        if not key.endswith(":goals"):
            return theirs, mine, None
        line = self._line(uuid.UUID(key.split(":")[0]))
        names = {g.id: clean_line(g.text) for g in line.goals} if line is not None else {}

        def words(value: str | None) -> str | None:
            if value is None:
                return None
            picked = goal_list(value)
            return "\n".join(f"• {names.get(g, 'a goal no longer on file')}" for g in picked) or "no goal ticked"

        both = list(dict.fromkeys(goal_list(theirs or "") + goal_list(mine)))
        return words(theirs), words(mine) or "", ",".join(both)

    @on(SelectionList.SelectedChanged, "#notes-goals")
    def _goals_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        snapshot, key = self.snapshot, self._current
        if snapshot is None or key in (None, NARRATIVE) or self.locked:
            return
        member_id = uuid.UUID(key)
        line = self._line(member_id)
        if line is None:
            return
        picked = {str(v) for v in event.selection_list.selected}
        if picked == set(self.goals_of(member_id)):
            return
        ordered = tuple(g.id for g in line.goals if g.id in picked)
        self._goals_local[member_id] = ordered
        self.save_text(self._text_save(f"{key}:goals", ",".join(ordered)), later=False)
        self._refresh_prompt(key)

    def _refresh_prompt(self, key: str) -> None:
        listing = self.query_one("#notes-list", OptionList)
        if any(option.id == key for option in listing.options):
            listing.replace_option_prompt(key, self._entry_prompt(key))

    @on(OptionList.OptionHighlighted, "#notes-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self._show(event.option.id)

    @on(OptionList.OptionSelected, "#notes-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self._show(event.option.id)
            self._focus_entry(event.option.id)

    # -- focus -------------------------------------------------------------------
    def _first_incomplete(self) -> str | None:
        if self.snapshot is None:
            return None
        if not self.text_of(NARRATIVE).strip():
            return NARRATIVE
        for line in self.snapshot.attended:
            if self.missing_of(line.member_id):
                return str(line.member_id)
        return None

    def _highlight(self, key: str) -> None:
        listing = self.query_one("#notes-list", OptionList)
        try:
            listing.highlighted = listing.get_option_index(key)
        except OptionDoesNotExist:  # not listed (did not attend)
            return
        self._show(key)

    def _focus_entry(self, key: str) -> None:
        """Put the cursor in the first empty field of the entry (or its first field)."""
        if key == NARRATIVE:
            self.query_one("#notes-narrative", NoteArea).focus()
            return
        member_id = uuid.UUID(key)
        labels = format_fields(self.snapshot.note_format if self.snapshot else "GIRP")
        for label in labels:
            if label.field == "goals":
                if not self.goals_of(member_id) and self._line(member_id) and self._line(member_id).goals:
                    self.query_one("#notes-goals", SelectionList).focus()
                    return
            elif not self.text_of(f"{key}:{label.field}").strip():
                self.query_one(f"#notes-{label.field}", NoteArea).focus()
                return
        first = labels[0].field
        self.query_one("#notes-goals" if first == "goals" else f"#notes-{first}").focus()

    def focus_first(self) -> None:
        key = self._first_incomplete()
        if key is not None:
            self._highlight(key)
        self.query_one("#notes-list", OptionList).focus()

    def focus_member(self, member_id: Any) -> None:
        key = str(member_id)
        if self._line(uuid.UUID(key)) is None:
            self.focus_first()
            return
        self._highlight(key)
        self._focus_entry(key)

    def _step(self, delta: int) -> None:
        listing = self.query_one("#notes-list", OptionList)
        if not listing.option_count:
            return
        in_list = listing.has_focus
        index = (listing.highlighted or 0) + delta
        listing.highlighted = max(0, min(index, listing.option_count - 1))
        option = listing.highlighted_option
        if option is not None and option.id:
            self._show(option.id)
            if not in_list:
                self._focus_entry(option.id)

    def action_next_member(self) -> None:
        self._step(1)

    def action_previous_member(self) -> None:
        self._step(-1)

    # -- drafting ------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.snapshot is not None and self.snapshot.actual_end is not None

    def _can_draft(self) -> bool:
        snapshot = self.snapshot
        if snapshot is None:
            return False
        if self.locked:
            self.notify(LOCKED_MESSAGE, severity="warning", markup=False)
            return False
        if not self.finished:
            self.notify("Drafts are written once the group is finished (Check-out: finish the group), so they "
                        "can use the whole meeting. Until then, type your own notes here.",
                        title="Not yet", markup=False)
            return False
        if snapshot.topic_id is not None and self.library is None:
            self.notify("The topic library is still loading; draft again in a moment.", markup=False)
            return False
        return True

    def action_draft(self) -> None:
        if not self._can_draft() or self._current is None:
            return
        if self._current == NARRATIVE:
            if self.text_of(NARRATIVE).strip():
                self.notify("The narrative already has text; clear it to draft it again.", markup=False)
                return
            self._draft([], narrative=True)
        else:
            self._draft([uuid.UUID(self._current)], narrative=False)

    def action_draft_all(self) -> None:
        if not self._can_draft():
            return
        assert self.snapshot is not None
        self._draft(None, narrative=True)

    def _draft(self, member_ids: list[uuid.UUID] | None, *, narrative: bool) -> None:
        from iop_facilitator.services.notes import draft_notes

        assert self.snapshot is not None
        self.flush_pending()  # typed text is saved first, so only truly empty fields are drafted
        self.edit(draft_notes, self.snapshot.meeting_id, self._topic(), member_ids=member_ids, narrative=narrative,
                  done=self._drafted)

    def _drafted(self, result: Any) -> None:
        for member_id, fields in {**result.filled, **result.redrafted}.items():
            for field in TEXT_FIELDS:
                if field in fields:
                    self._typed.pop(f"{member_id}:{field}", None)
            if "goal_ids" in fields:
                self._goals_local.pop(member_id, None)
        if result.narrative is not None:
            self._typed.pop(NARRATIVE, None)
        parts = []
        count = len(set(result.filled) | set(result.redrafted))
        if count:
            parts.append(f"{count} note{'s' if count != 1 else ''}")
        if result.narrative is not None:
            parts.append("the group narrative")
        if parts:
            self.notify(f"Drafted {' and '.join(parts)}. Read and individualize before signing.", markup=False)
        else:
            self.notify("Nothing to draft: every field already has text.", markup=False)
