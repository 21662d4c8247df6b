"""One place to ask for the time, so tests can freeze it (``pendulum.travel_to``).

Storage is always aware UTC; local time is only for display and for the
program's calendar (which day "today" is in the clinic's timezone).
"""

from __future__ import annotations

import datetime as dt
import time

import pendulum


def utcnow() -> dt.datetime:
    """Aware UTC now, as a plain ``datetime`` subclass instance suitable for storage."""
    return pendulum.now("UTC")


def plain_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as a plain aware UTC ``datetime`` with microseconds (what the database hands back)."""
    utc = value.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=dt.UTC)


def local_now(tz: str) -> pendulum.DateTime:
    return pendulum.now(tz)


def local_today(tz: str) -> dt.date:
    return pendulum.now(tz).date()


def to_local(value: dt.datetime | None, tz: str) -> pendulum.DateTime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # defensive: storage never holds naive values
        value = value.replace(tzinfo=dt.UTC)
    return pendulum.instance(value).in_tz(tz)


def monotonic() -> float:
    """Seconds from a clock that never jumps (for timers and idle lock)."""
    return time.monotonic()
