"""What every step pane shares: the snapshot it shows, edits it posts, debounced typing.

Contract for a step pane (see docs/ARCHITECTURE.md, "The live meeting"):

* ``snapshot`` (set by the meeting screen after every saved change) holds the
  whole meeting as plain values; ``library`` is the loaded topic library.
  Re-render from them in ``watch_snapshot`` without clobbering a field the
  user is typing in.
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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from iop_facilitator.tui import timers

if TYPE_CHECKING:
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.live_read import Snapshot

DEBOUNCE_SECONDS = 0.6
MAX_WAIT_SECONDS = 1.0  # non-stop typing is still saved at least this often
LOCKED_MESSAGE = "This meeting is signed and locked; it can no longer be changed."


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
    ) -> None:
        super().__init__()
        self.op = op
        self.reload = reload
        self.done = done
        self.failed = failed
        # False for edits that cannot change what notes are drafted from (the notes themselves,
        # screen state): after the group has finished, other edits redraft app-drafted fields.
        self.facts = facts


class GotoStep(Message):
    """Ask the meeting screen to show ``step`` (and, if given, put the cursor on a member there)."""

    def __init__(self, step: str, member_id: Any = None) -> None:
        super().__init__()
        self.step = step
        self.member_id = member_id


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
        self._pending: dict[str, Callable[[Any], Any]] = {}
        # Not "_timers": Textual keeps its own timers in that attribute.
        self._debounce_timers: dict[str, Any] = {}
        self._cap_timers: dict[str, Any] = {}

    # -- posting changes -------------------------------------------------
    def edit(
        self,
        service: Callable[..., Any],
        *args: Any,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """Save ``service(session, *args, **kwargs)`` now; ``failed`` gets a one-line problem instead of a toast."""
        self._post_up(Edit(lambda session: service(session, *args, **kwargs), done=done, failed=failed,
                           facts=self.EDITS_FACTS))

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
        self._pending[key] = lambda session: service(session, *args, **kwargs)
        timer = self._debounce_timers.pop(key, None)
        if timer is not None:
            timer.stop()
        self._debounce_timers[key] = timers.set_timer(self, DEBOUNCE_SECONDS, lambda: self._send(key))
        if key not in self._cap_timers:
            self._cap_timers[key] = timers.set_timer(self, MAX_WAIT_SECONDS, lambda: self._send(key))

    def _stop_timers(self, key: str) -> None:
        for waiting in (self._debounce_timers, self._cap_timers):
            timer = waiting.pop(key, None)
            if timer is not None:
                timer.stop()

    def _send(self, key: str) -> None:
        self._stop_timers(key)
        op = self._pending.pop(key, None)
        if op is not None:
            self._post_up(Edit(op, reload=False, facts=self.EDITS_FACTS))

    def pending_edits(self) -> list[Callable[[Any], Any]]:
        """Take the debounced edits not yet sent (the screen saves them synchronously)."""
        for key in list(self._debounce_timers) + list(self._cap_timers):
            self._stop_timers(key)
        ops = list(self._pending.values())
        self._pending.clear()
        return ops

    def flush_pending(self) -> None:
        for key in list(self._pending):
            self._send(key)

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def focus_member(self, member_id: Any) -> None:
        """Put the cursor on this member's row or section (override where the step lists members)."""
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
