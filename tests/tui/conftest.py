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
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iop_facilitator import clock


IDLE_SLICE_S = 0.002


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


@pytest.fixture(autouse=True)
def manual_clock() -> Iterator[clock.ManualClock]:
    with clock.use(clock.ManualClock()) as installed:
        yield installed
