"""Time in the TUI tests: a ManualClock for every test.

Every TUI test runs with :class:`iop_facilitator.clock.ManualClock` installed
(``manual_clock``): monotonic time stands still until the test moves it on, so
debounced typing is saved, and the topic timer and the meeting clock tick, only
when a test says so (``tests.tui.meeting_kit.pass_time``). Nothing waits for
real time to pass; wall time is the real (or ``time_machine``-frozen) time plus
every advance.

Pilot's key presses and ``pilot.pause()`` wait until the app is idle, which Textual
measures in slices of 20 ms (``textual._wait.SLEEP_GRANULARITY``): every key then cost at
least 40 ms. The slices are 2 ms here; what "idle" means (under 5 % of one core in a slice)
is unchanged.

Every app parses the same CSS (Textual's defaults, every widget's ``DEFAULT_CSS``, the app's
``.tcss`` files): Textual keeps parsed rules per stylesheet, so each of the hundreds of apps a
test process starts parsed them all again. ``shared_css_parses`` keeps them per process, by
the CSS text, where it was read from and the theme's variables (what the parse depends on).

After every key and pause Pilot waits until each widget of the screen has handled every message
queued so far, by posting a callback to each one (about 120 on the meeting screen, 8.5 ms of CPU
per wait, each widget woken up for nothing). ``quick_screen_waits`` first looks whether there is
anything to wait for: a widget whose queue is empty and whose message loop waits for its next
message has handled everything (Textual posts a message to a widget for any work it asks of
it, a refresh included). When every widget stays so for a few turns of the event loop (a key
the driver sends arrives a turn or two later) the wait ends with nothing posted; otherwise
Pilot's own wait runs (a callback to every widget). The hypothesis state machines (``test_properties.py``,
``test_notes_properties.py``) keep Pilot's own wait (``pilots_own_screen_waits``): they press
keys in bursts with their own queue checks, and their derandomized runs are tuned to its pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from iop_facilitator import clock


IDLE_SLICE_S = 0.002
#: Turns of the event loop in which every widget must stay idle before a Pilot wait ends early.
QUIET_TURNS = 4


@pytest.fixture(autouse=True, scope="session")
def quick_idle_checks() -> Iterator[None]:
    import textual._wait as wait

    saved = wait.SLEEP_GRANULARITY, wait.SLEEP_IDLE
    ratio = wait.SLEEP_IDLE / wait.SLEEP_GRANULARITY
    wait.SLEEP_GRANULARITY, wait.SLEEP_IDLE = IDLE_SLICE_S, IDLE_SLICE_S * ratio
    try:
        yield
    finally:
        wait.SLEEP_GRANULARITY, wait.SLEEP_IDLE = saved


@pytest.fixture(autouse=True, scope="session")
def shared_css_parses() -> Iterator[None]:
    from textual.css.stylesheet import Stylesheet

    parse_rules = Stylesheet._parse_rules
    parsed: dict[tuple, list] = {}

    def shared(self, css, read_from, is_default_rules=False, tie_breaker=0, scope=""):  # noqa: ANN001, ANN202
        key = (css, read_from, is_default_rules, tie_breaker, scope, tuple(sorted(self._variables.items())))
        rules = parsed.get(key)
        if rules is None:
            rules = parsed[key] = parse_rules(self, css, read_from, is_default_rules, tie_breaker, scope)
        return list(rules)

    Stylesheet._parse_rules = shared
    try:
        yield
    finally:
        Stylesheet._parse_rules = parse_rules


def _waiting_for_messages(node) -> bool:  # noqa: ANN001
    """``node``'s message loop has nothing queued and is parked waiting for the next message."""
    queue = node._message_queue  # textual._queue.Queue: get() waits on ready_event when empty
    return (
        node._pending_message is None
        and not node._next_callbacks
        and queue.empty()
        and any(not waiter.done() for waiter in queue.ready_event._waiters)
    )


@pytest.fixture(autouse=True, scope="session")
def quick_screen_waits() -> Iterator[None]:
    from textual.pilot import Pilot

    wait_for_screen = Pilot._wait_for_screen

    async def only_busy_widgets(self, timeout: float = 30.0) -> bool:  # noqa: ANN001
        try:
            screen = self.app.screen
        except Exception:  # noqa: BLE001 - as Pilot's own: no screen, nothing to wait for
            return False
        if self.app._exit or self.app._closing:  # noqa: SLF001
            # The app is ending: its widgets close with messages still queued, so Pilot's own
            # wait (a callback per widget) would never be answered and ran into its 30 s timeout
            # (a test waiting for the app to quit failed so once in CI). Nothing is left to wait for.
            return True
        nodes = [self.app, *screen.walk_children(with_self=True)]
        for _turn in range(QUIET_TURNS):
            # a few turns of the event loop first: a key sent by the driver (or anything else
            # handed over with run_coroutine_threadsafe) reaches its queue a turn or two later
            await asyncio.sleep(0)
            if not all(_waiting_for_messages(node) for node in nodes):
                return await wait_for_screen(self, timeout)
        return True

    only_busy_widgets.pilots_own = wait_for_screen  # type: ignore[attr-defined]
    Pilot._wait_for_screen = only_busy_widgets
    try:
        yield
    finally:
        Pilot._wait_for_screen = wait_for_screen


def pilots_own_screen_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.pilot import Pilot

    monkeypatch.setattr(Pilot, "_wait_for_screen", getattr(Pilot._wait_for_screen, "pilots_own", Pilot._wait_for_screen))


@pytest.fixture(autouse=True)
def manual_clock() -> Iterator[clock.ManualClock]:
    with clock.use(clock.ManualClock()) as installed:
        yield installed
