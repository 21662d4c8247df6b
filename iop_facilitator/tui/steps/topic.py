"""The Topic step: choose today's guide, then run it with a segment timer, prompts and notes.

* No topic yet (or ``topic.change``): a picker lists every library topic, the
  rotation suggestions for this group and day first (read through the app's
  store), each with the reason in words. Enter records the topic, its version
  and its content hash on the meeting.
* The picker lists nothing to choose until this group's suggestions are read
  (a list that reorders under the highlight would let Enter pick a topic other
  than the one on screen); when they arrive the top suggestion is highlighted
  and in view. While the suggestions are read again (each time the step opens)
  Enter waits and says so: it takes the highlighted topic once they are in,
  unless they changed the list (then the leader is asked to look again).
* A chosen topic: the facilitator guide (Markdown, trusted bundled text with
  control characters stripped) beside a segment timer that walks through the
  guide's timed segments. The timer runs on a monotonic clock (``clock`` is a
  replaceable attribute, so tests drive it) and posts
  :class:`~iop_facilitator.tui.steps.base.SegmentChanged` every second while
  it runs, which the meeting clock shows as "Didactic 07:12 left". Each
  segment keeps its own elapsed time; every start, pause and change of segment
  is saved (:mod:`~iop_facilitator.services.meeting_view`), so reopening the
  meeting, even after a crash, shows the same segment and time (a running
  timer kept running meanwhile, as the group did).
* On a narrow terminal (under 100 columns) the timer, prompts and notes take
  the width; ``g`` shows the guide in their place and Esc brings them back.
* Discussion prompts tick off with Enter/Space/x, shown as ``[x]`` text.
* Discussion notes are saved while typing (debounced); a snapshot never
  overwrites them while the field has focus or unsaved typing.

The small helpers shared with the check-out step (a confirmation dialog, a
text area that leaves the step keys alone, the draft bookkeeping) live here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from iop_facilitator import clock as clock_module
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.tui import timers
from iop_facilitator.tui.dialogs.confirm import Confirm
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.steps.base import LOCKED_MESSAGE, SegmentChanged, StepPane, TextSave

if TYPE_CHECKING:
    from iop_facilitator.library.model import LoadedTopic, Segment
    from iop_facilitator.services.live_read import Snapshot

SIGNED_MESSAGE = LOCKED_MESSAGE
SUGGESTED_COUNT = 3
NOTES_KEY = "topic-notes"
KIND_LABELS = {
    "opening": "Opening",
    "didactic": "Didactic",
    "discussion": "Discussion",
    "activity": "Activity",
    "practice": "Practice",
    "wrap-up": "Wrap-up",
}


# --------------------------------------------------------------------------- shared helpers


def mmss(seconds: float) -> str:
    seconds = int(abs(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes:02d}:{secs:02d}"


def is_signed(snapshot: Snapshot | None) -> bool:
    from iop_facilitator.enums import MeetingStatus

    return snapshot is not None and snapshot.status == MeetingStatus.signed


class FieldArea(TextArea, inherit_bindings=False):
    """A text area that lets the step keys through (TextArea binds F6 and F7 itself)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        b for b in TextArea.BINDINGS if not (isinstance(b, Binding) and set(b.key.split(",")) & {"f6", "f7"})
    ]


class Drafts:
    """Text typed into a field that the database may not hold yet, by field key.

    A field shows the snapshot's value only when it is not focused, has no
    debounced edit waiting, and holds no typing the snapshot has not caught up
    with (a snapshot read before the save committed would otherwise undo it).
    """

    def __init__(self) -> None:
        self.typed: dict[str, str] = {}

    def note(self, key: str, text: str) -> None:
        self.typed[key] = text

    def may_replace(self, key: str, server: str, *, busy: bool) -> bool:
        """True when the field for ``key`` may be set to ``server`` (the database's text)."""
        if busy:
            return False
        typed = self.typed.get(key)
        if typed is None:
            return True
        if clean(typed).strip() == clean(server).strip():
            del self.typed[key]  # the database caught up; the field already shows it
        return False


class SegmentTimer:
    """Elapsed time per segment, from a monotonic clock; pausing banks it, each segment keeps its own."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.index = 0
        self.running = False
        self._banked: dict[int, float] = {}
        self._since: float | None = None
        self.started_once = False

    def elapsed(self, index: int | None = None) -> float:
        which = self.index if index is None else index
        total = self._banked.get(which, 0.0)
        if which == self.index and self.running and self._since is not None:
            total += max(0.0, self.clock() - self._since)
        return total

    def _bank(self) -> None:
        if self.running and self._since is not None:
            now = self.clock()
            self._banked[self.index] = self._banked.get(self.index, 0.0) + max(0.0, now - self._since)
            self._since = now

    def start(self) -> None:
        if not self.running:
            self._since = self.clock()
            self.running = True
            self.started_once = True

    def pause(self) -> None:
        if self.running:
            self._bank()
            self.running = False
            self._since = None

    def toggle(self) -> None:
        self.pause() if self.running else self.start()

    def restart(self) -> None:
        self._banked[self.index] = 0.0
        self._since = self.clock() if self.running else None

    def go(self, index: int) -> None:
        """Another segment: the one left keeps its time, the new one goes on from its own."""
        self._bank()
        self.index = index

    def reset(self) -> None:
        self.pause()
        self.index = 0
        self._banked = {}
        self.started_once = False

    # -- stored form (services.meeting_view.TimerState) --------------------------------
    def state(self, topic: str) -> Any:
        """The timer as stored: banked seconds per segment and, while it runs, the wall-clock start of this run."""
        import datetime as dt

        from iop_facilitator.clock import utcnow
        from iop_facilitator.services.meeting_view import TimerState

        count = max([self.index, *self._banked]) + 1 if self._banked else self.index + 1
        elapsed = tuple(self._banked.get(i, 0.0) for i in range(count))
        since = None
        if self.running and self._since is not None:
            since = utcnow() - dt.timedelta(seconds=max(0.0, self.clock() - self._since))
        return TimerState(topic=topic, index=self.index, elapsed=elapsed, running_since=since)

    def load(self, state: Any, segments: int) -> None:
        """Take back a stored timer; a running one counts the time since it was stored (the group went on)."""
        from iop_facilitator.clock import utcnow

        self._banked = {i: float(x) for i, x in enumerate(state.elapsed) if i < segments}
        self.index = min(max(0, state.index), max(segments - 1, 0))
        self.running = state.running_since is not None
        self._since = None
        if self.running:
            gone = max(0.0, (utcnow() - state.running_since).total_seconds())
            self._since = self.clock() - gone
        self.started_once = self.running or any(x > 0 for x in self._banked.values())


# --------------------------------------------------------------------------- the pane


class TopicPane(StepPane):
    STEP = "topic"
    TITLE = "Topic"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "timer", "Start/pause", id="topic.timer", tooltip="Start or pause the segment timer"),
        Binding("ctrl+f", "next_segment", "Next segment", id="topic.next_segment", tooltip="Next segment of the guide"),
        Binding("ctrl+b", "prev_segment", "Prev segment", id="topic.prev_segment",
                tooltip="Previous segment of the guide", show=False),
        Binding("ctrl+r", "restart_segment", "Restart segment", id="topic.restart_segment",
                tooltip="Restart the current segment's timer", show=False),
        Binding("ctrl+o", "change", "Change topic", id="topic.change", tooltip="Choose another topic"),
        Binding("x,space", "tick", "Tick prompt", id="topic.tick", tooltip="Tick or untick the highlighted prompt",
                show=False),
        Binding("g", "focus_guide", "Guide", id="topic.guide", tooltip="Go to the facilitator guide", show=False),
        Binding("p", "focus_prompts", "Prompts", id="topic.prompts", tooltip="Go to the discussion prompts",
                show=False),
        Binding("n", "focus_notes", "Notes", id="topic.notes", tooltip="Go to the discussion notes", show=False),
        Binding("escape", "leave_field", "Back", id="topic.leave_field",
                tooltip="Leave the notes field or the guide, or keep the current topic while choosing", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The timer's clock: seconds from a clock that never jumps. Tests replace it.
        self.clock: Callable[[], float] = clock_module.monotonic
        self.timer = SegmentTimer(lambda: self.clock())
        self.drafts = Drafts()
        self._changing = False  # the picker is shown although a topic is chosen
        self._suggestions: list[tuple[str, str, bool]] | None = None  # (topic id, reason, recent), best first
        self._suggestions_for: tuple[Any, Any] | None = None
        self._suggestions_problem = ""
        self._shown_topic: tuple[str, str] | None = None  # (id, hash) whose guide is rendered
        self._prompts_done: set[int] = set()
        self._prompt_count = 0
        self._prompt_source: list[str] = []
        self._picker_ids: list[str] = []
        self._posted_segment = False
        self._suggestions_loading = False
        self._enter_waiting: str | None = None  # Enter pressed while the suggestions were read again: on this id
        self._restore_timer: Any = None  # a stored timer waiting for its guide to be shown
        self._narrow = False

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="topic-picker"):
            yield Static("", id="topic-picker-title")
            yield OptionList(id="topic-options", markup=False)
        with Vertical(id="topic-chosen"):
            yield Static("", id="topic-heading")
            with Horizontal(id="topic-body"):
                with VerticalScroll(id="topic-guide-scroll"):
                    yield Markdown(id="topic-guide", open_links=False)
                with Vertical(id="topic-side"):
                    yield Static("", id="segment-timer")
                    with VerticalScroll(id="segment-script-scroll", can_focus=False):
                        yield Static("", id="segment-script")
                    yield Static("Discussion prompts", classes="topic-label", id="topic-prompts-label")
                    yield OptionList(id="topic-prompts", markup=False)
                    yield Static("Discussion notes (saved as you type)", classes="topic-label", id="topic-notes-label")
                    yield FieldArea(id="topic-notes", soft_wrap=True, placeholder="What the group discussed")

    def on_mount(self) -> None:
        timers.set_interval(self, 1.0, self.tick)
        self._refresh()

    def fit(self, width: int, height: int) -> None:
        narrow = width < 100
        self.set_class(narrow, "-narrow")
        self.set_class(height < 24, "-short")
        if narrow != self._narrow:
            self._narrow = narrow
            guide = self.query_one("#topic-guide-scroll") if self.is_mounted else None
            if not narrow:
                self.remove_class("-show-guide")
            elif guide is not None and guide.has_focus and not self.has_class("-show-guide"):
                self.query_one("#topic-prompts").focus()  # the guide is off screen now: keep a focus
            if self.is_mounted and self.snapshot is not None and self.loaded_topic is not None:
                self._render_timer()

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        self._refresh()

    def watch_library(self) -> None:
        self._refresh()

    # -- state -----------------------------------------------------------------
    @property
    def loaded_topic(self) -> LoadedTopic | None:
        snapshot = self.snapshot
        if snapshot is None or snapshot.topic_id is None or self.library is None:
            return None
        return self.library.topics.get(snapshot.topic_id)

    @property
    def picking(self) -> bool:
        snapshot = self.snapshot
        return snapshot is not None and (snapshot.topic_id is None or self._changing)

    @property
    def segments(self) -> list[Segment]:
        loaded = self.loaded_topic
        return list(loaded.topic.segments) if loaded is not None else []

    def seconds_left(self) -> float | None:
        segments = self.segments
        if not segments:
            return None
        return segments[self.timer.index].minutes * 60 - self.timer.elapsed()

    # -- rendering -------------------------------------------------------------
    def _refresh(self) -> None:
        if not self.is_mounted:
            return
        snapshot = self.snapshot
        picker = self.query_one("#topic-picker")
        chosen = self.query_one("#topic-chosen")
        if snapshot is None:
            picker.display = chosen.display = False
            return
        picking = self.picking
        switched = bool(picker.display) != picking
        focused = self.app.focused
        had_focus = focused is None or self in focused.ancestors
        picker.display, chosen.display = picking, not picking
        if picking:
            self._render_picker()
            if snapshot.topic_id is None:
                self._forget_topic()
        else:
            self._render_chosen(snapshot)
        if switched and had_focus and self.display:
            self.call_after_refresh(self.focus_first)

    def _forget_topic(self) -> None:
        if self._shown_topic is not None or self.timer.started_once:
            self._shown_topic = None
            self.timer.reset()
        if self._posted_segment:
            self._posted_segment = False
            self.post_message(SegmentChanged("", None))

    # picker
    def _render_picker(self) -> None:
        title = self.query_one("#topic-picker-title", Static)
        options = self.query_one("#topic-options", OptionList)
        library = self.library
        snapshot = self.snapshot
        assert snapshot is not None
        if library is None:
            title.update(Text("Loading the topic library..."))
            return
        if not library.topics:
            title.update(Text("No topic guides were found. Add guide files to the topics folder (see iop topics list)."))
            options.clear_options()
            self._picker_ids = []
            return
        self._load_suggestions(snapshot)
        lines = "Choose today's topic: suggestions for this group first. Enter chooses the highlighted one"
        if snapshot.topic_id is not None:
            lines += f"; {key_label(self, 'topic.change', TopicPane)} goes back to the current topic"
        if self._suggestions is None and not self._suggestions_problem:
            title.update(Text(lines + ".\nReading what this group has covered..."))
            options.clear_options()  # nothing to pick until the order is final: Enter cannot pick a moving item
            self._picker_ids = []
            return
        if self._suggestions_problem:
            lines += "\n" + self._suggestions_problem
        elif self._suggestions_loading:
            lines += "\nUpdating the suggestions for who is here (Enter waits a moment)..."
        title.update(Text(lines + "."))
        if self._suggestions is not None:
            order = [row for row in self._suggestions if row[0] in library.topics]
        else:
            order = [(loaded.topic.id, "", False) for loaded in library.sorted()]
        ids = [row[0] for row in order]
        if ids == self._picker_ids and options.option_count:
            return
        rows = []
        for rank, (tid, reason, recent) in enumerate(order):
            topic = library.topics[tid].topic
            line = Text()
            line.append(clean_line(topic.title), style="bold")
            line.append(f"  ({clean_line(topic.id)} · version {clean_line(topic.version)} · {topic.duration_minutes} min)")
            if tid == snapshot.topic_id:
                line.append("  CURRENT TOPIC")
            if reason:
                label = "Suggested: " if rank < SUGGESTED_COUNT and not recent else ""
                line.append(f"\n  {label}{clean_line(reason)}")
            rows.append(Option(line, id=tid))
        options.set_options(rows)
        self._picker_ids = ids
        if ids:
            # The top suggestion (or, when changing, the current topic): what a glance at the list suggests.
            options.highlighted = ids.index(snapshot.topic_id) if snapshot.topic_id in ids and self._changing else 0
            if options.highlighted == 0:
                options.scroll_home(animate=False, immediate=True)

    def _load_suggestions(self, snapshot: Snapshot) -> None:
        key = (snapshot.group_id, snapshot.local_date)
        store = getattr(self.app, "store", None)
        library = self.library
        if self._suggestions_for == key or store is None or library is None or not self.display:
            return  # read when the step is shown (focus_first), so roll-call changes count
        self._suggestions_for = key
        self._suggestions_loading = True
        group_id, day = key

        def read(session: Any) -> list[tuple[str, str, bool]]:
            from iop_facilitator.services.topics import suggest

            return [(s.topic.topic.id, s.reason, s.covered_recently) for s in suggest(session, group_id, library, day)]

        store.read(read, self._suggestions_read, self._suggestions_failed)

    def _suggestions_read(self, rows: list[tuple[str, str, bool]]) -> None:
        changed = rows != self._suggestions
        self._suggestions = rows
        self._suggestions_problem = ""
        self._suggestions_loading = False
        if changed:
            self._picker_ids = []  # a new order: the highlight goes back to the top suggestion
        self._refresh()
        waiting, self._enter_waiting = self._enter_waiting, None
        if waiting is None:
            return
        options = self.query_one("#topic-options", OptionList)
        still_there = self.display and self.picking and options.highlighted_option is not None \
            and options.highlighted_option.id == waiting
        if changed or not still_there:  # the list changed, or the leader moved on: never pick for them
            self.notify("The suggestions changed as you pressed Enter: check the highlighted topic and press "
                        "Enter again.", markup=False, timeout=6)
        else:
            self.choose(waiting)

    def _suggestions_failed(self, problem: str) -> None:
        self._suggestions_loading = False
        self._suggestions_problem = f"Suggestions are not available ({problem}); every topic is listed."
        self._refresh()
        if self._enter_waiting is not None:
            self._enter_waiting = None
            self.notify("The suggestions could not be read: check the highlighted topic and press Enter again.",
                        markup=False, timeout=6)

    @on(OptionList.OptionSelected, "#topic-options")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self._suggestions_loading:
            # Enter waits: the topic under the highlight is taken once the suggestions are in, if they
            # did not change the list (then the leader is asked to look again).
            self._enter_waiting = event.option.id or ""
            self.notify("One moment: the suggestions are being read again; your Enter takes effect once they "
                        "are in.", markup=False, timeout=4)
            return
        self.choose(event.option.id or "")

    def choose(self, topic_id: str) -> None:
        """Record ``topic_id`` (with its version and hash) as this meeting's topic."""
        snapshot, library = self.snapshot, self.library
        if snapshot is None or library is None or topic_id not in library.topics:
            return
        if is_signed(snapshot):
            self.notify(SIGNED_MESSAGE, markup=False)
            return
        self._changing = False
        loaded = library.topics[topic_id]
        if snapshot.topic_id == topic_id and snapshot.topic_hash == loaded.content_hash:
            self._refresh()
            self.focus_first()
            return
        from iop_facilitator.services.live import choose_topic

        self.edit(choose_topic, snapshot.meeting_id, loaded)

    # chosen topic
    def _render_chosen(self, snapshot: Snapshot) -> None:
        loaded = self.loaded_topic
        heading = self.query_one("#topic-heading", Static)
        guide_scroll = self.query_one("#topic-guide-scroll")
        if loaded is None:
            text = Text()
            text.append(clean_line(snapshot.topic_id), style="bold")
            text.append(f" · version {clean_line(snapshot.topic_version or '?')}")
            if self.library is None:
                text.append("\nLoading the topic library...")
            else:
                text.append("\nThis guide is not in the topic library on this computer; notes can still be kept. "
                            f"{key_label(self, 'topic.change', TopicPane)} chooses another topic.")
            heading.update(text)
            guide_scroll.add_class("-missing")  # a class, not display=: the narrow layout decides too
            self._shown_topic = None
        else:
            guide_scroll.remove_class("-missing")
            topic = loaded.topic
            text = Text()
            text.append(clean_line(topic.title), style="bold")
            text.append(f"   version {clean_line(snapshot.topic_version or topic.version)} · id {clean_line(topic.id)}"
                        f" · {topic.duration_minutes} min")
            if snapshot.topic_version and snapshot.topic_version != topic.version:
                text.append(f"\nThis meeting recorded version {clean_line(snapshot.topic_version)}; "
                            f"the library now has version {clean_line(topic.version)}.")
            elif snapshot.topic_hash and snapshot.topic_hash != loaded.content_hash:
                text.append("\nThe guide file has changed since this meeting recorded it (same version number).")
            heading.update(text)
            key = (topic.id, loaded.content_hash)
            if key != self._shown_topic:
                if self._shown_topic is not None:
                    self.timer.reset()
                    self._save_timer(key)
                    if self._posted_segment:
                        self._posted_segment = False
                        self.post_message(SegmentChanged("", None))
                self._shown_topic = key
                stored, self._restore_timer = self._restore_timer, None
                if stored is not None and stored.topic == self._timer_key(key):
                    self.timer.load(stored, len(topic.segments))
                    if self.timer.started_once:
                        self.call_after_refresh(self._post_segment)
                self.run_worker(self._show_guide(loaded.body), group="topic-guide", exclusive=True)
                self.query_one("#topic-guide-scroll", VerticalScroll).scroll_home(animate=False)
        self._render_timer()
        self._render_prompts(snapshot, loaded)
        self._render_notes(snapshot)

    async def _show_guide(self, body: str) -> None:
        await self.query_one("#topic-guide", Markdown).update(clean(body))

    def _render_timer(self) -> None:
        timer_view = self.query_one("#segment-timer", Static)
        script = self.query_one("#segment-script", Static)
        segments = self.segments
        if not segments:
            timer_view.update(Text("No timed segments (the guide is not loaded)."))
            script.update("")
            return
        self.timer.index = min(self.timer.index, len(segments) - 1)
        segment = segments[self.timer.index]
        left = segment.minutes * 60 - self.timer.elapsed()
        kind = KIND_LABELS.get(segment.kind.value, segment.kind.value.capitalize())
        text = Text()
        text.append(f"Segment {self.timer.index + 1} of {len(segments)} · {kind} · {segment.minutes} min\n")
        text.append(clean_line(segment.title), style="bold")
        text.append("\n")
        if left >= 0:
            text.append(f"{mmss(left)} left", style="bold")
        else:
            text.append(f"{mmss(left)} OVER", style="bold reverse")
        if self.timer.running:
            state = "running"
        elif self.timer.started_once or self.timer.elapsed() > 0:
            state = "paused"
        else:
            state = "not started"
        text.append(f" · {state}")
        if self._narrow:  # the footer names the keys
            timer_view.set_class(left < 0, "-over")
            timer_view.set_class(self.timer.running, "-running")
            timer_view.update(text)
            script.update(Text(clean(segment.script)))
            return
        text.append(
            f"\n{key_label(self, 'topic.timer', TopicPane)} start/pause · "
            f"{key_label(self, 'topic.next_segment', TopicPane)} next · "
            f"{key_label(self, 'topic.prev_segment', TopicPane)} back · "
            f"{key_label(self, 'topic.restart_segment', TopicPane)} restart"
        )
        timer_view.set_class(left < 0, "-over")
        timer_view.set_class(self.timer.running, "-running")
        timer_view.update(text)
        script.update(Text(clean(segment.script)))

    def _render_prompts(self, snapshot: Snapshot, loaded: LoadedTopic | None) -> None:
        prompts_list = self.query_one("#topic-prompts", OptionList)
        prompts = list(loaded.topic.discussion_prompts) if loaded is not None else []
        self._prompts_done = set(snapshot.prompts_done)
        done_count = sum(1 for i in range(len(prompts)) if i in self._prompts_done)
        self.query_one("#topic-prompts-label", Static).update(
            Text(f"Discussion prompts: {done_count} of {len(prompts)} used (Enter ticks)")
        )
        if len(prompts) != self._prompt_count or prompts_list.option_count != len(prompts):
            highlighted = prompts_list.highlighted
            prompts_list.set_options([Option(self._prompt_text(i, p), id=f"prompt-{i}") for i, p in enumerate(prompts)])
            self._prompt_count = len(prompts)
            if prompts:
                prompts_list.highlighted = min(highlighted or 0, len(prompts) - 1)
        else:
            for index, prompt in enumerate(prompts):
                prompts_list.replace_option_prompt_at_index(index, self._prompt_text(index, prompt))
        self._prompt_source = prompts

    def _prompt_text(self, index: int, prompt: str) -> Text:
        mark = "[x]" if index in self._prompts_done else "[ ]"
        text = Text(f"{mark} ")
        text.append(clean_line(prompt), style="dim" if index in self._prompts_done else "")
        return text

    def _render_notes(self, snapshot: Snapshot) -> None:
        area = self.query_one("#topic-notes", FieldArea)
        area.read_only = is_signed(snapshot)
        server = snapshot.topic_notes or ""
        busy = area.has_focus or self.text_busy(NOTES_KEY)
        if self.drafts.may_replace(NOTES_KEY, server, busy=busy) and area.text != server:
            area.load_text(server)
        if area.text == server:
            self.loaded(NOTES_KEY, server)  # the base of the next edit (ignored while one is on its way)

    # -- typing ----------------------------------------------------------------
    @on(TextArea.Changed, "#topic-notes")
    def _notes_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        snapshot = self.snapshot
        text = event.text_area.text
        if snapshot is None or is_signed(snapshot):
            return
        if NOTES_KEY not in self.drafts.typed and not self.text_busy(NOTES_KEY) \
                and text == (snapshot.topic_notes or ""):
            return  # the field was loaded from the snapshot, not typed in
        self.drafts.note(NOTES_KEY, text)
        self.save_text(self._notes_save(text))

    def _notes_save(self, text: str) -> TextSave:
        from iop_facilitator.services.live import set_topic_notes

        assert self.snapshot is not None
        meeting_id = self.snapshot.meeting_id

        def make(body: str, based_on: str | None) -> Callable[[Any], Any]:
            return lambda session: set_topic_notes(session, meeting_id, body, based_on=based_on)

        return TextSave(NOTES_KEY, text, make, title="Topic discussion notes",
                        label=f"Topic discussion notes · {self.place()}", what="topic notes")

    # -- the step contract for text others may edit too ------------------------------
    def current_text(self, key: str) -> str | None:
        return self.query_one("#topic-notes", FieldArea).text if key == NOTES_KEY else None

    def show_text(self, key: str, text: str | None) -> None:
        if key != NOTES_KEY:
            return
        area = self.query_one("#topic-notes", FieldArea)
        value = text or ""
        self.drafts.note(NOTES_KEY, value)  # shown until a snapshot holds it
        if area.text != value:
            with area.prevent(TextArea.Changed):
                area.load_text(value)

    def field_of(self, key: str) -> Any:
        return self.query_one("#topic-notes", FieldArea) if key == NOTES_KEY else None

    # -- prompts ---------------------------------------------------------------
    @on(OptionList.OptionSelected, "#topic-prompts")
    def _prompt_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.toggle_prompt(event.option_index)

    def toggle_prompt(self, index: int) -> None:
        snapshot = self.snapshot
        if snapshot is None or not 0 <= index < self._prompt_count:
            return
        if is_signed(snapshot):
            self.notify(SIGNED_MESSAGE, markup=False)
            return
        from iop_facilitator.services.live import toggle_prompt

        self._prompts_done ^= {index}
        prompts_list = self.query_one("#topic-prompts", OptionList)
        prompts = self._prompt_source
        if index < len(prompts):
            prompts_list.replace_option_prompt_at_index(index, self._prompt_text(index, prompts[index]))
        self.edit(toggle_prompt, snapshot.meeting_id, index)

    # -- the timer ---------------------------------------------------------------
    def tick(self) -> None:
        """Called every second: refresh the timer and tell the meeting clock while it runs."""
        if self.timer.running and self.segments:
            self._render_timer()
            self._post_segment()

    def _post_segment(self) -> None:
        segments = self.segments
        if not segments:
            return
        segment = segments[self.timer.index]
        kind = KIND_LABELS.get(segment.kind.value, segment.kind.value.capitalize())
        title = kind if self.timer.running else f"{kind} (paused)"
        self._posted_segment = True
        self.post_message(SegmentChanged(title, self.seconds_left()))

    def _timer_changed(self) -> None:
        self._render_timer()
        self._post_segment()
        self._save_timer(self._shown_topic)

    @staticmethod
    def _timer_key(shown: tuple[str, str] | None) -> str:
        return f"{shown[0]}:{shown[1]}" if shown is not None else ""

    def _save_timer(self, shown: tuple[str, str] | None) -> None:
        """Every start, pause, restart and change of segment is saved at once (it survives a crash)."""
        from iop_facilitator.tui.steps.base import Edit

        snapshot = self.snapshot
        if snapshot is None or shown is None:
            return
        state = self.timer.state(self._timer_key(shown))
        meeting_id = snapshot.meeting_id

        def save(session: Any) -> None:
            from iop_facilitator.services.meeting_view import save_view

            save_view(session, meeting_id, timer=state)

        self._post_up(Edit(save, reload=False, facts=False))

    def restore_timer(self, state: Any) -> None:
        """The stored timer of a reopened meeting: taken back when its guide is shown."""
        if state is None or not state.topic:
            return
        if self._shown_topic is not None and state.topic == self._timer_key(self._shown_topic):
            segments = len(self.segments)
            self.timer.load(state, segments)
            self._render_timer()
            if self.timer.started_once:
                self._post_segment()
        else:
            self._restore_timer = state

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        if action in ("timer", "next_segment", "prev_segment", "restart_segment"):
            return bool(self.segments)
        if action == "tick":
            return self.query_one("#topic-prompts", OptionList).has_focus
        if action in ("focus_guide", "focus_prompts", "focus_notes"):
            return not self.picking and self.snapshot is not None
        if action == "leave_field":
            return (self.query_one("#topic-notes", FieldArea).has_focus or (self._changing and self.picking)
                    or (self.has_class("-show-guide") and self.query_one("#topic-guide-scroll").has_focus))
        if action == "change":
            return self.snapshot is not None and self.snapshot.topic_id is not None
        return True

    def action_timer(self) -> None:
        self.timer.toggle()
        self._timer_changed()

    def action_next_segment(self) -> None:
        segments = self.segments
        if self.timer.index + 1 < len(segments):
            self.timer.go(self.timer.index + 1)
            self._timer_changed()
        else:
            self.notify("This is the last segment.", markup=False, timeout=3)

    def action_prev_segment(self) -> None:
        if self.timer.index > 0:
            self.timer.go(self.timer.index - 1)
            self._timer_changed()
        else:
            self.notify("This is the first segment.", markup=False, timeout=3)

    def action_restart_segment(self) -> None:
        self.timer.restart()
        self._timer_changed()

    # -- other keys ----------------------------------------------------------------
    def action_tick(self) -> None:
        prompts_list = self.query_one("#topic-prompts", OptionList)
        if prompts_list.highlighted is not None:
            self.toggle_prompt(prompts_list.highlighted)

    def action_focus_guide(self) -> None:
        if self._narrow:
            self.add_class("-show-guide")
        self.query_one("#topic-guide-scroll").focus()

    def action_focus_prompts(self) -> None:
        self.query_one("#topic-prompts").focus()

    def action_focus_notes(self) -> None:
        self.focus_now(self.query_one("#topic-notes"))

    def action_leave_field(self) -> None:
        if self._changing:
            self.action_change()  # back to the current topic
            return
        self.remove_class("-show-guide")
        self.flush_pending()
        self.query_one("#topic-prompts").focus()

    def action_change(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or snapshot.topic_id is None:
            return
        if self._changing:  # back to the current topic
            self._changing = False
            self._refresh()
            self.focus_first()
            return
        if is_signed(snapshot):
            self.notify(SIGNED_MESSAGE, markup=False)
            return
        if snapshot.prompts_done or self._prompts_done:
            count = len(self._prompts_done or snapshot.prompts_done)
            self.app.push_screen(
                Confirm(
                    "Change today's topic?",
                    f"{count} discussion prompt{'s' if count != 1 else ''} ticked for this topic will be cleared "
                    "when you choose another one. The discussion notes are kept.",
                    "Choose another topic",
                ),
                callback=self._change_confirmed,
            )
            return
        self._change_confirmed(True)

    def _change_confirmed(self, yes: bool | None) -> None:
        if not yes:
            return
        self.flush_pending()
        self._changing = True
        self._suggestions_for = None
        self._refresh()
        self.query_one("#topic-options").focus()

    # -- the step contract -----------------------------------------------------------
    def focus_first(self) -> None:
        if self.snapshot is None:
            return
        if self.picking:
            self._suggestions_for = None  # read the rotation again: who is here may have changed
            self._refresh()
            self.query_one("#topic-options").focus()
        elif self.loaded_topic is not None and not self._narrow:
            self.query_one("#topic-guide-scroll").focus()
        elif self.loaded_topic is not None:
            self.query_one("#topic-prompts").focus()
        else:
            self.query_one("#topic-notes").focus()
