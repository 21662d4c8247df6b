"""What every step pane shares: the snapshot it shows, edits it posts, debounced typing.

Contract for a step pane (see docs/ARCHITECTURE.md, "The live meeting"):

* ``snapshot`` (set by the meeting screen on the step on screen after a full
  reload, and on a hidden step when it is shown) holds the whole meeting as plain
  values; ``library`` is the loaded topic library. Re-render from them in
  ``watch_snapshot`` without clobbering a field the user is typing in. A change
  that touched only some members arrives through :meth:`StepPane.show_lines`.
* To change anything, call :meth:`StepPane.edit` with a service function and
  its arguments; the screen runs it in the background writer, commits, and
  sends back a fresh snapshot. Text fields call :meth:`StepPane.edit_later`
  (debounced, at most :data:`DEBOUNCE_SECONDS`), and :meth:`flush_pending`
  turns pending typing into edits at once (the screen calls it before a step
  change, on quit and when the terminal closes).
* Bindings have ids ``<step>.<action>``; user text is shown with markup off.
* Where the meeting stands is the screen's to save and restore: a pane names the
  member under its cursor (:meth:`StepPane.current_member_id`, also used by the
  crisis key), gives a ``cursor_key`` to store and takes it back with
  :meth:`StepPane.restore_cursor`; :meth:`StepPane.restore_focus` puts the focus back
  on a widget by id. ``author_id`` is the staff member at the keyboard (the laptop's
  facilitator), passed to services that record who did it.
* Esc inside a pane's fields goes back to the pane's list; only Esc on the list
  reaches the screen, which asks before leaving the meeting.
* Text that others may edit too (notes, takeaways, homework...) is saved with
  :meth:`StepPane.save_text`, which passes the text the edit started from as
  ``based_on``: the text last loaded into the field (:meth:`StepPane.loaded`) or last
  submitted. A stale edit opens the conflict dialog (both texts; keep theirs, keep mine
  or merge); a save held back by a full disk (or any passing fault) marks the field
  "not saved yet" until it is committed; a save that failed for good keeps the text in
  the field, marked, and in the store's list for the rescue file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from iop_facilitator.tui import timers

if TYPE_CHECKING:
    from iop_facilitator.errors import EditConflict
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.live_read import Snapshot
    from iop_facilitator.tui.store import Kept

DEBOUNCE_SECONDS = 0.6
MAX_WAIT_SECONDS = 1.0  # non-stop typing is still saved at least this often
LOCKED_MESSAGE = "This meeting is signed and locked; it can no longer be changed."
NOT_SAVED_YET = "not saved yet"


class Edit(Message):
    """A change for the meeting screen to save: ``op(session)`` runs in the writer thread."""

    def __init__(
        self,
        op: Callable[[Any], Any],
        *,
        reload: bool = True,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
        facts: bool = True,
        conflict: Callable[[EditConflict], None] | None = None,
        held: Callable[[str], None] | None = None,
        keep: Kept | None = None,
        members: tuple[Any, ...] = (),
    ) -> None:
        super().__init__()
        self.op = op
        self.reload = reload
        self.done = done
        self.failed = failed
        # False for edits that cannot change what notes are drafted from (the notes themselves,
        # screen state): after the group has finished, other edits redraft app-drafted fields.
        self.facts = facts
        #: A stale edit (the store gives the EditConflict here); a passing fault holding it back
        #: (one line, told once); the typed text it carries (for messages and the rescue file).
        self.conflict = conflict
        self.held = held
        self.keep = keep
        #: The members whose attendance rows alone the change touches (a roll-call or check-in
        #: key, a feeling word, a check-out rating or takeaway): the screen then reads back only
        #: those rows, in the change's own transaction, instead of the whole meeting (and with
        #: ``reload`` False, typing, keeps its snapshot right without redrawing). Empty: the
        #: change may touch anything, and a reload reads the whole meeting.
        self.members = members


@dataclass
class TextSave:
    """One save of a text field others may edit too (see :meth:`StepPane.save_text`).

    ``make(text, based_on)`` returns the operation (a function of a Session) saving ``text``
    as an edit of ``based_on``; ``title`` names the field on the conflict dialog ("Response
    · Avery T."), ``label`` where it belongs for the rescue file, ``what`` the short noun of
    messages ("note").
    """

    key: str
    text: str
    make: Callable[[str, str | None], Callable[[Any], Any]]
    title: str
    label: str = ""
    what: str = "note"
    done: Callable[[Any], None] | None = None
    single_line: bool = False  # a one-line field (a merge joins with spaces)
    limit: int = 0  # the field's length limit (0: none), checked before a merged text is saved
    base: str | None = None  # set when submitted
    members: tuple[Any, ...] = ()  # the text is part of these members' attendance rows (see Edit.members)


class GotoStep(Message):
    """Ask the meeting screen to show ``step`` (and, if given, put the cursor on a member there).

    ``where`` names the part of the member's record to fix (a payer-lens flag's field: a
    note section, "observation", "goals", "risk_screen"); "" for the step's usual place.
    """

    def __init__(self, step: str, member_id: Any = None, where: str = "") -> None:
        super().__init__()
        self.step = step
        self.member_id = member_id
        self.where = where


class SegmentChanged(Message):
    """The topic timer moved: the clock shows ``title`` and ``seconds_left`` (None: no timer running)."""

    def __init__(self, title: str, seconds_left: float | None) -> None:
        super().__init__()
        self.title = title
        self.seconds_left = seconds_left


class StepPane(Widget):
    """Base class of the six step widgets."""

    STEP: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""

    snapshot: reactive[Snapshot | None] = reactive(None, init=False, always_update=True)
    library: reactive[Library | None] = reactive(None, init=False)

    #: Edits made here do not change the facts notes are drafted from (see :class:`Edit`).
    EDITS_FACTS: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The staff member at the keyboard (set by the meeting screen), recorded as the author.
        self.author_id: Any = None
        #: Debounced edits not sent yet, by key: each makes its Edit message when sent.
        self._pending: dict[str, Callable[[], Edit]] = {}
        # Not "_timers": Textual keeps its own timers in that attribute.
        self._debounce_timers: dict[str, Any] = {}
        self._cap_timers: dict[str, Any] = {}
        # Text fields others may edit too (save_text): the text each edit is based on, saves
        # sent and not answered yet, saves held back by a passing fault, saves that failed for
        # good (key -> problem), open conflicts (key -> the dialog) and the last save's recipe.
        self._bases: dict[str, str] = {}
        self._inflight: dict[str, int] = {}
        self._held_keys: set[str] = set()
        self._failed_keys: dict[str, str] = {}
        self._conflicts: dict[str, Any] = {}
        self._recipes: dict[str, TextSave] = {}
        self._saved_since_snapshot: set[str] = set()  # the snapshot on hand was read before these saves
        self._conflicts_open: set[str] = set()  # conflicts whose dialog is on screen (others wait for a pause)
        self._typed_at: dict[str, float] = {}  # when each field last changed (a conflict waits for a pause)

    # -- posting changes -------------------------------------------------
    def edit(
        self,
        service: Callable[..., Any],
        *args: Any,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
        members: tuple[Any, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Save ``service(session, *args, **kwargs)`` now; ``failed`` gets a one-line problem instead of a toast.

        ``members``: the change touches only these members' own parts (see :attr:`Edit.members`).
        """
        self._post_up(Edit(lambda session: service(session, *args, **kwargs), done=done, failed=failed,
                           facts=self.EDITS_FACTS, members=members))

    def _post_up(self, message: Edit) -> None:
        """Post straight to the screen: a status key should not wait for every container between."""
        try:
            self.screen.post_message(message)
        except Exception:  # noqa: BLE001 - not on a screen yet (unit tests of a bare pane)
            self.post_message(message)

    def edit_later(self, key: str, service: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Save typing after a short pause (and at least every second while typing goes on).

        A newer edit with the same ``key`` replaces the pending one.
        """
        facts = self.EDITS_FACTS
        self._later(key, lambda: Edit(lambda session: service(session, *args, **kwargs), reload=False, facts=facts))

    def _later(self, key: str, make: Callable[[], Edit]) -> None:
        self._pending[key] = make
        timer = self._debounce_timers.pop(key, None)
        if timer is not None:
            timer.stop()
        self._debounce_timers[key] = timers.set_timer(self, DEBOUNCE_SECONDS, lambda: self.send_pending(key))
        if key not in self._cap_timers:
            self._cap_timers[key] = timers.set_timer(self, MAX_WAIT_SECONDS, lambda: self.send_pending(key))

    def cancel_pending(self, key: str) -> None:
        """Drop the debounced edit of ``key`` (a final save, or a decision, replaces it)."""
        self._stop_timers(key)
        self._pending.pop(key, None)

    def _stop_timers(self, key: str) -> None:
        for waiting in (self._debounce_timers, self._cap_timers):
            timer = waiting.pop(key, None)
            if timer is not None:
                timer.stop()

    def send_pending(self, key: str) -> None:
        """Send the debounced edit of ``key`` now (if there is one)."""
        self._stop_timers(key)
        make = self._pending.pop(key, None)
        if make is not None:
            self._post_up(make())

    def pending_edits(self) -> list[Edit]:
        """Take the debounced edits not yet sent (the screen saves them synchronously)."""
        for key in list(self._debounce_timers) + list(self._cap_timers):
            self._stop_timers(key)
        makers = list(self._pending.values())
        self._pending.clear()
        return [make() for make in makers]

    def flush_pending(self) -> None:
        for key in list(self._pending):
            self.send_pending(key)

    # -- text others may edit too: based_on, conflicts, saves that wait or fail ----------
    def save_text(self, save: TextSave, *, later: bool = True) -> None:
        """Save a text field as an edit of the text it was based on (debounced when ``later``).

        The base is taken when the save is sent: the text last loaded (:meth:`loaded`) or last
        sent for the field; then the sent text becomes the base of the next save (the store
        runs saves in order).
        """
        from iop_facilitator.clock import monotonic

        self._typed_at[save.key] = monotonic()
        dialog = self._conflicts.get(save.key)
        if dialog is not None:
            # The field met a change made elsewhere: nothing more is sent until the leader chooses;
            # the text typed on is what "mine" is (and what a rescue file would get).
            self._recipes[save.key] = save
            self._hold_mine(save, save.text)
            if save.key not in self._conflicts_open:
                dialog.mine = save.text
                if not later:
                    self._open_conflict(save)  # Enter (or a final save): a pause by definition
            return
        if later:
            self._later(save.key, lambda: self._text_edit(save))
        else:
            self.cancel_pending(save.key)
            self._post_up(self._text_edit(save, reload=True))

    def _hold_mine(self, save: TextSave, text: str) -> None:
        """Offer ``text`` (mine, in an undecided conflict) for the rescue file."""
        from iop_facilitator.tui.store import Kept

        store = getattr(self.app, "store", None)
        if store is not None:
            store.hold_text(Kept(self.keep_key(save.key), save.label or save.title, text, save.what))

    def _text_edit(self, save: TextSave, *, reload: bool = False) -> Edit:
        from iop_facilitator.tui.store import Kept

        key = save.key
        save.base = self._bases.get(key)
        self._bases[key] = save.text
        self._inflight[key] = self._inflight.get(key, 0) + 1
        self._recipes[key] = save
        return Edit(
            save.make(save.text, save.base),
            reload=reload,
            facts=self.EDITS_FACTS,
            done=lambda result: self._text_saved(save, result),
            failed=lambda problem: self._text_failed(save, problem),
            conflict=lambda exc: self._text_conflict(save, exc),
            held=lambda words: self._text_held(save, words),
            keep=Kept(self.keep_key(key), save.label or save.title, save.text, save.what),
            members=save.members,
        )

    def place(self) -> str:
        """The meeting in words, for the labels of unsaved text ("Evening IOP 2026-05-04")."""
        from iop_facilitator.services.text import clean_line

        snapshot = self.snapshot
        if snapshot is None:
            return ""
        return f"{clean_line(snapshot.group_name)} {snapshot.local_date.isoformat()}"

    def keep_key(self, key: str) -> str:
        """The key of a field for the store's list of unsaved text (unique across meetings)."""
        meeting = self.snapshot.meeting_id if self.snapshot is not None else ""
        return f"{meeting}:{self.STEP}:{key}"

    def show_lines(self, snapshot: Snapshot, member_ids: tuple[Any, ...]) -> None:
        """A change to these members only (``snapshot`` holds their new lines): redraw what shows them.

        The meeting screen calls it on the step on screen after a delta (see
        ``MeetingScreen.save``). By default the pane redraws from the whole snapshot; a pane
        with a row per member overrides it to redraw only those rows and its counters.
        """
        self.snapshot = snapshot

    def hold_snapshot(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` without redrawing (typing was saved: its field shows it already)."""
        self.set_reactive(StepPane.snapshot, snapshot)

    def _watch_snapshot(self, snapshot: Snapshot | None) -> None:
        # A new snapshot is read after every save answered so far (the store is first in, first out).
        self._saved_since_snapshot.clear()

    def loaded(self, key: str, stored: str | None) -> None:
        """The field ``key`` now shows ``stored``, the database's text: the base of the next edit.

        Ignored while the field has its own text on the way (typed, sent, held, failed or
        in an open conflict), and when a save of it was answered after the snapshot on hand
        was read: the base is then the text last sent.
        """
        if not self.text_busy(key) and key not in self._saved_since_snapshot:
            self._bases[key] = stored or ""

    def text_busy(self, key: str) -> bool:
        """True while the field's text is not the database's: typed and not yet saved, or in a conflict."""
        return (key in self._pending or self._inflight.get(key, 0) > 0 or key in self._conflicts
                or key in self._failed_keys)

    def unsaved_keys(self) -> set[str]:
        """Fields whose text is held back or failed (marked "not saved" on screen)."""
        return self._held_keys | set(self._failed_keys)

    def _answered(self, save: TextSave) -> None:
        key = save.key
        left = self._inflight.get(key, 0) - 1
        if left > 0:
            self._inflight[key] = left
        else:
            self._inflight.pop(key, None)
            self._held_keys.discard(key)

    def _text_saved(self, save: TextSave, result: Any) -> None:
        self._answered(save)
        self._saved_since_snapshot.add(save.key)
        self._failed_keys.pop(save.key, None)
        self.refresh_marks()
        if save.done is not None:
            save.done(result)

    def _text_held(self, save: TextSave, words: str) -> None:
        self._held_keys.add(save.key)
        self.refresh_marks()

    def _text_failed(self, save: TextSave, problem: str) -> None:
        """Failed for good (the file gone, a read-only database, a refusal): the text stays, marked."""
        self._answered(save)
        if self._bases.get(save.key) == save.text and save.base is not None:
            self._bases[save.key] = save.base  # not saved: the next edit is still based on the old text
        self._failed_keys[save.key] = problem
        self.text_not_saved(save, problem)
        self.refresh_marks()

    def text_not_saved(self, save: TextSave, problem: str) -> None:
        """A save of ``save.text`` failed for good: keep the text on screen (override where it may be gone)."""
        self.notify(f"{problem}. Your {save.what} is kept on screen (not saved).", title="Not saved",
                    severity="error", timeout=10, markup=False)

    def _text_conflict(self, save: TextSave, conflict: EditConflict) -> None:
        """A save met a change made elsewhere: the conflict dialog, once the leader pauses typing.

        The dialog never opens under typing fingers (a typed ``m`` would choose, and keys typed
        while a screen opens can be lost): while the field was typed in during the last
        :data:`~iop_facilitator.tui.dialogs.conflict.QUIET_SECONDS`, the field is marked
        "changed elsewhere", saves of it stop, and the dialog opens at the first pause with
        the field's text as mine.
        """
        from iop_facilitator.tui.dialogs.conflict import ConflictDialog

        self._answered(save)
        key = save.key
        mine = self.current_text(key)
        if mine is None:
            mine = save.text
        dialog = self._conflicts.get(key)
        if dialog is not None:  # a later save of the same field met the same change: newest text wins
            dialog.update(mine=mine, theirs=conflict.theirs)
            self._hold_mine(save, dialog.mine)
            return
        self.cancel_pending(key)
        dialog = ConflictDialog(save.title, theirs=conflict.theirs, mine=mine, deleted_choice=self.deleted_choice(key),
                                single_line=save.single_line, limit=save.limit,
                                view=lambda theirs, mine_now: self.conflict_view(key, theirs, mine_now),
                                on_typed=lambda text: self._hold_mine(save, text))
        self._conflicts[key] = dialog
        self._hold_mine(save, mine)
        self.refresh_marks()
        self._open_conflict(save)

    def _open_conflict(self, save: TextSave) -> None:
        """Open the field's conflict dialog now, or at the end of the typing going on."""
        from iop_facilitator.clock import monotonic
        from iop_facilitator.tui.dialogs.conflict import QUIET_SECONDS

        key = save.key
        dialog = self._conflicts.get(key)
        if dialog is None or key in self._conflicts_open:
            return
        quiet = monotonic() - self._typed_at.get(key, 0.0)
        if quiet < QUIET_SECONDS and self.app.focused is not None and self.app.focused is self._field(key):
            timers.set_timer(self, QUIET_SECONDS - quiet + 0.05, lambda: self._open_conflict(save))
            return
        current = self.current_text(key)
        if current is not None:
            dialog.mine = current
        dialog.typed_at = self._typed_at.get(key, 0.0)
        self._conflicts_open.add(key)
        self.app.push_screen(dialog, callback=lambda choice: self._resolved(self._recipes.get(key, save), dialog,
                                                                            choice))

    def _resolved(self, save: TextSave, dialog: Any, choice: Any) -> None:
        """The leader chose: keep theirs (nothing saved), or save the kept text as an edit of theirs."""
        key = save.key
        self._conflicts.pop(key, None)
        self._conflicts_open.discard(key)
        store = getattr(self.app, "store", None)
        if store is not None:
            store.release_text(self.keep_key(key))
        theirs = dialog.theirs
        if choice is None or choice.keep_theirs:
            self._failed_keys.pop(key, None)
            self._bases[key] = theirs or ""
            self.show_text(key, theirs)
            self.refresh_marks()
            return
        self._failed_keys.pop(key, None)
        self._bases[key] = theirs if theirs is not None else ""
        self.show_text(key, choice.text)
        recipe = self._recipes.get(key, save)
        self.resave(TextSave(key, choice.text, recipe.make, recipe.title, recipe.label, recipe.what, recipe.done,
                             recipe.single_line, recipe.limit), deleted=theirs is None)

    def resave(self, save: TextSave, *, deleted: bool) -> None:
        """Save the text the leader kept after a conflict (``deleted``: the record is gone; override to recreate)."""
        self.save_text(save, later=False)

    def deleted_choice(self, key: str) -> str:
        """What keeping my text means when the record was deleted meanwhile (the dialog's words)."""
        return "Keep mine: save it again"

    def conflict_view(self, key: str, theirs: str | None, mine: str) -> tuple[str | None, str, str | None]:
        """How the conflict dialog shows field ``key``: (theirs, mine, merged). ``merged`` None: merge by editing."""
        return theirs, mine, None

    def current_text(self, key: str) -> str | None:
        """The text field ``key`` holds now (None: not shown here; the conflict shows the text sent)."""
        return None

    def show_text(self, key: str, text: str | None) -> None:
        """Put ``text`` (None: the record is gone) in field ``key`` after a conflict was resolved (override)."""

    def field_of(self, key: str) -> Widget | None:
        """The widget showing field ``key`` now, for the "not saved yet" mark (None: not on screen)."""
        return None

    def _field(self, key: str) -> Widget | None:
        """:meth:`field_of`, or None while the field is being rebuilt (another member chosen)."""
        from textual.css.query import NoMatches

        try:
            return self.field_of(key)
        except NoMatches:
            return None

    def refresh_marks(self) -> None:
        """Mark the fields whose text is not in the database ("not saved yet" on the border)."""
        if not self.is_mounted:
            return
        marked: dict[Widget, str] = {}
        for keys, title in ((self._held_keys, f"⚠ {NOT_SAVED_YET}"), (self._failed_keys, "⚠ not saved"),
                            (self._conflicts, "⚠ not saved: changed elsewhere")):
            for key in keys:
                widget = self._field(key)
                if widget is not None:
                    marked[widget] = title
        for widget in list(self.query(".-unsaved")):
            if widget not in marked:
                widget.remove_class("-unsaved")
                widget.border_title = None
        for widget, title in marked.items():
            widget.add_class("-unsaved")
            widget.border_title = title

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def focus_member(self, member_id: Any, where: str = "") -> None:
        """Put the cursor on this member's row or section (override where the step lists members).

        ``where``: the part to fix (see :class:`GotoStep`); panes without parts ignore it.
        """
        self.focus_first()

    # -- where the pane stands (saved by the screen, restored on reopening) ------------
    def current_member_id(self) -> Any:
        """The member under this pane's cursor (None where the step has no member list)."""
        return None

    def cursor_key(self) -> str | None:
        """What is under the cursor, as text to store (a member id by default)."""
        member_id = self.current_member_id()
        return str(member_id) if member_id is not None else None

    def restore_cursor(self, key: str) -> None:
        """Put the cursor back on what :meth:`cursor_key` named (a member id by default)."""
        import uuid

        try:
            member_id = uuid.UUID(key)
        except (TypeError, ValueError):
            return
        self.place_cursor(member_id)

    def place_cursor(self, member_id: Any) -> None:
        """Move the cursor to a member without moving the focus (override where there is a list)."""

    def focused_id(self) -> str:
        """The id of the focused widget when it is inside this pane, else ""."""
        focused = self.app.focused
        if focused is None or focused.id is None or (focused is not self and self not in focused.ancestors):
            return ""
        return focused.id

    def restore_focus(self, widget_id: str) -> None:
        """Focus the widget ``widget_id`` if it is in this pane and can take the focus now, else :meth:`focus_first`."""
        if widget_id:
            found = [w for w in self.query(f"#{widget_id}") if w.focusable]
            if found and self._displayed(found[0]):
                found[0].focus()
                return
        self.focus_first()

    def _displayed(self, widget: Any) -> bool:
        node = widget
        while node is not None and node is not self:
            if not node.display:
                return False
            node = node.parent
        return True

    def focus_now(self, widget: Any) -> None:
        """Focus ``widget`` before the next key is handed out (``Widget.focus`` waits a turn of the queue).

        Used where a key opens a field that the very next keys are typed into.
        """
        try:
            self.screen.set_focus(widget)
        except Exception:  # noqa: BLE001 - not on a screen: fall back to the usual way
            widget.focus()

    def fit(self, width: int, height: int) -> None:
        """The terminal is ``width`` x ``height``: lay out for it (the screen calls this on mount and resize).

        Every pane is told, shown or not, so a step opens already fitted: a widget focused
        before a later relayout hid it would lose the focus.
        """

    def focus_first(self) -> None:
        """Put the cursor where work starts on this step (override for a better target)."""
        focusable = [w for w in self.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()
