"""How to name a binding's key on screen, after the user's keymap."""

from __future__ import annotations

from typing import Any


def key_display(node: Any, binding_id: str, default: str) -> str:
    """The key currently bound to ``binding_id`` among ``node``'s active bindings, as Textual shows it."""
    for active in node.active_bindings.values():
        if active.binding.id == binding_id:
            return node.app.get_key_display(active.binding)
    return default


class KeepTypedKeysMixin:
    """Mix into the ``App``: a letter typed just after a key that opened a text field lands in the field.

    Textual hands each key to the widget focused when the key is taken from the app's
    queue. A key that opens a field (``f`` for the feeling word, ``t`` for a takeaway,
    ``n`` for a story note) moves the focus only once its binding has run, after the key
    has travelled up from the list to the app; when the program is busy (a commit, a
    redraw) the next letter can already have been handed to the list, where it would be
    lost, or worse, run the list's own key (``p``: present). Here a printable key that
    comes back unhandled from a widget that no longer has the focus, while the focus is
    now in a text field, is given to that field instead.
    """

    async def on_event(self, event: Any) -> None:
        from textual import events

        if isinstance(event, events.Key) and not event.is_forwarded:
            event._iop_sent_to = self.focused  # type: ignore[attr-defined]  # where Textual will hand it
        await super().on_event(event)  # type: ignore[misc]

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
