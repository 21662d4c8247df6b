"""How to name a binding's key on screen, after the user's keymap."""

from __future__ import annotations

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
