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

The facts of the member under the cursor (:class:`~iop_facilitator.tui.widgets.facts.FactsPanel`)
take one key each: goals addressed (digits; the topic's suggestion is ticked by the draft),
progress per addressed goal, participation, affect (and the presentation in words), the
risk screen (prefilled from the check-in's safety event and F9) and substance use. The
leader's own observation is one key away (``o`` on the list or the facts, ctrl+o anywhere
here), and the list marks every note still without it (✎). A fact saved on a finished
group redrafts that member's app-drafted sections (and fills the empty ones); text the
leader wrote is never replaced (``services.notes.draft_notes``). The format (GIRP, BIRP,
DAP, SOAP) is the meeting's: ctrl+f picks the next; each shows its own sections
(``services.formats``).

Typing is saved with :meth:`StepPane.edit_later`. Debounced saves do not
reload the snapshot, so the pane keeps what was typed (``_typed``) and shows
that over the snapshot until a snapshot catches up; a refresh never replaces a
field that is focused (with text in it) or still waiting to be saved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option, OptionDoesNotExist

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.services import formats
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.steps.base import LOCKED_MESSAGE, Edit, StepPane, TextSave
from iop_facilitator.tui.widgets.facts import Choice, FactRow, FactsPanel

if TYPE_CHECKING:
    from iop_facilitator.library.model import LoadedTopic
    from iop_facilitator.services.live_read import MemberLine, Snapshot

NARRATIVE = "narrative"
INDENT = "  "


# --------------------------------------------------------------------------- note formats
#
# Each format has its own sections (services.formats): GIRP's Intervention, Response and Plan
# and the Plan of every format live in progress_note; BIRP's Behavior, DAP's Data, SOAP's
# Subjective and Objective and the Assessment live in note_facts. The editor has a field for
# every section and shows the meeting's format's, in its order.

SECTIONS = ("behavior", "data", "subjective", "objective", "intervention", "response", "assessment", "plan")
TEXT_FIELDS = (*SECTIONS, "observation")  # every text field of a member's note (the observation in note_facts)
FORMAT_ORDER = ("GIRP", "BIRP", "DAP", "SOAP")


@dataclass(frozen=True)
class FieldLabel:
    field: str  # "goals" or a section key
    title: str  # the editor's label
    short: str  # in "missing: ..."


def format_fields(note_format: str) -> tuple[FieldLabel, ...]:
    """The format's parts in its order: the goals (ticked on the facts) and each text section."""
    spec = formats.spec(note_format)
    labels = [FieldLabel("goals", "Goals", "goal")] if not any(s.key == "goals" for s in spec.sections) else []
    for section in spec.sections:
        if section.key == "goals":
            labels.append(FieldLabel("goals", f"{section.heading}: {section.prompt}", "goal"))
        else:
            labels.append(FieldLabel(section.key, f"{section.heading}: {section.prompt}", section.title.lower()))
    return tuple(labels)


PARTICIPATION = (Choice("a", "active", "active"), Choice("p", "engaged_when_prompted", "when prompted"),
                 Choice("m", "minimal", "minimal"), Choice("l", "listened", "listened"),
                 Choice("d", "disruptive", "disruptive"))
AFFECT = (Choice("e", "euthymic", "euthymic"), Choice("b", "bright", "bright"), Choice("a", "anxious", "anxious"),
          Choice("d", "depressed", "depressed"), Choice("i", "irritable", "irritable"), Choice("f", "flat", "flat"),
          Choice("t", "tearful", "tearful"), Choice("g", "guarded", "guarded"), Choice("l", "labile", "labile"),
          Choice("y", "tired", "tired"))
PROGRESS = (Choice("i", "improved", "improved"), Choice("n", "no_change", "no change"), Choice("w", "worse", "worse"))
RISK = (Choice("d", "denied", "denied"), Choice("e", "endorsed", "endorsed"))
USE = (Choice("n", "none", "none"), Choice("u", "used", "used"), Choice("d", "declined", "declined to say"))
#: What Enter asks for on a row, and the fact its words are saved in.
WORDS = {"progress": ("measurable value", "measure"), "affect": ("presentation in words", "presentation"),
         "use": ("what was used, as reported", "use_detail")}
#: A payer-lens flag's field -> where it is fixed here (a facts row, or a text field).
FLAG_ROWS = {"goals": "progress", "risk_screen": "risk"}


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
    EDITS_FACTS = False  # the notes' own text is never what other notes are drafted from

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "draft", "Draft", id="notes.draft",
                tooltip="Draft the empty fields of the selected note (or the narrative)"),
        Binding("ctrl+g", "draft_all", "Draft all", id="notes.draft_all",
                tooltip="Draft the empty fields of every attending member's note and the narrative"),
        Binding("ctrl+o", "observation", "Your observation", id="notes.observation",
                tooltip="Write your own observation of the member under the cursor"),
        Binding("o", "observation", "Your observation", id="notes.observation_key", show=False,
                tooltip="Write your own observation of the member under the cursor"),
        Binding("f", "facts", "Facts", id="notes.facts", show=False,
                tooltip="The facts of the member under the cursor (goals, progress, participation...)"),
        Binding("ctrl+f", "next_format", "Format", id="notes.format",
                tooltip="The meeting's note format: GIRP, BIRP, DAP, SOAP (the next one)"),
        Binding("ctrl+down", "next_member", "Next note", id="notes.next", tooltip="Next note", show=False),
        Binding("ctrl+up", "previous_member", "Previous note", id="notes.previous", tooltip="Previous note",
                show=False),
        Binding("escape", "back", "Back", id="notes.back", show=False,
                tooltip="Back to the facts (from their words) or to the list"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._current: str | None = None  # NARRATIVE or a member id (str) shown in the editor
        self._typed: dict[str, str] = {}  # edit key -> text typed here, until a snapshot shows it
        self._goals_local: dict[uuid.UUID, tuple[str, ...]] = {}
        #: (member id, fact) -> the value picked here, until a snapshot shows it (or its save fails).
        self._facts_local: dict[tuple[uuid.UUID, str], Any] = {}
        self._facts_sent: dict[tuple[uuid.UUID, str], int] = {}  # saves of a fact not answered yet
        self._order: tuple[str, ...] = ()  # the format's field order the editor is laid out in
        self._words_row: FactRow | None = None  # the row whose words the words line takes
        self._format_local: str | None = None

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
                        "What the group did as a whole: topic, counts, methods, homework. No member names here; "
                        "each member's own participation goes in their note.",
                        classes="notes-help",
                        markup=False,
                    )
                    yield NoteArea(id="notes-narrative", soft_wrap=True)
                with VerticalScroll(id="notes-member-box"):
                    yield Static("", id="notes-member-title", classes="notes-title", markup=False)
                    yield FactsPanel(id="notes-facts")
                    yield Static("", id="notes-goals-none", classes="notes-help", markup=False)
                    with Vertical(id="notes-words-box"):
                        yield Static("", id="notes-words-label", classes="notes-label", markup=False)
                        yield Input(id="notes-words")
                    with Vertical(id="notes-field-observation", classes="notes-field"):
                        yield Static("", id="notes-label-observation", classes="notes-label", markup=False)
                        yield NoteArea(id="notes-observation", soft_wrap=True)
                    for field in SECTIONS:
                        with Vertical(id=f"notes-field-{field}", classes="notes-field"):
                            yield Static("", id=f"notes-label-{field}", classes="notes-label", markup=False)
                            yield NoteArea(id=f"notes-{field}", soft_wrap=True)

    def on_mount(self) -> None:
        self._render_hint()
        self.query_one("#notes-observation", NoteArea).placeholder = (
            "Your own words: one sentence of what you saw this member do today")
        self.query_one("#notes-goals-none", Static).display = False
        self.query_one("#notes-words-box").display = False

    def _key(self, binding_id: str) -> str:
        return key_label(self, binding_id, owner=NotesPane)

    def _crisis_key(self) -> str:
        """The app's crisis key (it records a safety event), as the footer writes it."""
        return key_label(self, "app.crisis", owner=type(self.app), default="f9")

    def _render_hint(self) -> None:
        key = self._key
        if self.snapshot is not None and self.snapshot.actual_end is None:
            drafts = f"Drafts ({key('notes.draft')}, {key('notes.draft_all')}): after the group is finished"
        else:
            drafts = f"{key('notes.draft')} drafts empty fields · {key('notes.draft_all')} every note"
        self.query_one("#notes-hint", Static).update(Text(
            f"{drafts} · {key('notes.previous')}/{key('notes.next')} other note · {key('notes.observation')} "
            f"your observation (✎: still missing) · {key('notes.format')} format"
        ))

    def on_show(self) -> None:
        # Other steps save typing without reloading: ask for a fresh snapshot when the step opens.
        if self.snapshot is not None:
            self.post_message(Edit(_nothing))

    # -- state -----------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self.snapshot is not None and self.snapshot.status == MeetingStatus.signed

    @property
    def note_format(self) -> str:
        if self._format_local is not None:
            return self._format_local
        return self.snapshot.note_format if self.snapshot is not None else "GIRP"

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
        if line is None:
            return ""
        if field in formats.NOTE_COLUMNS:
            return getattr(line.note, field) if line.note else ""
        if field == "observation":
            return line.facts.observation
        return line.facts.section(field)

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

    def fact_of(self, member_id: uuid.UUID, name: str) -> Any:
        """A fact as shown here: picked here (not in a snapshot yet) or else saved.

        ``name``: participation, affect (a tuple), risk_screen, substance_use, presentation,
        use_detail, or ``progress:<goal id>`` / ``measure:<goal id>``.
        """
        if (member_id, name) in self._facts_local:
            return self._facts_local[(member_id, name)]
        line = self._line(member_id)
        if line is None:
            return None
        facts = line.facts
        if name.startswith(("progress:", "measure:")):
            kind, goal_id = name.split(":", 1)
            rated = facts.progress_of(goal_id)
            if rated is None:
                return None if kind == "progress" else ""
            return rated.progress if kind == "progress" else rated.measure
        return getattr(facts, name)

    def missing_of(self, member_id: uuid.UUID) -> list[str]:
        """The format's names of the parts of this member's note that are still empty."""
        gaps = []
        for label in format_fields(self.note_format):
            if label.field == "goals":
                if not self.goals_of(member_id):
                    gaps.append(label.short)
            elif not self.text_of(f"{member_id}:{label.field}").strip() and not (
                    label.field == formats.spec(self.note_format).observed_in
                    and self.text_of(f"{member_id}:observation").strip()):
                gaps.append(label.short)
        return gaps

    def lacks_observation(self, member_id: uuid.UUID) -> bool:
        return not self.text_of(f"{member_id}:observation").strip()

    def _topic(self) -> LoadedTopic | None:
        snapshot, library = self.snapshot, self.library
        if snapshot is None or snapshot.topic_id is None or library is None:
            return None
        return library.topics.get(snapshot.topic_id.strip().lower())

    def _forget_saved(self) -> None:
        """Drop typed text and picks the snapshot now holds."""
        for key in list(self._typed):
            if not self.text_busy(key) and self._saved_text(key) == self._typed[key]:
                del self._typed[key]
        for member_id in list(self._goals_local):
            line = self._line(member_id)
            if self.text_busy(f"{member_id}:goals"):
                continue
            if line is None or (line.note and tuple(line.note.goal_ids) == self._goals_local[member_id]):
                del self._goals_local[member_id]
        for member_id, name in list(self._facts_local):
            if self._facts_sent.get((member_id, name)):
                continue  # its save is not answered yet: this snapshot may be older than the pick
            del self._facts_local[(member_id, name)]
        if self._format_local is not None and self.snapshot is not None \
                and self.snapshot.note_format == self._format_local:
            self._format_local = None

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
        labels = [label for label in format_fields(self.note_format) if label.field != "goals"]
        order = tuple(label.field for label in labels)
        if order == self._order:
            return
        self._order = order
        box = self.query_one("#notes-member-box", VerticalScroll)
        previous: Any = self.query_one("#notes-field-observation", Vertical)
        for field in SECTIONS:
            self.query_one(f"#notes-field-{field}", Vertical).display = field in order
        for label in labels:
            container = self.query_one(f"#notes-field-{label.field}", Vertical)
            box.move_child(container, after=previous)
            previous = container
            self.query_one(f"#notes-label-{label.field}", Static).update(Text(label.title))
        observed = formats.spec(self.note_format).section(formats.spec(self.note_format).observed_in)
        self.query_one("#notes-label-observation", Static).update(Text(
            f"Your observation (in {observed.title}) · {self._key('notes.observation')}"))

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
        if self.lacks_observation(member_id):
            text.append("✎ ")
        text.append(clean_line(line.display_name if line else "?"), style="bold")
        if line is not None and line.status in (AttendanceStatus.late, AttendanceStatus.left_early):
            text.append(f"{INDENT}(late)" if line.status == AttendanceStatus.late else f"{INDENT}(left early)")
        gaps = self.missing_of(member_id)
        if self.lacks_observation(member_id):
            gaps = [*gaps, "your observation"]
        text.append(f"\n{INDENT}✓ complete" if not gaps else f"\n{INDENT}missing: {', '.join(gaps)}")
        return text

    def _render_list(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        heading = f"Notes · {self.note_format} · {len(snapshot.attended)} attended"
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
        self._close_words()
        self._current = key
        switcher = self.query_one("#notes-editor", ContentSwitcher)
        switcher.current = "notes-narrative-box" if key == NARRATIVE else "notes-member-box"
        if key != NARRATIVE:  # another member's note opens at its top (its name), not where the last one was left
            self.query_one("#notes-member-box", VerticalScroll).scroll_home(animate=False, immediate=True)
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
        title.append(f" · {self.note_format} note")
        if line.drop_in:
            title.append(" · drop-in")
        self.query_one("#notes-member-title", Static).update(title)
        self._load_facts(line, start=force)
        for field in TEXT_FIELDS:
            self._set_area(self.query_one(f"#notes-{field}", NoteArea), f"{key}:{field}", force=force)

    # -- the facts -------------------------------------------------------------------
    def fact_rows(self, line: MemberLine) -> tuple[FactRow, ...]:
        """The member's facts as rows of picks (what the panel shows)."""
        member_id = line.member_id
        picked = self.goals_of(member_id)
        if line.member_id not in self._goals_local:
            self.loaded(f"{member_id}:goals", ",".join(line.note.goal_ids) if line.note else "")
        by_id = {g.id: g for g in line.goals}
        rows = [FactRow(
            "goals", "Goals addressed (digit ticks)",
            tuple(Choice(str(n), g.id, f"{g.position}. {clean_line(g.text)}") for n, g in enumerate(line.goals[:9], 1)),
            frozenset(picked), multi=True, needed=not picked and bool(line.goals),
        )]
        for goal_id in picked:
            goal = by_id.get(goal_id)
            if goal is None:
                continue
            progress = self.fact_of(member_id, f"progress:{goal_id}")
            rows.append(FactRow(
                f"progress:{goal_id}", f"Goal {goal.position} progress", PROGRESS,
                frozenset([progress] if progress else []), words=WORDS["progress"][0],
                detail=clean_line(self.fact_of(member_id, f"measure:{goal_id}") or ""), needed=not progress,
            ))
        participation = self.fact_of(member_id, "participation")
        rows.append(FactRow("participation", "Participation", PARTICIPATION,
                            frozenset([participation] if participation else []), needed=not participation))
        affect = tuple(self.fact_of(member_id, "affect") or ())
        presentation = clean_line(self.fact_of(member_id, "presentation") or "")
        rows.append(FactRow("affect", "Affect", AFFECT, frozenset(affect), multi=True, words=WORDS["affect"][0],
                            detail=presentation, needed=not affect and not presentation))
        risk = self.fact_of(member_id, "risk_screen")
        hint = ""
        own_events = [e for e in self.snapshot.safety_events if e.member_id == member_id] if self.snapshot else []
        if line.safety_concern and not own_events and risk != "denied":
            hint = f"⚑ concern at check-in: {self._crisis_key()} records the safety event (then e links it)"
        elif own_events and risk is None:
            hint = "⚑ a safety event was recorded for this member: e links it"
        rows.append(FactRow("risk", "Risk screen (SI/HI)", RISK, frozenset([risk] if risk else []), hint=hint,
                            needed=not risk))
        use = self.fact_of(member_id, "substance_use")
        rows.append(FactRow("use", "Use since last session", USE, frozenset([use] if use else []),
                            words=WORDS["use"][0], detail=clean_line(self.fact_of(member_id, "use_detail") or ""),
                            needed=not use))
        return tuple(rows)

    def _load_facts(self, line: MemberLine, *, start: bool) -> None:
        panel = self.query_one("#notes-facts", FactsPanel)
        panel.show(self.fact_rows(line), start=start)
        none = self.query_one("#notes-goals-none", Static)
        none.display = not line.goals
        if not line.goals:
            none.update(Text("No active treatment-plan goals on file for this member: add them in the member's "
                             "record (iop member goals) to complete this note."))

    def _refresh_facts(self, member_id: uuid.UUID) -> None:
        if self._current == str(member_id):
            line = self._line(member_id)
            if line is not None:
                self._load_facts(line, start=False)
        self._refresh_prompt(str(member_id))

    def _apply_lock(self) -> None:
        locked = self.locked
        for area in self.query(NoteArea):
            area.read_only = locked
        self.query_one("#notes-facts", FactsPanel).disabled = locked

    @on(FactsPanel.Picked)
    def _picked(self, event: FactsPanel.Picked) -> None:
        event.stop()
        key = self._current
        if self.snapshot is None or key in (None, NARRATIVE):
            return
        if self.locked:
            self.notify(LOCKED_MESSAGE, severity="warning", markup=False)
            return
        member_id = uuid.UUID(key)
        name, value = event.row.name, event.value
        if name == "goals":
            line = self._line(member_id)
            now = set(self.goals_of(member_id)) ^ {value}
            ordered = tuple(g.id for g in line.goals if g.id in now) if line else tuple(now)
            self._goals_local[member_id] = ordered
            self.save_text(self._text_save(f"{key}:goals", ",".join(ordered)), later=False)
            self._refresh_facts(member_id)
            return
        if name.startswith("progress:"):
            goal_id = name.split(":", 1)[1]
            self._save_fact(member_id, name, value, progress_goal=goal_id)
        elif name == "participation":
            self._save_fact(member_id, "participation", value)
        elif name == "affect":
            now = tuple(self.fact_of(member_id, "affect") or ())
            self._save_fact(member_id, "affect", tuple(a for a in now if a != value) if value in now
                            else (*now, value))
        elif name == "risk":
            self._save_risk(member_id, value)
        elif name == "use":
            self._save_fact(member_id, "substance_use", value)

    def _save_risk(self, member_id: uuid.UUID, value: str) -> None:
        assert self.snapshot is not None
        if value == "endorsed":
            events = [e for e in self.snapshot.safety_events if e.member_id == member_id]
            if not events:
                self.notify(f"An endorsed risk screen is linked to the safety event: record it with "
                            f"{self._crisis_key()} first (risk level and disposition), then press e here.",
                            title="Safety event first", severity="warning", markup=False)
                return
            self._save_fact(member_id, "risk_screen", value, event_id=events[-1].id)
            return
        self._save_fact(member_id, "risk_screen", value)

    def _save_fact(self, member_id: uuid.UUID, name: str, value: Any, *, progress_goal: str | None = None,
                   event_id: uuid.UUID | None = None) -> None:
        """Save one fact of one member (and redraft their app-drafted sections when the group is finished)."""
        from iop_facilitator.services.note_facts import save_facts, set_goal_progress

        assert self.snapshot is not None
        meeting_id = self.snapshot.meeting_id
        base = self.fact_of(member_id, name)
        local = (member_id, name)
        self._facts_local[local] = value
        self._facts_sent[local] = self._facts_sent.get(local, 0) + 1
        follow = self._follow_drafts(member_id)

        def op(session: Any) -> Any:
            if progress_goal is not None:
                kind = name.split(":", 1)[0]
                field = "progress" if kind == "progress" else "measure"
                set_goal_progress(session, meeting_id, member_id, progress_goal, **{field: value},
                                  based_on={field: base})
            else:
                stored = list(value) if isinstance(value, tuple) else value
                based = list(base) if isinstance(base, tuple) else base
                extra = {"safety_event_id": event_id} if name == "risk_screen" and event_id is not None else {}
                save_facts(session, meeting_id, member_id, **{name: stored}, **extra, based_on={name: based})
            return follow(session)

        def answered(result: Any = None) -> None:
            left = self._facts_sent.get(local, 1) - 1
            if left > 0:
                self._facts_sent[local] = left
            else:
                self._facts_sent.pop(local, None)
            if result is not None and hasattr(result, "filled"):
                self._drafted_quietly(result)

        def failed(problem: str) -> None:
            answered()
            self._facts_local.pop(local, None)
            self.notify(problem, title="Not saved", severity="error", markup=False)
            self._refresh_facts(member_id)

        self._post_up(Edit(op, done=answered, failed=failed, facts=False))
        self._refresh_facts(member_id)

    def _follow_drafts(self, member_id: uuid.UUID) -> Callable[[Any], Any]:
        """What runs after a fact of ``member_id`` is saved, in the same store job: on a finished group,
        that member's app-drafted sections are redrafted from the facts (``draft_notes`` without
        filling: what the leader wrote or cleared, and goals they unticked, stay as they are)."""
        from iop_facilitator.services.notes import draft_notes

        assert self.snapshot is not None
        meeting_id, topic = self.snapshot.meeting_id, self._topic()
        if not self.finished or (self.snapshot.topic_id is not None and topic is None):
            return lambda _session: None
        return lambda session: draft_notes(session, meeting_id, topic, member_ids=[member_id], narrative=False,
                                           fill_empty=False)

    @on(FactsPanel.Words)
    def _words_asked(self, event: FactsPanel.Words) -> None:
        event.stop()
        if self.locked or self._current in (None, NARRATIVE):
            return
        self._open_words(event.row)

    def _open_words(self, row: FactRow) -> None:
        member_id = uuid.UUID(str(self._current))
        kind = row.name.split(":", 1)[0]
        what, fact = WORDS[kind]
        if kind == "progress":
            fact = f"measure:{row.name.split(':', 1)[1]}"
        self._words_row = row
        box = self.query_one("#notes-words-box")
        box.display = True
        self.query_one("#notes-words-label", Static).update(Text(f"{row.title}: {what} (Enter saves, Esc goes back)"))
        words = self.query_one("#notes-words", Input)
        words.value = str(self.fact_of(member_id, fact) or "")
        self.focus_now(words)

    def _close_words(self) -> None:
        self._words_row = None
        if self.is_mounted:
            self.query_one("#notes-words-box").display = False

    @on(Input.Submitted, "#notes-words")
    def _words_typed(self, event: Input.Submitted) -> None:
        event.stop()
        row, key = self._words_row, self._current
        if row is None or key in (None, NARRATIVE) or self.locked:
            return
        member_id = uuid.UUID(key)
        kind = row.name.split(":", 1)[0]
        if kind == "progress":
            goal_id = row.name.split(":", 1)[1]
            self._save_fact(member_id, f"measure:{goal_id}", event.value, progress_goal=goal_id)
        else:
            self._save_fact(member_id, WORDS[kind][1], event.value)
        self._close_words()
        self.focus_now(self.query_one("#notes-facts", FactsPanel))

    @on(FactsPanel.Done)
    def _facts_done(self, event: FactsPanel.Done) -> None:
        event.stop()
        if self._current not in (None, NARRATIVE):
            self.action_observation()

    def action_back(self) -> None:
        """Esc: from the words line back to the facts; from the editor back to the list; on the list, leave."""
        from textual.actions import SkipAction

        if self._words_row is not None:
            self._close_words()
            self.focus_now(self.query_one("#notes-facts", FactsPanel))
            return
        listing = self.query_one("#notes-list", OptionList)
        if listing.has_focus:
            raise SkipAction()  # Escape goes on to the meeting screen (it asks first)
        self.focus_now(listing)

    # -- where the pane stands -------------------------------------------------------------
    def current_member_id(self) -> Any:
        return uuid.UUID(self._current) if self._current not in (None, NARRATIVE) else None

    def place_cursor(self, member_id: Any) -> None:
        if self._line(member_id) is not None:
            self._highlight(str(member_id))

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
        from iop_facilitator.services.note_facts import save_facts, set_goals
        from iop_facilitator.services.notes import save_note

        member, field = key.split(":")
        member_id = uuid.UUID(member)
        line = self._line(member_id)
        name = clean_line(line.display_name) if line is not None else "a member"
        title = f"{self._field_title(field)} · {name}"
        if field == "goals":
            follow = self._follow_drafts(member_id)

            def goals(body: str, based_on: str | None) -> Callable[[Any], Any]:
                base = None if based_on is None else goal_list(based_on)

                def op(session: Any) -> Any:
                    set_goals(session, meeting_id, member_id, goal_list(body), based_on=base)
                    return follow(session)

                return op

            return TextSave(key, text, goals, title=title, label=f"Note goals · {name} · {self.place()}", what="goals",
                            done=self._drafted_quietly)
        if field in formats.NOTE_COLUMNS:
            def note(body: str, based_on: str | None) -> Callable[[Any], Any]:
                base = None if based_on is None else {field: based_on}
                return lambda session: save_note(session, meeting_id, member_id, **{field: body}, based_on=base)
        else:
            def note(body: str, based_on: str | None) -> Callable[[Any], Any]:
                base = None if based_on is None else {field: based_on}
                return lambda session: save_facts(session, meeting_id, member_id, **{field: body}, based_on=base)

        return TextSave(key, text, note, title=title, label=f"Note, {title} · {self.place()}", what="note")

    def _field_title(self, field: str) -> str:
        if field == "observation":
            return "Your observation"
        found = next((label.title for label in format_fields(self.note_format) if label.field == field), field)
        return found.split(":")[0]

    # -- the step contract for text others may edit too ------------------------------
    def field_of(self, key: str) -> Any:
        if key == NARRATIVE:
            return self.query_one("#notes-narrative", NoteArea) if self._current == NARRATIVE else None
        member, field = key.split(":")
        if member != self._current:
            return None
        return self.query_one("#notes-facts" if field == "goals" else f"#notes-{field}")

    def current_text(self, key: str) -> str | None:
        if key.endswith(":goals"):
            return ",".join(self.goals_of(uuid.UUID(key.split(":")[0])))
        return self.text_of(key)

    def show_text(self, key: str, text: str | None) -> None:
        value = text or ""
        if key.endswith(":goals"):
            member_id = uuid.UUID(key.split(":")[0])
            self._goals_local[member_id] = tuple(goal_list(value))
            self._refresh_facts(member_id)
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
            if self.missing_of(line.member_id) or self.lacks_observation(line.member_id):
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
        """Put the cursor where this entry needs work: a fact not picked yet, the observation, an empty section."""
        if key == NARRATIVE:
            self._put_focus(self.query_one("#notes-narrative", NoteArea))
            return
        member_id = uuid.UUID(key)
        panel = self.query_one("#notes-facts", FactsPanel)
        line = self._line(member_id)
        if line is not None and any(row.needed for row in panel.rows):
            panel.show(panel.rows, start=True)
            self._put_focus(panel)
            return
        if self.lacks_observation(member_id):
            self._put_focus(self.query_one("#notes-observation", NoteArea))
            return
        for label in format_fields(self.note_format):
            if label.field != "goals" and not self.text_of(f"{key}:{label.field}").strip():
                self._put_focus(self.query_one(f"#notes-{label.field}", NoteArea))
                return
        self._put_focus(panel)

    def focus_first(self) -> None:
        key = self._first_incomplete()
        if key is not None:
            self._highlight(key)
        self.query_one("#notes-list", OptionList).focus()

    def focus_member(self, member_id: Any, where: str = "") -> None:
        """Put the cursor on this member's note; ``where`` (a payer-lens flag's field) names the part to fix."""
        key = str(member_id)
        if self._line(uuid.UUID(key)) is None:
            self.focus_first()
            return
        self._highlight(key)
        if not where:
            self._focus_entry(key)
            return
        self.focus_field(where)

    def focus_field(self, where: str) -> None:
        """Focus the part ``where`` of the note in the editor: a facts row, the observation or a section."""
        panel = self.query_one("#notes-facts", FactsPanel)
        shown = {label.field for label in format_fields(self.note_format)} - {"goals"}
        if where in shown:
            self._put_focus(self.query_one(f"#notes-{where}", NoteArea))
            return
        if where == "observation" or where not in (*FLAG_ROWS, "participation", "affect", "use", "risk", "progress"):
            self._put_focus(self.query_one("#notes-observation", NoteArea))
            return
        panel.go_to(FLAG_ROWS.get(where, where)) or panel.go_to("goals")
        self._put_focus(panel)

    def _put_focus(self, widget: Any) -> None:
        """Focus ``widget`` now, and again after a focus already queued (a step being opened focuses its list)."""
        self.focus_now(widget)
        widget.focus()

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

    def action_observation(self) -> None:
        """Open (focus) the leader's observation of the member under the cursor."""
        key = self._current
        if key in (None, NARRATIVE):
            listing = self.query_one("#notes-list", OptionList)
            member = next((o.id for o in listing.options if o.id and o.id != NARRATIVE), None)
            if member is None:
                return
            self._highlight(member)
        self._close_words()
        self.focus_now(self.query_one("#notes-observation", NoteArea))

    def action_facts(self) -> None:
        if self._current in (None, NARRATIVE):
            return
        panel = self.query_one("#notes-facts", FactsPanel)
        panel.show(panel.rows, start=True)
        self.focus_now(panel)

    def action_next_format(self) -> None:
        from iop_facilitator.services.notes import set_format

        if self.snapshot is None:
            return
        if self.locked:
            self.notify(LOCKED_MESSAGE, severity="warning", markup=False)
            return
        now = self.note_format.upper()
        chosen = FORMAT_ORDER[(FORMAT_ORDER.index(now) + 1) % len(FORMAT_ORDER)] if now in FORMAT_ORDER else "GIRP"
        self._format_local = chosen
        meeting_id, topic, finished = self.snapshot.meeting_id, self._topic(), self.finished
        has_topic = self.snapshot.topic_id is not None

        def op(session: Any) -> Any:
            from iop_facilitator.services.notes import draft_notes

            set_format(session, meeting_id, chosen)
            if finished and not (has_topic and topic is None):
                # The new format's own sections are drafted; the app's drafts follow its words.
                return draft_notes(session, meeting_id, topic, narrative=False)
            return None

        def failed(problem: str) -> None:
            self._format_local = None
            self.notify(problem, title="Not saved", severity="error", markup=False)

        def done(result: Any) -> None:
            if result is not None:
                self._drafted_quietly(result)

        self._post_up(Edit(op, done=done, failed=failed, facts=False))
        self._order = ()
        self._layout_format()
        self._render_list()
        self._load_editor(force=False)
        self.notify(f"Note format: {chosen} ({formats.spec(chosen).title}).", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in ("observation", "facts") and self.snapshot is not None and not self.snapshot.attended)

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

    def _drafted_quietly(self, result: Any) -> None:
        """Drafted text replaces what this screen showed of those fields (they were the app's, or empty)."""
        if not hasattr(result, "filled"):
            return
        for member_id, fields in {**result.filled, **result.redrafted}.items():
            for field in TEXT_FIELDS:
                if field in fields:
                    self._typed.pop(f"{member_id}:{field}", None)
            if "goal_ids" in fields:
                self._goals_local.pop(member_id, None)
        if result.narrative is not None:
            self._typed.pop(NARRATIVE, None)

    def _drafted(self, result: Any) -> None:
        self._drafted_quietly(result)
        parts = []
        count = len(set(result.filled) | set(result.redrafted))
        if count:
            parts.append(f"{count} note{'s' if count != 1 else ''}")
        if result.narrative is not None:
            parts.append("the group narrative")
        if parts:
            self.notify(f"Drafted {' and '.join(parts)}. Add your own observation to each and read before signing.",
                        markup=False)
        else:
            self.notify("Nothing to draft: every field already has text.", markup=False)
