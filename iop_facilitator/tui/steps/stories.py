"""The Stories step: timestamped notes while each member shares.

Pick the member by their roll-call number (digit keys; two digits typed
quickly reach 10-15) or by name (``/`` filters the list), then Enter (or
``n``) and type. Enter adds the note, stamped with the time typing began.

Nothing typed is lost: the note being typed is saved as the member's story
note after :data:`~iop_facilitator.tui.steps.base.DEBOUNCE_SECONDS` of quiet
and updated as typing goes on (``edit_later``), so leaving the step, quitting
or a closed terminal (the screen takes :meth:`pending_edits`) keeps it.

``ctrl+f`` turns a concern into a follow-up for the member: the text being
typed, else the highlighted note, else the member's latest note becomes the
reason. ``e`` edits a note (Enter saves; an empty text deletes it), ``delete``
pressed twice deletes one. Only the chosen member's notes are on screen.

Each note names its author (the laptop's facilitator). The note field shows
how much of its 4,000 characters is used and asks before a paste that would
not fit. The member list flags a safety concern (⚑) and an absence count near
or over the program's limit (⚠), also on an 80-column terminal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.timefmt import local_hhmm
from iop_facilitator.tui.steps.base import StepPane, TextSave
from iop_facilitator.tui.steps.checkin import SIGNED_MESSAGE
from iop_facilitator.tui.widgets.fields import LimitedInput

if TYPE_CHECKING:
    import datetime as dt

    from iop_facilitator.services.live_read import MemberLine, Snapshot, StoryView

NUMBER_WINDOW = 1.0  # seconds in which a second digit extends the number (1 then 2: member 12)
DELETE_WINDOW = 3.0  # seconds in which a second Delete confirms
STORY_MAX = 4000  # services.live.STORY_MAX (not imported: keeps SQLAlchemy out of the first frame)
NARROW_WIDTH = 100


def key_hint(count: int, *, narrow: bool = False) -> str:
    numbers = f"1-{count} member number" + (" (two digits quickly)" if count >= 10 else "") if count else "no members"
    if narrow:
        return (f"Pick {numbers.split(' member')[0]} or / · Enter writes\n"
                "Enter adds the note · Esc list · ^f follow-up")
    return (
        f"Pick: {numbers} · / find by name · Enter or n: write\n"
        "Write: Enter adds the note (saved as you type) · Esc back to the list\n"
        "Notes: ctrl+f follow-up · e edit · Delete twice deletes · Tab next · F1 keys"
    )


def member_flags(line: MemberLine) -> str:
    """⚑ for a safety concern flagged at check-in, ⚠ for absences near or over the limit."""
    return ("⚑" if line.safety_concern else "") + ("⚠" if line.near_limit or line.over_limit else "")


SHORT_STATUS = {
    AttendanceStatus.absent_unexcused: "absent",
    AttendanceStatus.absent_excused: "excused",
    AttendanceStatus.cancelled: "cancelled",
    AttendanceStatus.left_early: "left",
    AttendanceStatus.late: "late",
}


@dataclass(eq=False)
class _Draft:
    """The note being typed. ``story_id`` is set by the writer thread once it is saved.

    ``made_by`` names the save that added the note: when that save's commit failed and it is
    tried again (a full disk), the id it set belongs to a note that was never stored.
    ``finished``: Enter was pressed (the field is freed once that save is committed).
    """

    member_id: uuid.UUID
    started: dt.datetime
    story_id: uuid.UUID | None = None
    author_id: uuid.UUID | None = None
    ident: uuid.UUID = field(default_factory=uuid.uuid4)
    made_by: object = None
    finished: bool = False
    told_back: bool = False  # a save of it was held back (the leader hears when it is finally saved)

    @property
    def key(self) -> str:
        return f"draft:{self.ident}"


def save_draft(session: Any, meeting_id: uuid.UUID, draft: _Draft, text: str, *, based_on: str | None = None,
               token: object = None) -> uuid.UUID | None:
    """Save the typed text as the draft's story note: add it, update it, or (empty) delete it.

    Runs in the store's writer thread, in order with every other change. ``based_on`` is the
    text saved last (the note changed or deleted by someone else meanwhile raises
    :class:`~iop_facilitator.errors.EditConflict`); ``token`` names this save (see
    :class:`_Draft`), so trying it again after a failed commit adds the note exactly once.
    """
    from iop_facilitator.services.live import add_story, update_story

    if draft.story_id is not None and token is not None and draft.made_by is token:
        draft.story_id = None  # this very save added it, and that commit failed: add it again
    if draft.story_id is not None:
        if update_story(session, draft.story_id, text, based_on=based_on) is None:
            draft.story_id = None  # emptied: deleted
        return draft.story_id
    if not clean(text).strip():
        return None
    note = add_story(session, meeting_id, draft.member_id, text, at=draft.started, author_id=draft.author_id)
    draft.story_id = note.id
    draft.made_by = token
    return note.id


class StoriesPane(StepPane):
    """Member list on the left; the chosen member's notes and the note field on the right."""

    STEP = "stories"
    TITLE = "Stories"

    BINDINGS: ClassVar[list[BindingType]] = [
        *[
            Binding(str(d), f"number({d})", f"Member {d}", id=f"stories.number_{d}", show=False,
                    tooltip=f"Member number {d} (two digits quickly: 10 and up)")
            for d in range(10)
        ],
        Binding("slash", "filter", "Find", id="stories.filter", tooltip="Find a member by name"),
        Binding("n", "write", "Write", id="stories.write", tooltip="Write a note for this member"),
        Binding("ctrl+f", "follow_up", "Follow-up", id="stories.follow_up", priority=True,
                tooltip="Make the note (or the text being typed) a follow-up for this member"),
        Binding("e", "edit_note", "Edit note", id="stories.edit", tooltip="Edit the highlighted (or latest) note"),
        Binding("delete", "delete_note", "Delete note", id="stories.delete",
                tooltip="Delete the highlighted note (press twice)"),
        Binding("escape", "back", "Back", id="stories.back", show=False, tooltip="Back to the member list"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Notes whose save is on its way, by key (drafts: "draft:<ident>", edits: "story:<id>"),
        # so a failed or held save can be shown and put back; where an edited note came from.
        self._drafts: dict[str, _Draft] = {}
        self._stories: dict[str, tuple[uuid.UUID, dt.datetime]] = {}
        self._row_ids: list[uuid.UUID] = []
        self._shown: dict[uuid.UUID, tuple[str, str, str, str]] = {}
        self._member_id: uuid.UUID | None = None
        self._want_member: uuid.UUID | None = None
        self._notes_shown: tuple[tuple[uuid.UUID, str, bool], ...] | None = None
        self._draft: _Draft | None = None
        self._editing: StoryView | None = None
        self._digits = ""
        self._digit_at = 0.0
        self._confirm: tuple[uuid.UUID, float] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="stories-left"):
            yield Input(placeholder="Name…", id="stories-filter", select_on_focus=False)
            table: DataTable[Text] = DataTable(id="stories-members", cursor_type="row", zebra_stripes=True)
            yield table
        with Vertical(id="stories-right"):
            yield Static("", id="stories-heading", markup=False)
            yield OptionList(id="stories-notes")
            yield Static("", id="stories-label", markup=False)
            # select_on_focus off: coming back to a half-typed note must not let one key replace it all
            yield LimitedInput(placeholder="Type while they share; Enter adds the note", id="stories-input",
                               select_on_focus=False, limit=STORY_MAX, what="a story note")
            yield Static(key_hint(0), id="stories-hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#stories-members", DataTable)
        table.add_column(Text("#"), width=2, key="num")
        table.add_column(Text("Member"), width=16, key="name")
        table.add_column(Text("!"), width=2, key="flags")
        table.add_column(Text("Notes"), width=5, key="notes")
        if self.snapshot is not None:
            self._show_snapshot(self.snapshot)

    def fit(self, width: int, height: int) -> None:
        narrow = width < NARROW_WIDTH
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            if self.snapshot is not None:
                self.query_one("#stories-hint", Static).update(Text(key_hint(len(self.snapshot.members),
                                                                             narrow=narrow)))

    # -- pieces ---------------------------------------------------------------------
    @property
    def _table(self) -> DataTable[Text]:
        return self.query_one("#stories-members", DataTable)

    @property
    def _notes(self) -> OptionList:
        return self.query_one("#stories-notes", OptionList)

    @property
    def _input(self) -> Input:
        return self.query_one("#stories-input", Input)

    @property
    def _filter(self) -> Input:
        return self.query_one("#stories-filter", Input)

    @property
    def _signed(self) -> bool:
        return self.snapshot is not None and self.snapshot.status == MeetingStatus.signed

    def _line(self, member_id: uuid.UUID | None) -> MemberLine | None:
        if member_id is None or self.snapshot is None:
            return None
        return next((m for m in self.snapshot.members if m.member_id == member_id), None)

    def _number(self, member_id: uuid.UUID) -> int:
        assert self.snapshot is not None
        return next(i for i, m in enumerate(self.snapshot.members, 1) if m.member_id == member_id)

    def _set_input(self, value: str) -> None:
        """Change the note field without it counting as typing."""
        field = self._input
        with field.prevent(Input.Changed):
            field.value = value
        field.cursor_position = len(value)

    # -- reading the snapshot -------------------------------------------------------
    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None and self.is_mounted:
            self._show_snapshot(snapshot)

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        self._fill_members(snapshot)
        if self._member_id is None and self._row_ids:
            self._member_id = self._row_ids[self._table.cursor_row] if self._table.row_count else None
        if snapshot.status == MeetingStatus.signed and not self._input.disabled:
            if self._input.has_focus:
                self._table.focus()
            self._input.disabled = True
        elif snapshot.status != MeetingStatus.signed:
            self._input.disabled = False
        self.query_one("#stories-hint", Static).update(Text(key_hint(len(snapshot.members),
                                                                     narrow=self.has_class("-narrow"))))
        self._show_member()

    def _fill_members(self, snapshot: Snapshot) -> None:
        table = self._table
        needle = clean_line(self._filter.value).lower() if self._filter.has_class("-open") else ""
        rows: dict[uuid.UUID, tuple[str, str, str, str]] = {}
        for number, line in enumerate(snapshot.members, 1):
            name = clean_line(line.display_name)
            if needle and needle not in name.lower():
                continue
            status = SHORT_STATUS.get(line.status) if line.status is not None else None
            if status in ("absent", "excused", "cancelled"):
                name = f"{name} ({status})"
            rows[line.member_id] = (str(number), name, member_flags(line), str(len(line.stories)) if line.stories else "")
        ids = list(rows)
        if ids == self._row_ids:
            for member_id, cells in rows.items():
                old = self._shown.get(member_id)
                for key, new, before in zip(("num", "name", "flags", "notes"), cells, old or ("", "", "", "")):
                    if new != before:
                        table.update_cell(str(member_id), key, Text(new, no_wrap=True, overflow="ellipsis"))
        else:
            keep = self._want_member or self._member_id
            table.clear()
            for member_id, cells in rows.items():
                table.add_row(*(Text(c, no_wrap=True, overflow="ellipsis") for c in cells), key=str(member_id))
            self._row_ids = ids
            if keep in ids:
                table.move_cursor(row=ids.index(keep), animate=False)
        if self._want_member in ids:
            table.move_cursor(row=ids.index(self._want_member), animate=False)
            self._want_member = None
        self._shown = rows

    def _show_member(self) -> None:
        """The heading, notes and note label for the member under the cursor."""
        line = self._line(self._member_id)
        heading = self.query_one("#stories-heading", Static)
        label = self.query_one("#stories-label", Static)
        if line is None or self.snapshot is None:
            heading.update(Text("No member chosen"))
            label.update(Text(""))
            self._fill_notes(())
            return
        tz = self.snapshot.timezone
        parts = [f"#{self._number(line.member_id)}  {clean_line(line.display_name)}"]
        if line.status is None:
            parts.append("not marked yet")
        elif line.status in (AttendanceStatus.present, AttendanceStatus.late):
            parts.append(f"{line.status.value} {local_hhmm(line.arrived_at, tz)}".strip())
        else:
            parts.append(SHORT_STATUS.get(line.status, line.status.value))
        count = len(line.stories)
        parts.append(f"{count} note{'s' if count != 1 else ''} this meeting" if count else "no notes yet")
        heading.update(Text("  ·  ".join(parts)))
        self._fill_notes(line.stories)
        self._show_label()

    def _show_label(self) -> None:
        label = self.query_one("#stories-label", Static)
        line = self._line(self._member_id)
        who = clean_line(line.display_name) if line else "this member"
        if self._signed:
            label.update(Text("Signed and locked: the notes are read-only."))
        elif self._editing is not None and self.snapshot is not None:
            at = local_hhmm(self._editing.recorded_at, self.snapshot.timezone)
            label.update(Text(f"Editing the {at} note of {who}: Enter saves · an empty text deletes it · Esc cancels"))
        else:
            label.update(Text(f"New note for {who} (timestamped, saved while you type):"))

    def _waiting_notes(self) -> dict[Any, tuple[str, dt.datetime]]:
        """This member's notes whose latest text is not saved yet (not the one in the field):
        story id (or the draft's key when it was never saved) -> (text, time)."""
        waiting: dict[Any, tuple[str, dt.datetime]] = {}
        unsaved = self.unsaved_keys()
        for key, draft in self._drafts.items():
            recipe = self._recipes.get(key)
            if draft is self._draft or draft.member_id != self._member_id or key not in unsaved or recipe is None:
                continue
            waiting[draft.story_id or key] = (recipe.text, draft.started)
        editing = self._story_key(self._editing.id) if self._editing is not None else None
        for key, (member_id, at) in self._stories.items():  # edits of saved notes, held back or failed
            recipe = self._recipes.get(key)
            if member_id != self._member_id or key not in unsaved or key == editing or recipe is None:
                continue
            waiting[uuid.UUID(key.removeprefix("story:"))] = (recipe.text or "(deleted here)", at)
        return waiting

    def _fill_notes(self, stories: tuple[StoryView, ...]) -> None:
        draft_id = self._draft.story_id if self._draft is not None else None
        waiting = self._waiting_notes()
        shown = tuple((s.id, s.text, s.id == draft_id) for s in stories) + tuple(
            (k, v[0], False) for k, v in waiting.items())
        if shown == self._notes_shown:
            return
        notes = self._notes
        keep = None
        if notes.highlighted is not None and notes.option_count:
            keep = notes.get_option_at_index(notes.highlighted).id
        tz = self.snapshot.timezone if self.snapshot is not None else "UTC"
        options = []
        for story in stories:
            text = Text()
            text.append(local_hhmm(story.recorded_at, tz), style="bold")
            newer = waiting.pop(story.id, None)
            text.append("  " + clean(newer[0] if newer else story.text).strip())
            if story.id == draft_id:
                text.append(" · ")
                text.append("being typed", style="italic")
            elif newer:
                text.append(" · ")
                text.append("⚠ not saved yet", style="bold")
            options.append(Option(text, id=str(story.id)))
        for key, (body, at) in waiting.items():  # never saved yet: listed under the member, marked
            text = Text()
            text.append(local_hhmm(at, tz), style="bold")
            text.append("  " + clean(body).strip() + " · ")
            text.append("⚠ not saved yet", style="bold")
            options.append(Option(text, id=f"unsaved:{key}"))
        notes.clear_options()
        notes.add_options(options)
        ids = [str(o.id) for o in options]
        if notes.has_focus and keep in ids:
            notes.highlighted = ids.index(keep)  # the facilitator is working in the list: stay put
        elif ids:
            notes.highlighted = len(ids) - 1  # otherwise the newest note
        self._notes_shown = shown

    # -- choosing the member ------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#stories-members")
    def _row_highlighted(self) -> None:
        table = self._table
        if not self._row_ids or not 0 <= table.cursor_row < len(self._row_ids):
            return
        self._choose(self._row_ids[table.cursor_row])

    @on(DataTable.RowSelected, "#stories-members")
    def _row_selected(self) -> None:
        self.action_write()

    def _choose(self, member_id: uuid.UUID) -> None:
        if member_id == self._member_id:
            return
        self._keep_typing_as_note()
        self._member_id = member_id
        self._confirm = None
        self._notes_shown = None
        self._show_member()

    def _keep_typing_as_note(self) -> None:
        """Leaving a member: the text being typed (or edited) for them is kept as it is."""
        if self._editing is not None:
            self._finish_edit(keep=True)
        if self._draft is not None:
            had_text = bool(clean(self._input.value).strip())
            line = self._line(self._draft.member_id)
            self._finish_draft(leaving=True)
            if had_text and line is not None:
                self.notify(f"Kept the note being typed as a note of {clean_line(line.display_name)}", markup=False)

    def _move_to(self, member_id: uuid.UUID) -> None:
        table = self._table
        if member_id not in self._row_ids:
            self._close_filter()
        if member_id in self._row_ids:
            table.move_cursor(row=self._row_ids.index(member_id), animate=False)
        self._choose(member_id)

    def focus_first(self) -> None:
        """The member list, or the note field when a note was left half-typed there."""
        if (self._draft is not None or self._editing is not None) and self._input.value and not self._signed:
            self._input.focus()
        else:
            self._table.focus()

    def focus_member(self, member_id: Any) -> None:
        self._table.focus()
        self.place_cursor(member_id)

    def place_cursor(self, member_id: Any) -> None:
        if self.snapshot is not None and any(m.member_id == member_id for m in self.snapshot.members):
            self._move_to(member_id)
        else:
            self._want_member = member_id

    def current_member_id(self) -> uuid.UUID | None:
        """The member whose notes are shown (the note being typed belongs to them)."""
        if self._draft is not None:
            return self._draft.member_id
        return self._member_id

    def action_number(self, digit: int) -> None:
        from iop_facilitator.clock import monotonic

        if self.snapshot is None:
            return
        count = len(self.snapshot.members)
        now = monotonic() - self.app.key_waited()  # when it was typed (tui/keys.py), not when handled
        typed = self._digits + str(digit)
        if self._digits and now - self._digit_at <= NUMBER_WINDOW and int(typed) <= count:
            self._digits = typed
        else:
            self._digits = str(digit)
        self._digit_at = now
        number = int(self._digits)
        if not 1 <= number <= count:
            self.notify(f"No member number {number}: the list runs from 1 to {count}.", markup=False)
            self._digits = ""
            return
        self._move_to(self.snapshot.members[number - 1].member_id)
        self._table.focus()

    # -- finding by name ---------------------------------------------------------------------
    def action_filter(self) -> None:
        field = self._filter
        field.add_class("-open")
        field.focus()

    def _close_filter(self) -> None:
        field = self._filter
        if not field.has_class("-open"):
            return
        field.remove_class("-open")
        with field.prevent(Input.Changed):
            field.value = ""
        if self.snapshot is not None:
            self._fill_members(self.snapshot)

    @on(Input.Changed, "#stories-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.snapshot is not None:
            self._fill_members(self.snapshot)
            if self._row_ids:
                self._table.move_cursor(row=0, animate=False)
                self._choose(self._row_ids[0])

    @on(Input.Submitted, "#stories-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._row_ids:
            self.notify("No member on today's list has that name.", markup=False)
            return
        member_id = self._row_ids[self._table.cursor_row] if self._table.row_count else self._row_ids[0]
        self._close_filter()
        self._move_to(member_id)
        self.action_write()

    # -- writing ---------------------------------------------------------------------------------
    def _editable(self) -> bool:
        if self.snapshot is None:
            return False
        if self._signed:
            self.notify(SIGNED_MESSAGE, title="Locked", markup=False)
            return False
        return True

    def action_write(self) -> None:
        if self._member_id is None or not self._editable():
            return
        self.focus_now(self._input)

    @on(Input.Changed, "#stories-input")
    def _typed(self, event: Input.Changed) -> None:
        from iop_facilitator.clock import utcnow

        event.stop()
        if self.snapshot is None or self._signed:
            return
        if self._editing is not None:
            key = self._story_key(self._editing.id)
            if clean(event.value).strip():
                self.save_text(self._story_save(self._editing.id, event.value))
            else:
                self.cancel_pending(key)  # an empty text deletes the note only on Enter
            return
        draft = self._draft
        if draft is not None and draft.finished and self._committing(draft) \
                and event.value.startswith(self._bases.get(draft.key) or "\0"):
            return  # typed ahead while Enter's save commits: the next note, started once it is saved
        if draft is None:
            if self._member_id is None or not clean(event.value).strip():
                return
            self._draft = draft = _Draft(self._member_id, utcnow(), author_id=self.author_id)
        self.save_text(self._draft_save(draft, event.value))

    def _committing(self, draft: _Draft) -> bool:
        """The draft's last save is on its way and nothing holds it back (the usual few milliseconds)."""
        key = draft.key
        return self._inflight.get(key, 0) > 0 and key not in self._held_keys and key not in self._failed_keys

    @on(Input.Submitted, "#stories-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._editable():
            return
        if self._editing is not None:
            self._finish_edit(keep=True)
            self._notes.focus()
            return
        self._finish_draft()

    def _finish_draft(self, *, leaving: bool = False) -> None:
        """Save the typed note now (it keeps the time typing began); the field is freed once it is saved.

        Enter keeps the text in the field until the database has it (issue 11: a note is never
        cleared before its save succeeded): then the field is emptied for the next note, and
        letters typed meanwhile start that next note. While a full disk holds the save back the
        text stays in the field, marked "not saved yet", and can still be corrected. Leaving
        the member (``leaving``) frees the field at once: a note not saved yet is then listed
        under its member, marked, and saved when the database takes it.
        """
        draft = self._draft
        text = self._input.value
        if draft is None or self.snapshot is None:
            if leaving:
                self._set_input("")
            return
        draft.finished = True
        if draft.story_id is None and not clean(text).strip() and not self.text_busy(draft.key):
            self.cancel_pending(draft.key)
            self._draft = None
            self._set_input("")
            return
        if leaving:
            self._draft = None
            self._set_input("")
        self.save_text(self._draft_save(draft, text), later=False)
        self.refresh_marks()

    # -- how notes are saved (based on the text saved last; a conflict shows both) ---------------
    @staticmethod
    def _story_key(story_id: uuid.UUID) -> str:
        return f"story:{story_id}"

    def _who(self, member_id: uuid.UUID) -> str:
        line = self._line(member_id)
        return clean_line(line.display_name) if line is not None else "a member"

    def _draft_save(self, draft: _Draft, text: str) -> TextSave:
        assert self.snapshot is not None
        meeting_id = self.snapshot.meeting_id
        self._drafts[draft.key] = draft

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            token = object()
            return lambda session: save_draft(session, meeting_id, draft, body, based_on=based_on, token=token)

        who = self._who(draft.member_id)
        return TextSave(draft.key, text, make, title=f"Story note · {who}",
                        label=f"Story note · {who} · {self.place()} {local_hhmm(draft.started, self.snapshot.timezone)}",
                        what="story note", done=lambda _result: self._draft_saved(draft, text), single_line=True,
                        limit=STORY_MAX)

    def _story_save(self, story_id: uuid.UUID, text: str) -> TextSave:
        """An edit (or, empty, the deletion) of a saved note."""
        from iop_facilitator.services.live import update_story

        assert self.snapshot is not None
        key = self._story_key(story_id)
        member_id, at = self._stories.get(key, (self._member_id, self.snapshot.actual_start))
        who = self._who(member_id) if member_id is not None else "a member"

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: update_story(session, story_id, body, based_on=based_on)

        when = local_hhmm(at, self.snapshot.timezone)
        return TextSave(key, text, make, title=f"Story note · {who} · {when}",
                        label=f"Story note · {who} · {self.place()} {when}", what="story note", single_line=True,
                        limit=STORY_MAX)

    def _draft_saved(self, draft: _Draft, text: str) -> None:
        """A save of ``draft`` committed: a finished note still in the field frees the field now.

        Letters typed after the saved text (while it committed) stay in the field as the start
        of the next note.
        """
        from iop_facilitator.clock import utcnow

        value = self._input.value
        if self._draft is draft and draft.finished and not self.text_busy(draft.key) and value.startswith(text):
            was_held = draft.key in self._held_keys or draft.told_back
            self._draft = None
            rest = value[len(text):]
            self._set_input(rest)
            if was_held:
                self.notify(f"Saved: the note of {self._who(draft.member_id)} is in the database now.", markup=False)
            if clean(rest).strip() and self._member_id is not None:
                self._draft = _Draft(self._member_id, utcnow(), author_id=self.author_id)
                self.save_text(self._draft_save(self._draft, rest))
        if not self.text_busy(draft.key):
            self._drafts.pop(draft.key, None)
        self._notes_shown = None
        self._show_member()
        self.refresh_marks()

    def _text_held(self, save: TextSave, words: str) -> None:
        super()._text_held(save, words)
        draft = self._drafts.get(save.key)
        if draft is not None:
            draft.told_back = True
        self._notes_shown = None
        self._show_member()

    def text_not_saved(self, save: TextSave, problem: str) -> None:
        super().text_not_saved(save, problem)
        self._notes_shown = None
        self._show_member()

    # -- the step contract for text others may edit too ------------------------------------------
    def field_of(self, key: str) -> Any:
        if self._draft is not None and key == self._draft.key:
            return self._input
        if self._editing is not None and key == self._story_key(self._editing.id):
            return self._input
        return None

    def current_text(self, key: str) -> str | None:
        if self.field_of(key) is not None:
            return self._input.value
        recipe = self._recipes.get(key)
        return recipe.text if recipe is not None else None

    def conflict_view(self, key: str, theirs: str | None, mine: str) -> tuple[str | None, str, str | None]:
        if not clean(mine).strip():
            return theirs, "(delete this note)", None
        return theirs, mine, None

    def deleted_choice(self, key: str) -> str:
        return "Keep mine: add it again as a note (same time)"

    def show_text(self, key: str, text: str | None) -> None:
        shown = self.field_of(key) is not None
        if text is None:  # the note stays deleted: the field lets it go
            if shown:
                if self._editing is not None:
                    self._editing = None
                    self._show_label()
                self._draft = None
                self._set_input("")
            self._drafts.pop(key, None)
        elif shown and self._draft is not None and self._draft.key == key and self._draft.finished:
            self._draft = None  # Enter was pressed on it: theirs is kept in the database, the field is free
            self._set_input("")
            self._drafts.pop(key, None)
        elif shown:
            self._set_input(clean(text).strip())
        self._notes_shown = None
        self._show_member()

    def resave(self, save: TextSave, *, deleted: bool) -> None:
        """Keep mine after a conflict; a note deleted meanwhile is added again with its own time."""
        draft = self._drafts.get(save.key)
        if deleted and draft is not None:
            draft.story_id = None  # the next save adds it again (started: the time typing began)
        elif deleted and save.key.startswith("story:"):
            from iop_facilitator.services.live import add_story

            member_id, at = self._stories.get(save.key, (self._member_id, None))
            if self.field_of(save.key) is not None:
                self._editing = None
                self._set_input("")
                self._show_label()
            if member_id is not None and clean(save.text).strip() and self.snapshot is not None:
                self.edit(add_story, self.snapshot.meeting_id, member_id, save.text, at=at, author_id=self.author_id)
            return
        super().resave(save, deleted=deleted)

    # -- editing and deleting -------------------------------------------------------------------
    def _chosen_note(self) -> StoryView | None:
        """The highlighted note when the notes have focus, else the member's latest."""
        line = self._line(self._member_id)
        if line is None or not line.stories:
            return None
        notes = self._notes
        if notes.has_focus and notes.highlighted is not None and notes.option_count:
            wanted = notes.get_option_at_index(notes.highlighted).id
            return next((s for s in line.stories if str(s.id) == wanted), None)
        return line.stories[-1]

    def action_edit_note(self) -> None:
        if not self._editable():
            return
        note = self._chosen_note()
        if note is None:
            self.notify("No note to edit yet: Enter (or n) writes one.", markup=False)
            return
        if self._editing is not None:
            self._finish_edit(keep=True)
        if self._draft is not None:
            self._finish_draft(leaving=True)
        key = self._story_key(note.id)
        self._stories[key] = (self._member_id, note.recorded_at)
        self.loaded(key, note.text)  # the edit is based on the text shown
        self._editing = note
        self._set_input(clean(note.text).strip())
        self._show_label()
        self.refresh_marks()
        self.focus_now(self._input)

    def _finish_edit(self, *, keep: bool) -> None:
        """Enter (keep=True): save the text, an empty one deletes the note. Esc: put the original back."""
        note = self._editing
        self._editing = None
        text = self._input.value
        self._set_input("")
        self._show_label()
        if note is None or self.snapshot is None:
            return
        key = self._story_key(note.id)
        self.cancel_pending(key)
        if keep:
            self.save_text(self._story_save(note.id, text), later=False)
            if not clean(text).strip():
                self.notify("Note deleted.", markup=False)
        elif self._bases.get(key, note.text) != note.text:
            self.save_text(self._story_save(note.id, note.text), later=False)  # undo what was saved while typing
        self.refresh_marks()

    def action_delete_note(self) -> None:
        from iop_facilitator.clock import monotonic

        if not self._editable():
            return
        notes = self._notes
        if not notes.has_focus:
            self.notify("Highlight the note in the list first (Tab), then press Delete twice.", markup=False)
            return
        note = self._chosen_note()
        if note is None:
            return
        now = monotonic()
        if self._confirm is not None and self._confirm[0] == note.id and now - self._confirm[1] <= DELETE_WINDOW:
            self._confirm = None
            if self._draft is not None and self._draft.story_id == note.id:
                draft = self._draft
                self._draft = None
                self._set_input("")
                self.save_text(self._draft_save(draft, ""), later=False)  # the draft's own note: emptied
            else:
                key = self._story_key(note.id)
                self._stories[key] = (self._member_id, note.recorded_at)
                self.loaded(key, note.text)
                self.save_text(self._story_save(note.id, ""), later=False)
            self.notify("Note deleted.", markup=False)
            return
        self._confirm = (note.id, now)
        self.notify("Press Delete again to delete this note.", timeout=DELETE_WINDOW, markup=False)

    # -- follow-up ------------------------------------------------------------------------------
    def action_follow_up(self) -> None:
        from iop_facilitator.services.live import add_follow_up

        if not self._editable():
            return
        typed = clean_line(self._input.value)
        member_id = self._draft.member_id if (typed and self._draft is not None) else self._member_id
        line = self._line(member_id)
        if line is None:
            return
        reason = typed
        if not reason:
            note = self._chosen_note()
            reason = clean_line(note.text) if note is not None else ""
        if not reason:
            self.notify("Write the concern as a note first; ctrl+f then makes it a follow-up.", markup=False)
            return
        name = clean_line(line.display_name)

        def added(item: Any) -> None:
            due = f", due {item.due_date.isoformat()}" if getattr(item, "due_date", None) else ""
            self.notify(f"Follow-up added for {name}{due}.", title="Follow-up", markup=False)

        self.edit(add_follow_up, line.member_id, reason, meeting_id=self.snapshot.meeting_id,
                  created_by_id=self.author_id, done=added)

    # -- leaving a field ------------------------------------------------------------------------
    def action_back(self) -> None:
        if self._filter.has_class("-open"):
            self._close_filter()
            self._table.focus()
        elif self._editing is not None:
            self._finish_edit(keep=False)
            self._notes.focus()
        elif self._input.has_focus:
            self.flush_pending()  # leaving the field saves what was typed (it stays there until Enter)
            self._table.focus()
        else:
            raise SkipAction()  # Escape goes on to the meeting screen
