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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from iop_facilitator.library.load import Library
    from iop_facilitator.services.live import Snapshot

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
    ) -> None:
        super().__init__()
        self.op = op
        self.reload = reload
        self.done = done
        self.failed = failed


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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
        self._post_up(Edit(lambda session: service(session, *args, **kwargs), done=done, failed=failed))

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
        self._debounce_timers[key] = self.set_timer(DEBOUNCE_SECONDS, lambda: self._send(key))
        if key not in self._cap_timers:
            self._cap_timers[key] = self.set_timer(MAX_WAIT_SECONDS, lambda: self._send(key))

    def _stop_timers(self, key: str) -> None:
        for timers in (self._debounce_timers, self._cap_timers):
            timer = timers.pop(key, None)
            if timer is not None:
                timer.stop()

    def _send(self, key: str) -> None:
        self._stop_timers(key)
        op = self._pending.pop(key, None)
        if op is not None:
            self._post_up(Edit(op, reload=False))

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

    def focus_first(self) -> None:
        """Put the cursor where work starts on this step (override for a better target)."""
        focusable = [w for w in self.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()
