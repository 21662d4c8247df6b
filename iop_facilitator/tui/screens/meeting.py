"""The live meeting: six steps from roll call to signature, with the clock always in view.

The screen owns the meeting's :class:`~iop_facilitator.services.live_read.Snapshot`
and hands it down to the step panes; panes post
:class:`~iop_facilitator.tui.steps.base.Edit` messages, which the screen runs
through the app's background :class:`~iop_facilitator.tui.store.Store` (one
commit per change) before sending a fresh snapshot down again.

Leaving is deliberate and returning is exact:

* Esc inside a step's fields goes back to the step's list; Esc on the list asks
  "Leave the meeting?" (``y`` leaves, anything else stays); F10 leaves at once.
* Where the meeting stands (the step, the focused widget, the member under each
  step's cursor, the topic's segment timer) is saved to the database
  (:mod:`~iop_facilitator.services.meeting_view`) about twice a second when it
  changes, and at once on leaving; reopening the meeting (also after a crash)
  puts all of it back. The panes get the first snapshot before the step is shown,
  so they restore the focus into a filled list, never into an empty pane.
* After the group has finished, an edit that changes what the notes are drafted
  from redrafts the fields the app drafted and nobody edited
  (:func:`~iop_facilitator.services.notes.refresh_drafts`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static

from iop_facilitator.enums import FlowStep, MeetingStatus
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui import timers
from iop_facilitator.tui.dialogs.confirm import LeaveConfirm
from iop_facilitator.tui.steps.base import Edit, GotoStep, SegmentChanged, StepPane
from iop_facilitator.tui.steps.checkin import CheckinPane
from iop_facilitator.tui.steps.checkout import CheckoutPane
from iop_facilitator.tui.steps.notes import NotesPane
from iop_facilitator.tui.steps.review import ReviewPane
from iop_facilitator.tui.steps.stories import StoriesPane
from iop_facilitator.tui.steps.topic import TopicPane
from iop_facilitator.tui.widgets.clock import MeetingClock
from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader

if TYPE_CHECKING:
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.live_read import Snapshot
    from iop_facilitator.services.meeting_view import ViewState
    from iop_facilitator.tui.store import Store

PANES: tuple[type[StepPane], ...] = (CheckinPane, StoriesPane, TopicPane, CheckoutPane, NotesPane, ReviewPane)
STEP_KEYS = ("f2", "f3", "f4", "f5", "f6", "f7")
ORDER = [FlowStep(p.STEP) for p in PANES]
VIEW_SAVE_SECONDS = 0.5  # where the meeting stands is saved at most this long after it changes
HERE = Path(__file__).parent


class MeetingScreen(Screen[None]):
    """One group meeting, live. Construct with the meeting's id; the app supplies the store."""

    CSS_PATH: ClassVar[list[str]] = [
        str(HERE.parent / "steps" / f"{step}.tcss")
        for step in ("checkin", "stories", "topic", "checkout", "notes", "review")
    ] + [str(HERE.parent / "dialogs" / f"{name}.tcss") for name in ("checkin", "confirm", "review")]

    BINDINGS: ClassVar[list[BindingType]] = [
        *[
            # Priority: text areas bind F6/F7 themselves (select line / all), yet the step keys must always work.
            Binding(
                key, f"goto('{pane.STEP}')", pane.TITLE, id=f"meeting.{pane.STEP}", tooltip=f"Go to {pane.TITLE}",
                priority=True,
            )
            for key, pane in zip(STEP_KEYS, PANES)
        ],
        Binding("ctrl+n", "next_step", "Next step", id="meeting.next", tooltip="Next step", show=False),
        Binding("f10", "leave", "Home", id="meeting.home", priority=True,
                tooltip="Back to the home screen (the meeting stays open)"),
        Binding("escape", "ask_leave", "Home", id="meeting.escape", show=False,
                tooltip="Leave the meeting for the home screen (asks first)"),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, init=False, always_update=True)
    step: reactive[str] = reactive(FlowStep.checkin.value, init=False)

    class Left(Message):
        """The facilitator went back to the home screen."""

    def __init__(self, meeting_id: uuid.UUID, store: Store, library: Library | None = None,
                 author_id: uuid.UUID | None = None) -> None:
        super().__init__(id="meeting")
        self.meeting_id = meeting_id
        self.store = store
        self.library = library
        #: The staff member at the keyboard: recorded as the author of what is typed here.
        self.author_id = author_id
        self._step_restored = False
        self._view: ViewState | None = None
        self._saved_view: tuple[str, str, tuple[tuple[str, str], ...]] | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="meeting-bar"):
            yield Static("", id="meeting-title", markup=False)
            yield MeetingClock(id="meeting-clock", markup=False)
        yield Static("", id="step-tabs", markup=False)
        with ContentSwitcher(initial=CheckinPane.STEP, id="steps"):
            for pane in PANES:
                yield pane(id=pane.STEP)
        yield KeyFooter()

    def on_mount(self) -> None:
        for pane in self.query(StepPane):
            pane.author_id = self.author_id
        self._fit(self.app.size.width, self.app.size.height)
        self._render_tabs()
        self._first_load()
        if self.library is not None:
            self._give_library(self.library)
        timers.set_interval(self, VIEW_SAVE_SECONDS, self.save_view)

    # -- data -----------------------------------------------------------------
    def _first_load(self) -> None:
        """The snapshot and where the meeting stood, read together so the step opens as it was left."""
        from iop_facilitator.services.live_read import load_snapshot
        from iop_facilitator.services.meeting_view import load_view

        meeting_id = self.meeting_id

        def read(session: Any) -> tuple[Snapshot, ViewState]:
            return load_snapshot(session, meeting_id), load_view(session, meeting_id)

        def loaded(result: tuple[Snapshot, ViewState]) -> None:
            self._view = result[1]
            self.snapshot = result[0]

        self.store.read(read, loaded)

    def reload(self) -> None:
        from iop_facilitator.services.live_read import load_snapshot

        meeting_id = self.meeting_id
        self.store.read(lambda session: load_snapshot(session, meeting_id), self._set_snapshot)

    def _set_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.is_mounted:
            return
        if not self._step_restored:
            for pane in self.query(StepPane):  # first: every pane, so cursors restore into filled lists
                pane.snapshot = snapshot
        else:  # later: the step on screen only; a hidden step gets the snapshot of the moment it is shown
            shown = self.query_one(f"#{self.query_one('#steps', ContentSwitcher).current}", StepPane)
            shown.snapshot = snapshot
        if not self._step_restored:
            self._step_restored = True
            self._restore(snapshot)
        date = snapshot.local_date.isoformat()
        signed = "  ·  SIGNED (locked)" if snapshot.status == MeetingStatus.signed else ""
        self.query_one("#meeting-title", Static).update(Text(f"{clean_line(snapshot.group_name)}  ·  {date}{signed}"))
        clock = self.query_one(MeetingClock)
        clock.started = snapshot.actual_start
        clock.ended = snapshot.actual_end
        clock.scheduled_minutes = int((snapshot.scheduled_end - snapshot.scheduled_start).total_seconds() // 60)

    def _restore(self, snapshot: Snapshot) -> None:
        """Reopening: the step, each step's cursor, the timer, then the focus, as they were left."""
        from iop_facilitator.services.meeting_view import ViewState

        view = self._view or ViewState()
        step = snapshot.flow_step if snapshot.flow_step in {p.STEP for p in PANES} else CheckinPane.STEP
        self.set_reactive(MeetingScreen.step, step)
        self.query_one("#steps", ContentSwitcher).current = step
        self._render_tabs()
        for pane in self.query(StepPane):
            key = view.cursors.get(pane.STEP)
            if key:
                pane.restore_cursor(key)
        self.query_one(TopicPane).restore_timer(view.timer)
        self.query_one(f"#{step}", StepPane).restore_focus(view.focus)
        self._saved_view = self._view_now()

    def set_library(self, library: Library) -> None:
        self.library = library
        if self.is_mounted:
            self._give_library(library)

    def _give_library(self, library: Library) -> None:
        for pane in self.query(StepPane):
            pane.library = library

    @on(Edit)
    def _edit(self, message: Edit) -> None:
        message.stop()
        self.save_edit(message)

    def save_edit(self, message: Edit) -> None:
        """Commit an :class:`Edit` (a pane's change) in the background, then refresh the snapshot."""
        self.save(message.op, reload=message.reload, done=message.done, failed=message.failed, facts=message.facts,
                  conflict=message.conflict, held=message.held, keep=message.keep, members=message.members)

    def save(self, op: Any, *, reload: bool = True, done: Any = None, failed: Any = None, facts: bool = True,
             conflict: Any = None, held: Any = None, keep: Any = None, members: tuple[Any, ...] = ()) -> None:
        """Commit ``op(session)`` in the background, then refresh the snapshot.

        ``conflict`` gets a stale edit's :class:`~iop_facilitator.errors.EditConflict`,
        ``held`` hears once that a passing fault holds the change back, ``keep`` is the text
        it carries (see :meth:`~iop_facilitator.tui.store.Store.submit`).

        ``members``: the change touches only these members' attendance rows (a roll-call,
        check-in or check-out key). Then the refresh is a **delta**: the same store job reads
        back those rows and the absence counts right after the commit
        (``live_read.reread_attendance`` as the job's ``then``), and the step on screen redraws
        only their rows and the counters (:meth:`_apply_attendance`).
        Otherwise (or when notes are redrafted after the change) it is a **full** reload of the
        meeting after the commit.
        """
        from iop_facilitator.services.live_read import load_snapshot, reread_attendance

        meeting_id = self.meeting_id
        follows = facts and self._drafts_follow()
        snapshot = self.snapshot
        delta = bool(members) and not follows and snapshot is not None
        day = snapshot.local_date if snapshot is not None else None
        ids = tuple(members)

        def run(session: Any) -> Any:
            return op(session)

        def reread(session: Any) -> Any:  # what the commit stored, read right after it
            return reread_attendance(session, meeting_id, ids, day)

        def finished(result: Any) -> None:
            parts = None
            if delta:
                result, parts = result
            if done is not None:
                done(result)
            if delta:
                if parts is None:  # the read after the commit failed: read everything
                    self.reload()
                else:
                    self._apply_attendance(parts, ids, redraw=reload)

        def problem(text: str) -> None:
            if failed is not None:
                failed(text)
                self.reload()
            else:
                self._failed(text)

        def stale(exc: Any) -> None:
            conflict(exc)
            self.reload()

        self.store.submit(run, done=finished, failed=problem, conflict=stale if conflict is not None else None,
                          held=held, keep=keep, then=reread if delta else None)
        if follows:
            self._refresh_drafts()
            reload = True
        if reload and not delta:
            self.store.read(lambda session: load_snapshot(session, meeting_id), self._set_snapshot)

    def _apply_attendance(self, parts: Any, member_ids: tuple[Any, ...], *, redraw: bool = True) -> None:
        """A delta: these members' attendance, as the change just committed stored it, into the
        snapshot; only the step on screen redraws them (its rows and counters), or nothing redraws
        (``redraw`` False: typing saved, which the field shows already). The meeting's title and
        clock do not change with a member's attendance; hidden steps get the snapshot when shown."""
        snapshot = self.snapshot
        updated = snapshot.with_attendance(parts) if snapshot is not None else None
        if updated is None:  # a member left the meeting meanwhile: read it all again
            self.reload()
            return
        self.set_reactive(MeetingScreen.snapshot, updated)
        if not (self._step_restored and self.is_mounted):
            return
        pane = self.current_pane()
        if redraw:
            pane.show_lines(updated, member_ids)
        else:
            pane.hold_snapshot(updated)

    def _drafts_follow(self) -> bool:
        snapshot = self.snapshot
        return snapshot is not None and snapshot.actual_end is not None and snapshot.status != MeetingStatus.signed

    def _refresh_drafts(self) -> None:
        """After a change to the facts of a finished group: redraft what the app drafted and nobody edited."""
        from iop_facilitator.services.notes import refresh_drafts

        snapshot, library = self.snapshot, self.library
        assert snapshot is not None
        topic = library.topics.get(snapshot.topic_id) if library is not None and snapshot.topic_id else None
        meeting_id = self.meeting_id
        self.store.submit(lambda session: refresh_drafts(session, meeting_id, topic), done=self._redrafted,
                          failed=self._failed)

    def _redrafted(self, result: Any) -> None:
        count = len(result.redrafted) + (1 if result.narrative else 0)
        if count:
            self.notify(f"Redrafted {count} app-drafted note{'s' if count != 1 else ''} from the new facts "
                        "(text you wrote is never changed).", markup=False, timeout=5)

    @on(GotoStep)
    def _goto(self, message: GotoStep) -> None:
        message.stop()
        self.action_goto(message.step)
        if message.member_id is not None:
            pane = self.query_one(f"#{message.step}", StepPane)
            if message.where:
                pane.focus_member(message.member_id, message.where)
            else:
                pane.focus_member(message.member_id)

    @on(SegmentChanged)
    def _segment(self, message: SegmentChanged) -> None:
        message.stop()
        clock = self.query_one(MeetingClock)
        clock.segment = message.title
        clock.segment_left = message.seconds_left

    def _failed(self, problem: str) -> None:
        self.notify(problem, title="Not saved", severity="error", timeout=10, markup=False)
        self.reload()

    # -- steps ------------------------------------------------------------------
    def _render_tabs(self) -> None:
        narrow = 0 < self.app.size.width < 100
        parts = []
        for key, pane in zip(STEP_KEYS, PANES):
            title = pane.TITLE.split()[0] if narrow else pane.TITLE  # "Review" on 80 columns
            label = f"{key.upper()} {title}"
            if narrow:
                parts.append(f"[{label}]" if pane.STEP == self.step else f" {label} ")
            else:
                parts.append(f"[ {label} ]" if pane.STEP == self.step else f"  {label}  ")
        self.query_one("#step-tabs", Static).update(Text("".join(parts)), layout=False)  # one fixed line

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)
        self._render_tabs()

    def _fit(self, width: int, height: int) -> None:
        for pane in self.query(StepPane):
            pane.fit(width, height)

    def set_focus(self, widget: Any, scroll_visible: bool = True, from_app_focus: bool = False) -> None:
        """Focus ``widget``, unless it is in a step that is not on screen.

        Textual focuses a widget whatever its pane shows, and a focus asked for a moment
        earlier (a pane's ``focus_first`` after the refresh that showed a chosen topic, a
        ``Widget.focus`` a turn of the queue later) may arrive once the leader has moved to
        another step: the hidden step would then take every key typed on the one shown.
        """
        if widget is not None:
            pane = next((node for node in widget.ancestors_with_self if isinstance(node, StepPane)), None)
            if pane is not None and pane.id != self.query_one("#steps", ContentSwitcher).current:
                return
        super().set_focus(widget, scroll_visible=scroll_visible, from_app_focus=from_app_focus)

    def _show_step(self, step: str) -> None:
        pane = self.query_one(f"#{step}", StepPane)
        snapshot = self.snapshot
        if snapshot is not None and pane.snapshot is not snapshot:
            pane.snapshot = snapshot  # hidden until now: it shows the meeting as it is
        self.query_one("#steps", ContentSwitcher).current = step
        self._render_tabs()
        pane.focus_first()

    def watch_step(self, step: str) -> None:
        if self.is_mounted:
            self._show_step(step)

    def action_goto(self, step: str) -> None:
        if step == self.step:
            return
        self.flush_drafts()
        self.step = step  # shown at once, with the snapshot on hand
        snapshot = self.snapshot
        if snapshot is not None and snapshot.status != MeetingStatus.signed:
            from iop_facilitator.services.live import set_step

            meeting_id = self.meeting_id
            # A full read after the flushed drafts and the new step: the step shows what was just typed.
            self.save(lambda session: set_step(session, meeting_id, FlowStep(step)), facts=False)
        else:
            self.reload()

    def action_next_step(self) -> None:
        index = [p.STEP for p in PANES].index(self.step)
        if index + 1 < len(PANES):
            self.action_goto(PANES[index + 1].STEP)

    def action_ask_leave(self) -> None:
        """Esc on a step's list: leaving needs a second, different key (y)."""
        def answered(yes: bool | None) -> None:
            if yes:
                self.action_leave()

        self.app.push_screen(LeaveConfirm(), callback=answered)

    def action_leave(self) -> None:
        self.flush_drafts()
        self.save_view()
        self.dismiss(None)

    # -- where the meeting stands ---------------------------------------------------
    def current_pane(self) -> StepPane:
        return self.query_one(f"#{self.step}", StepPane)

    def current_member_id(self) -> uuid.UUID | None:
        """The member under the cursor of the step on screen (None where there is no member list)."""
        return self.current_pane().current_member_id()

    def _view_now(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        cursors = []
        for pane in self.query(StepPane):
            key = pane.cursor_key()
            if key:
                cursors.append((pane.STEP, key))
        return self.step, self.current_pane().focused_id(), tuple(cursors)

    def save_view(self) -> None:
        """Save the focused widget and the cursors when they changed (called twice a second and on leaving)."""
        if not self._step_restored or not self.is_mounted:
            return
        now = self._view_now()
        if now == self._saved_view:
            return
        from iop_facilitator.services.meeting_view import save_view

        if self.app.screen is not self:  # a dialog on top: keep the focus as it was under it
            now = (now[0], self._saved_view[1] if self._saved_view else "", now[2])
        self._saved_view = now
        meeting_id = self.meeting_id
        _step, focus, cursors = now
        self.store.submit(lambda session: save_view(session, meeting_id, focus=focus, cursors=dict(cursors)))

    # -- nothing lost -------------------------------------------------------------
    def flush_drafts(self) -> None:
        """Queue every pane's debounced typing now (before a step change or leaving).

        Submitted to the store right here, not posted as messages: a snapshot read right after
        (the new step's) then comes after these saves in the store's queue and shows them.
        """
        for pane in self.query(StepPane):
            for edit in pane.pending_edits():
                edit.reload = False
                self.save_edit(edit)

    def save_drafts_now(self, timeout: float = 3.0) -> bool:
        """Queue every pending draft and wait until it is committed (terminal closing, quitting)."""
        for pane in self.query(StepPane):
            for edit in pane.pending_edits():
                edit.reload, edit.facts = False, False  # no redraft or snapshot read on the way out
                self.save_edit(edit)
        self.save_view()
        return self.store.flush(timeout)

    # -- crisis -------------------------------------------------------------------
    def record_safety_event(self, member_id: uuid.UUID | None, concern: str) -> None:
        from iop_facilitator.services.safety import record_event

        from iop_facilitator.tui.store import Kept

        meeting_id, author = self.meeting_id, self.author_id
        who = "the group"
        snapshot = self.snapshot
        if snapshot is not None and member_id is not None:
            who = next((clean_line(m.display_name) for m in snapshot.members if m.member_id == member_id), "a member")
        where = f"{clean_line(snapshot.group_name)} {snapshot.local_date.isoformat()}" if snapshot is not None else ""
        kept = Kept(f"safety:{meeting_id}:{uuid.uuid4()}", f"Safety event · {who} · {where}", concern, "safety event")
        self.save(lambda session: record_event(session, meeting_id, member_id, concern, recorded_by_id=author),
                  keep=kept)
