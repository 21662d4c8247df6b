"""Pasted text is data: control and escape sequences and NUL are stripped before any widget sees it.

Typed keys never carry raw escape sequences (the terminal driver parses them), but a
bracketed paste delivers whatever was on the clipboard. :class:`CleanPasteMixin`
cleans it once, where the app receives it from the driver, so every ``Input`` and
``TextArea`` (and anything else that handles ``Paste``) gets clean text.
"""

from __future__ import annotations

from textual import events

from iop_facilitator.services.text import clean


class CleanPasteMixin:
    """Mix into the ``App`` (before ``App`` in the bases): cleans ``events.Paste`` text."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Paste) and not event.is_forwarded:
            event.text = clean(event.text)
        await super().on_event(event)  # type: ignore[misc]
