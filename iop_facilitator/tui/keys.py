"""How to name a binding's key on screen, after the user's keymap."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from textual.binding import Binding


def key_label(node: Any, binding_id: str, owner: type | None = None, default: str = "?", *, every: bool = False) -> str:
    """How to write the key of ``binding_id`` on screen, after the user's keymap, as the footer writes keys.

    An active binding of ``node``'s screen (Textual has already applied the keymap to it)
    is shown as it is; otherwise the binding of class ``owner`` (a pane not focused yet,
    the app) with the key the user's keymap gives it (``IopApp.keymap``). Written with
    ``App.get_key_display``, like the footer and the key panel. A binding with several keys
    is named by its first, or (``every``) by all of them: ``n or esc``.
    """
    app = node.app
    try:
        active = node.active_bindings if hasattr(node, "active_bindings") else node.screen.active_bindings
    except Exception:  # noqa: BLE001 - not mounted yet: fall back to the class's binding
        active = {}
    shown = [app.get_key_display(item.binding) for item in active.values() if item.binding.id == binding_id]
    if not shown:
        for binding in getattr(owner, "BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id == binding_id:
                keys = getattr(app, "keymap", {}).get(binding_id, binding.key)
                shown = [app.get_key_display(Binding(key.strip(), binding.action)) for key in keys.split(",")]
                break
    if not shown:
        return default
    return " or ".join(dict.fromkeys(shown)) if every else shown[0]


SETTLE_LIMIT_S = 2.0  # a key that has not settled by then (the app never fell quiet): hand out the next anyway
BUSY_SPINS = 64  # loop turns checked back to back before checking once a millisecond
SEEN_AFTER_S = 0.5  # a screen that opened by itself counts as seen once it has been drawn this long


def quiet(app: Any) -> bool:
    """Nothing left to do in ``app``: every message posted to it or to any of its widgets handled.

    Every widget's queue is empty and no "after this message" or "after the refresh" callback
    waits, so a key still travelling up the DOM, a ``Submitted`` on its way to a pane, a
    ``Widget.focus`` waiting its turn in the app's queue and a screen being mounted all
    count. Closed widgets are skipped (their queue is never read again). Called between
    turns of the event loop, never from a handler, so a handler still running is one
    waiting for something; the caller asks twice, a turn apart.
    """
    pumps: list[Any] = [app, *app._registry, *app.screen_stack]
    for pump in pumps:
        if pump._closing or pump._closed:
            continue
        queue = pump.__dict__.get("_message_queue")  # a cached_property: absent until first used
        if queue is not None and queue.qsize():
            return False
        if pump._pending_message is not None or pump._next_callbacks:
            return False
    return not any(screen._callbacks for screen in app.screen_stack)


class KeepTypedKeysMixin:
    """Mix into the ``App``: keys are handled one at a time, in the order typed, where the screen showed.

    **One key at a time.** Textual hands each key to the widget focused when the key is taken
    from the app's queue, and the key then travels up the DOM (a queue per widget) to the
    app, where the bindings run. A key that moves the focus or changes the step does so only
    once its binding has run, or a message later still (``Input.Submitted`` reaching the
    pane, ``Widget.focus`` waiting a turn of the app's queue). On a loaded machine the keys
    pile up meanwhile: the next key was handed to the widget that still had the focus
    (a rating typed after Enter landed in the takeaway: "friend2"), or went straight to the
    field while the one before it was still on its way round ("oaky" for "okay"). Here a key
    (or a paste) is handed out only once the app is :func:`quiet` after the one before it:
    everything that key set off has been handled, the focus is where it moved. Keys typed
    meanwhile wait in :attr:`_typed_ahead`, in order, and are handed out through the app's
    own queue. Without a load nothing waits: the app is quiet again within a millisecond or
    two. A key that has not settled after :data:`SETTLE_LIMIT_S` (something keeps the app
    busy) lets the next one go.

    **Not for a screen that opened by itself.** A screen the app opens on its own (today's
    meeting resumed at start-up, :meth:`push_screen_by_itself`) may appear just as a key is
    typed for the screen before it: a ``1`` meant for the home screen would be a mood rating
    in the meeting. A key typed before such a screen had been drawn for :data:`SEEN_AFTER_S`
    (by :func:`iop_facilitator.clock.monotonic`) is not given to it: a one-line notice names
    the key, to be typed again. The app's own priority keys (quit, privacy, crisis,
    commands) mean the same on every screen and go through.

    **A letter on the heels of a field key.** Should a printable key still come back
    unhandled from a widget that no longer has the focus, while the focus is now in a text
    field (``f`` for the feeling word, ``t`` for a takeaway, ``n`` for a story note), it is
    given to that field instead of running the list's own key (``p``: present).
    """

    _iop_typed_ahead: collections.deque[Any] | None = None
    _iop_key_busy: bool = False
    _iop_by_itself: Any = None  # the screen last opened by itself, until it has been seen
    _iop_by_itself_what: str = ""
    _iop_drawn_at: float | None = None  # when it was first drawn (None: not yet)
    _iop_in_hand_typed_at: float | None = None  # when the key being handled was typed

    def keys_waiting(self) -> int:
        """How many typed keys (and pastes) are not settled yet: waiting their turn, and the one in hand."""
        return len(self._iop_typed_ahead or ()) + self._iop_key_busy

    def push_screen_by_itself(self, screen: Any, what: str, callback: Any = None) -> Any:
        """Open ``screen`` on the app's own account (no key asked for it; ``what`` names it in a
        notice): keys typed before it was seen are not given to it (see the class)."""
        self._iop_by_itself, self._iop_by_itself_what, self._iop_drawn_at = screen, what, None
        result = self.push_screen(screen, callback=callback)  # type: ignore[attr-defined]
        screen.call_after_refresh(self._iop_drawn, screen)
        return result

    def key_waited(self) -> float:
        """How long the key being handled waited between being typed and being handed out, in
        seconds (0 when none did). A key that means more with the one before it ("1" then "0":
        ten) measures the gap from when they were typed, not from when a busy app got to them.
        The key last handed out counts even once the app has moved on to the next (a handler that
        awaits, or one that outlasts :data:`SETTLE_LIMIT_S`, still acts for the key it was given)."""
        from iop_facilitator.clock import monotonic

        typed = self._iop_in_hand_typed_at
        return max(0.0, monotonic() - typed) if typed is not None else 0.0

    def opened_by_itself(self) -> bool:
        """The screen showing was opened by the app on its own and no key has been given to it yet."""
        return self._iop_by_itself is not None and self._iop_by_itself is self.screen  # type: ignore[attr-defined]

    def _iop_drawn(self, screen: Any) -> None:
        from iop_facilitator.clock import monotonic

        if screen is self._iop_by_itself and self._iop_drawn_at is None:
            self._iop_drawn_at = monotonic()

    def _typed_for_another_screen(self, event: Any) -> bool:
        """``event`` was typed before the screen now showing, opened by itself, could be seen."""
        from textual import events

        screen = self._iop_by_itself
        if screen is None:
            return False
        if screen is not self.screen:  # type: ignore[attr-defined]
            if screen not in self.screen_stack:  # type: ignore[attr-defined]
                self._iop_by_itself = None
            return False  # a dialog opened on it (by a key typed for it), or it is gone
        drawn = self._iop_drawn_at
        typed = getattr(event, "_iop_typed_at", None)
        if drawn is not None and (typed is None or typed >= drawn + SEEN_AFTER_S):
            self._iop_by_itself = None  # seen: every later key is meant for it
            return False
        if isinstance(event, events.Key):
            bindings = self._bindings.key_to_bindings.get(event.key, ())  # type: ignore[attr-defined]
            if any(binding.priority for binding in bindings):
                return False  # quit, privacy, crisis: the same on every screen
            shown = self.get_key_display(Binding(event.key, ""))  # type: ignore[attr-defined]
            key = f"The key {shown}" if not event.is_printable else f"“{event.character}”"
        else:
            key = "A paste"
        self.notify(  # type: ignore[attr-defined]
            f"{key} was typed as {self._iop_by_itself_what} opened by itself and was not used here: "
            "type it again if it was meant for this screen.",
            title="Key not used", severity="warning", timeout=8, markup=False,
        )
        return True

    async def on_event(self, event: Any) -> None:
        from textual import events

        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            from iop_facilitator.clock import monotonic

            event._iop_typed_at = monotonic()  # type: ignore[attr-defined]
            if self._iop_key_busy:
                if self._iop_typed_ahead is None:
                    self._iop_typed_ahead = collections.deque()
                self._iop_typed_ahead.append(event)
                return
            await self._hand_out(event)
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _hand_out(self, event: Any) -> None:
        from textual import events

        self._iop_key_busy = True
        self._iop_in_hand_typed_at = getattr(event, "_iop_typed_at", None)
        try:
            if self._typed_for_another_screen(event):
                return
            if isinstance(event, events.Key):
                event._iop_sent_to = self.focused  # type: ignore[attr-defined]  # where Textual will hand it
            await super().on_event(event)  # type: ignore[misc]
        finally:
            loop = asyncio.get_running_loop()
            loop.call_soon(self._check_settled, loop.time() + SETTLE_LIMIT_S, 0, False)

    def _check_settled(self, deadline: float, spins: int, was_quiet: bool) -> None:
        loop = asyncio.get_running_loop()
        now_quiet = quiet(self)
        if not (now_quiet and was_quiet) and loop.time() < deadline and self.is_running:  # type: ignore[attr-defined]
            if spins < BUSY_SPINS or now_quiet:
                loop.call_soon(self._check_settled, deadline, spins + 1, now_quiet)
            else:
                loop.call_later(0.001, self._check_settled, deadline, spins + 1, now_quiet)
            return
        waiting = self._iop_typed_ahead
        if not waiting or not self.call_later(self._hand_out, waiting[0]):  # type: ignore[attr-defined]
            self._iop_key_busy = False
            return
        waiting.popleft()  # still "busy": later keys queue up behind it

    def on_key(self, event: Any) -> None:
        from textual import events
        from textual.widgets import Input, TextArea

        if not hasattr(event, "_iop_sent_to"):
            return
        sent_to = event._iop_sent_to  # None: no widget had the focus (the screen got it)
        now = self.focused  # type: ignore[attr-defined]
        if now is None or now is sent_to or not event.is_printable:
            return
        if isinstance(now, Input) and not now.disabled or isinstance(now, TextArea) and not now.read_only:
            event.prevent_default()  # not the bindings of the list it was meant to leave
            event.stop()
            now._forward_event(events.Key(event.key, event.character))
