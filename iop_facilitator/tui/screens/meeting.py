"""The live meeting: six steps from roll call to signature, with the clock always in view.

The screen owns the meeting's :class:`~iop_facilitator.services.live.Snapshot`
and hands it down to the step panes; panes post
:class:`~iop_facilitator.tui.steps.base.Edit` messages, which the screen runs
through the app's background :class:`~iop_facilitator.tui.store.Store` (one
commit per change) before sending a fresh snapshot down again.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static

from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader
from iop_facilitator.enums import FlowStep, MeetingStatus
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.steps.base import Edit, GotoStep, SegmentChanged, StepPane
from iop_facilitator.tui.steps.checkin import CheckinPane
from iop_facilitator.tui.steps.checkout import CheckoutPane
from iop_facilitator.tui.steps.notes import NotesPane
from iop_facilitator.tui.steps.review import ReviewPane
from iop_facilitator.tui.steps.stories import StoriesPane
from iop_facilitator.tui.steps.topic import TopicPane
from iop_facilitator.tui.widgets.clock import MeetingClock

if TYPE_CHECKING:
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.live import Snapshot
    from iop_facilitator.tui.store import Store

PANES: tuple[type[StepPane], ...] = (CheckinPane, StoriesPane, TopicPane, CheckoutPane, NotesPane, ReviewPane)
STEP_KEYS = ("f2", "f3", "f4", "f5", "f6", "f7")
ORDER = [FlowStep(p.STEP) for p in PANES]


class MeetingScreen(Screen[None]):
    """One group meeting, live. Construct with the meeting's id; the app supplies the store."""

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
        Binding("escape", "leave", "Home", id="meeting.home", tooltip="Back to the home screen (the meeting stays open)"),
    ]

    CSS_PATH: ClassVar[list[str]] = [
        str(Path(__file__).parent.parent / "steps" / f"{step}.tcss")
        for step in ("checkin", "stories", "topic", "checkout", "notes", "review")
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, init=False, always_update=True)
    step: reactive[str] = reactive(FlowStep.checkin.value, init=False)

    class Left(Message):
        """The facilitator went back to the home screen."""

    def __init__(self, meeting_id: uuid.UUID, store: Store, library: Library | None = None) -> None:
        super().__init__(id="meeting")
        self.meeting_id = meeting_id
        self.store = store
        self.library = library
        self._step_restored = False

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
        self._render_tabs()
        self.reload()
        if self.library is not None:
            self._give_library(self.library)

    # -- data -----------------------------------------------------------------
    def reload(self) -> None:
        from iop_facilitator.services.live import load_snapshot

        meeting_id = self.meeting_id
        self.store.read(lambda session: load_snapshot(session, meeting_id), self._set_snapshot)

    def _set_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.is_mounted:
            return
        if not self._step_restored:
            self._step_restored = True
            if snapshot.flow_step in {p.STEP for p in PANES}:
                self.set_reactive(MeetingScreen.step, snapshot.flow_step)
                self._show_step(snapshot.flow_step)
        for pane in self.query(StepPane):
            pane.snapshot = snapshot
        date = snapshot.local_date.isoformat()
        signed = "  ·  SIGNED (locked)" if snapshot.status == MeetingStatus.signed else ""
        self.query_one("#meeting-title", Static).update(Text(f"{clean_line(snapshot.group_name)}  ·  {date}{signed}"))
        clock = self.query_one(MeetingClock)
        clock.started = snapshot.actual_start
        clock.ended = snapshot.actual_end
        clock.scheduled_minutes = int((snapshot.scheduled_end - snapshot.scheduled_start).total_seconds() // 60)

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
        self.save(message.op, reload=message.reload, done=message.done, failed=message.failed)

    def save(self, op: Any, *, reload: bool = True, done: Any = None, failed: Any = None) -> None:
        """Commit ``op(session)`` in the background, then refresh the snapshot."""
        from iop_facilitator.services.live import load_snapshot

        meeting_id = self.meeting_id

        def run(session: Any) -> Any:
            return op(session)

        def finished(result: Any) -> None:
            if done is not None:
                done(result)

        def problem(text: str) -> None:
            if failed is not None:
                failed(text)
                self.reload()
            else:
                self._failed(text)

        self.store.submit(run, done=finished, failed=problem)
        if reload:
            self.store.read(lambda session: load_snapshot(session, meeting_id), self._set_snapshot)

    @on(GotoStep)
    def _goto(self, message: GotoStep) -> None:
        message.stop()
        self.action_goto(message.step)
        if message.member_id is not None:
            self.query_one(f"#{message.step}", StepPane).focus_member(message.member_id)

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
        parts = []
        for key, pane in zip(STEP_KEYS, PANES):
            label = f"{key.upper()} {pane.TITLE}"
            parts.append(f"[ {label} ]" if pane.STEP == self.step else f"  {label}  ")
        self.query_one("#step-tabs", Static).update(Text("".join(parts)), layout=False)  # one fixed line

    def _show_step(self, step: str) -> None:
        self.query_one("#steps", ContentSwitcher).current = step
        self._render_tabs()
        pane = self.query_one(f"#{step}", StepPane)
        pane.focus_first()

    def watch_step(self, step: str) -> None:
        if self.is_mounted:
            self._show_step(step)

    def action_goto(self, step: str) -> None:
        if step == self.step:
            return
        self.flush_drafts()
        self.step = step
        self.reload()  # after the flushed drafts: the new step shows what was just typed
        snapshot = self.snapshot
        if snapshot is not None and snapshot.status != MeetingStatus.signed:
            from iop_facilitator.services.live import set_step

            meeting_id = self.meeting_id
            self.save(lambda session: set_step(session, meeting_id, FlowStep(step)), reload=False)

    def action_next_step(self) -> None:
        index = [p.STEP for p in PANES].index(self.step)
        if index + 1 < len(PANES):
            self.action_goto(PANES[index + 1].STEP)

    def action_leave(self) -> None:
        self.flush_drafts()
        self.dismiss(None)

    # -- nothing lost -------------------------------------------------------------
    def flush_drafts(self) -> None:
        """Send every pane's debounced typing now (before a step change or leaving)."""
        for pane in self.query(StepPane):
            pane.flush_pending()

    def save_drafts_now(self, timeout: float = 3.0) -> bool:
        """Queue every pending draft and wait until it is committed (terminal closing, quitting)."""
        for pane in self.query(StepPane):
            for op in pane.pending_edits():
                self.store.submit(op)
        return self.store.flush(timeout)

    # -- crisis -------------------------------------------------------------------
    def record_safety_event(self, member_id: uuid.UUID | None, concern: str) -> None:
        from iop_facilitator.services.safety import record_event

        meeting_id = self.meeting_id
        self.save(lambda session: record_event(session, meeting_id, member_id, concern))
