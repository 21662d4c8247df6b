"""The one place that asks for the time.

Every "now" and "today" of the program comes from here (a test in
``tests/test_clock.py`` scans the package for other clock reads):

* :func:`utcnow`: aware UTC, for storage;
* :func:`local_now` / :func:`local_today`: the time and the calendar day in a
  given timezone, normally the program's (``ProgramSettings.timezone``, see
  ``services.settings.program_today``), never the machine's;
* :func:`monotonic`: seconds from a clock that never jumps, for timers, the
  idle lock and "two keys in a row";
* :func:`call_later` / :func:`call_every`: let a test clock run the user
  interface's timers (debounced typing, the topic timer, the meeting clock);
  with the real clock they return ``None`` and the caller uses its own event
  loop's timer (``tui/timers.py``).

Storage is always aware UTC; local time is only for display and for the
program's calendar.

Tests replace the source of time with :func:`use`, usually a
:class:`ManualClock`, which moves only when told to; freezing the wall clock
alone also works with ``time_machine``/``pendulum.travel_to`` (the system
clock reads ``datetime.now``, which both move). Reading the time never imports
pendulum: the CLI's fast paths (``iop export attendance``) do without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pendulum


class Cancellable(Protocol):
    def stop(self) -> None: ...


class SystemClock:
    """The real time."""

    def utcnow(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Cancellable | None:
        """``None``: the caller schedules ``callback`` with its own event loop."""
        return None

    def call_every(self, interval: float, callback: Callable[[], Any]) -> Cancellable | None:
        """``None``: the caller repeats ``callback`` with its own event loop."""
        return None


class _Scheduled:
    def __init__(self, due: float, callback: Callable[[], Any], every: float | None = None) -> None:
        self.due, self.callback, self.every = due, callback, every
        self.active = True

    def stop(self) -> None:
        self.active = False


class ManualClock:
    """A clock that moves only when told to (tests, replays).

    Monotonic time starts at ``monotonic`` and stands still until :meth:`advance`.
    The wall clock is the system's (or ``time_machine``'s frozen one) plus every
    advance so far, so both move together. Callbacks given to :meth:`call_later`
    run, in time order and each at its own moment, during the :meth:`advance`
    that passes their time.
    """

    def __init__(self, *, monotonic: float = 1_000.0) -> None:
        self._monotonic = monotonic
        self._advanced = 0.0
        self._queue: list[tuple[float, int, _Scheduled]] = []
        self._order = itertools.count()

    def utcnow(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(microseconds=round(self._advanced * 1_000_000))

    def monotonic(self) -> float:
        return self._monotonic

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Cancellable:
        return self._push(_Scheduled(self._monotonic + max(0.0, delay), callback))

    def call_every(self, interval: float, callback: Callable[[], Any]) -> Cancellable:
        """Repeat ``callback`` every ``interval`` seconds; like Textual's timers, an advance
        that passes several intervals runs it once (missed ticks are skipped)."""
        if interval <= 0:
            raise ValueError("an interval must be positive")
        return self._push(_Scheduled(self._monotonic + interval, callback, every=interval))

    def _push(self, entry: _Scheduled) -> _Scheduled:
        heapq.heappush(self._queue, (entry.due, next(self._order), entry))
        return entry

    @property
    def pending(self) -> int:
        """How many scheduled callbacks have not run (nor been stopped) yet."""
        return sum(1 for _due, _n, entry in self._queue if entry.active)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, running every callback that falls due on the way."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        end = self._monotonic + seconds
        while self._queue and self._queue[0][0] <= end:
            due, _n, entry = heapq.heappop(self._queue)
            if not entry.active:
                continue
            self._move_to(max(due, self._monotonic))
            if entry.every is None:
                entry.active = False
            else:  # the next tick after this advance (skipped ones are not made up)
                entry.due = due + entry.every * (int((end - due) // entry.every) + 1)
                self._push(entry)
            entry.callback()
        self._move_to(end)

    def _move_to(self, value: float) -> None:
        self._advanced += value - self._monotonic
        self._monotonic = value


Clock = SystemClock | ManualClock
_source: Clock = SystemClock()


def current() -> Clock:
    return _source


@contextlib.contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Take the time from ``clock`` inside the ``with`` block (tests)."""
    global _source
    previous, _source = _source, clock
    try:
        yield clock
    finally:
        _source = previous


def utcnow() -> dt.datetime:
    """Aware UTC now, a plain ``datetime`` (no pendulum import), suitable for storage."""
    return _source.utcnow()


def plain_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as a plain aware UTC ``datetime`` with microseconds (what the database hands back)."""
    utc = value.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=dt.UTC)


def local_now(tz: str) -> pendulum.DateTime:
    """Now in the timezone ``tz`` (the program's, for anything a user sees)."""
    import pendulum

    return pendulum.instance(utcnow()).in_tz(tz)


def local_today(tz: str) -> dt.date:
    """Today's date in the timezone ``tz`` (the program's calendar day, not the machine's)."""
    return local_now(tz).date()


def to_local(value: dt.datetime | None, tz: str) -> pendulum.DateTime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # defensive: storage never holds naive values
        value = value.replace(tzinfo=dt.UTC)
    import pendulum

    return pendulum.instance(value).in_tz(tz)


def monotonic() -> float:
    """Seconds from a clock that never jumps (for timers and idle lock)."""
    return _source.monotonic()


def call_later(delay: float, callback: Callable[[], Any]) -> Cancellable | None:
    """Run ``callback`` after ``delay`` seconds on a test clock; ``None`` with the real one (see above)."""
    return _source.call_later(delay, callback)


def call_every(interval: float, callback: Callable[[], Any]) -> Cancellable | None:
    """Repeat ``callback`` every ``interval`` seconds on a test clock; ``None`` with the real one."""
    return _source.call_every(interval, callback)
