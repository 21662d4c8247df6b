"""Pasted text is data: read whole, cleaned once, never turned into key presses, never cut silently.

Three pieces:

* :class:`PasteSafeParser` takes an ``ESC`` that ends what the terminal sent as the
  Escape key at once (terminals send an escape sequence, or Alt+key, in one piece). Textual
  waits for more input and only checks its wait at the input thread's next wake-up, up to
  0.1 s later: Esc and a digit typed 70 ms apart became Alt+digit, typed into the note
  instead of leaving it, or arrived together so the digit went to the field Esc was leaving.
  It also reads a bracketed paste (``ESC [ 200 ~`` ... ``ESC [ 201 ~``)
  as one ``events.Paste`` whatever it contains. Textual 8.2.8's ``XTermParser`` starts
  an escape sequence at an ``ESC`` inside a paste and re-sends what follows as key
  presses (``ESC`` as ``^``) ahead of the paste: a pasted colour code came out as
  ``^[`` fragments, out of order, and its letters could act as keys (roll-call
  statuses). :func:`install_paste_safe_parser` makes the terminal drivers use it.
* :class:`CleanPasteMixin` cleans the paste's text (control and escape sequences, NUL)
  once, where the app receives it, before any widget sees it.
* :class:`~iop_facilitator.tui.widgets.fields.LimitedInput` (its own module, kept out
  of the first frame) shows a field's limit and asks before a paste would be cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import events
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser

from iop_facilitator.services.text import clean

if TYPE_CHECKING:
    from textual.message import Message


def _partial_suffix(data: str, marker: str, shortest: int) -> int:
    """Length of the longest end of ``data`` (at least ``shortest``) that is a proper beginning of ``marker``."""
    for size in range(min(len(marker) - 1, len(data)), shortest - 1, -1):
        if marker.startswith(data[-size:]):
            return size
    return 0


class PasteSafeParser(XTermParser):
    """``XTermParser`` that takes everything between the paste markers as the paste's text."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._in_paste = False
        self._pasted: list[str] = []
        self._carry = ""
        self._escape = False  # a lone ESC ended the last read: the Escape key, given out by tick()

    def tick(self) -> Iterable[Message]:
        """Called by the driver right after each read (and on its wake-ups)."""
        if self._escape:
            self._escape = False
            yield events.Key("escape", "\x1b")
        yield from super().tick()

    def feed(self, data: str) -> Iterable[Message]:
        return list(self._feed(data))

    def _feed(self, data: str) -> Iterable[Message]:
        if not data:  # end of input: whatever was held back goes to the key parser
            if self._in_paste:
                yield events.Paste("".join(self._pasted) + self._carry)
                self._in_paste, self._pasted = False, []
            elif self._carry:
                yield from super().feed(self._carry)
            self._carry = ""
            yield from super().feed(data)
            return
        if self._escape:  # no tick() since that ESC: it is followed by this input after all
            self._escape = False
            data = "\x1b" + data
        yield from super().tick()  # the key parser's own waits that ran out
        data, self._carry = self._carry + data, ""
        while data:
            if self._in_paste:
                end = data.find(BRACKETED_PASTE_END)
                if end < 0:
                    keep = _partial_suffix(data, BRACKETED_PASTE_END, 1)
                    self._pasted.append(data[: len(data) - keep])
                    self._carry = data[len(data) - keep:]
                    return
                self._pasted.append(data[:end])
                text = "".join(self._pasted).replace("\x00", "")
                self._in_paste, self._pasted = False, []
                yield events.Paste(text)
                data = data[end + len(BRACKETED_PASTE_END):]
            else:
                start = data.find(BRACKETED_PASTE_START)
                if start < 0:
                    keep = _partial_suffix(data, BRACKETED_PASTE_START, 2)
                    body = data[: len(data) - keep]
                    if not keep and body.endswith("\x1b") and not body.endswith("\x1b\x1b"):
                        body, self._escape = body[:-1], True  # a lone ESC last: the Escape key
                    if body:
                        yield from super().feed(body)
                    self._carry = data[len(data) - keep:]
                    return
                if start:
                    yield from super().feed(data[:start])
                self._in_paste = True
                data = data[start + len(BRACKETED_PASTE_START):]


def install_paste_safe_parser() -> None:
    """Make Textual's terminal drivers read input with :class:`PasteSafeParser`.

    The drivers create their parser as ``XTermParser(...)`` from their own module's name, so
    that name is pointed at the subclass (idempotent; everything but pastes is unchanged).
    """
    import importlib

    for name in ("textual.drivers.linux_driver", "textual.drivers.linux_inline_driver"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - e.g. Windows
            continue
        if getattr(module, "XTermParser", None) is XTermParser:
            module.XTermParser = PasteSafeParser  # type: ignore[attr-defined]


class CleanPasteMixin:
    """Mix into the ``App`` (before ``App`` in the bases): cleans ``events.Paste`` text."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Paste) and not event.is_forwarded:
            event.text = clean(event.text)
        await super().on_event(event)  # type: ignore[misc]
