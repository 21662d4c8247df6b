"""Timers of the user interface that follow :mod:`iop_facilitator.clock`.

With the real clock these are Textual's own ``set_timer`` / ``set_interval``.
When a test installs a :class:`~iop_facilitator.clock.ManualClock`, the clock
schedules them instead and they fire when the test advances it, so a test of
debounced typing or of the topic timer moves time on rather than waiting for it.
Either way the callback runs in the widget's own message loop, as a Textual
timer's does.

Used for the timers whose length is part of what the program promises
(typing saved after :data:`~iop_facilitator.tui.steps.base.DEBOUNCE_SECONDS`
of quiet, the one-second ticks of the clocks); a timer that only yields to the
event loop for a moment stays a plain Textual timer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message_pump import MessagePump

from iop_facilitator import clock


def set_timer(owner: MessagePump, delay: float, callback: Callable[[], Any]) -> clock.Cancellable:
    """Call ``callback`` once, ``delay`` seconds from now; ``.stop()`` cancels it."""
    scheduled = clock.call_later(delay, lambda: owner.call_next(callback))
    return scheduled if scheduled is not None else owner.set_timer(delay, callback)


def set_interval(owner: MessagePump, interval: float, callback: Callable[[], Any]) -> clock.Cancellable:
    """Call ``callback`` every ``interval`` seconds until ``.stop()``."""
    scheduled = clock.call_every(interval, lambda: owner.call_next(callback))
    return scheduled if scheduled is not None else owner.set_interval(interval, callback)
