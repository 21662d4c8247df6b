"""How a time of day is written and read: local ``HH:MM`` (standard library; pendulum only to parse).

``clock.py`` says what time it is; this module turns stored instants (aware UTC, or
the storage text ``YYYY-MM-DD HH:MM:SS.ffffff``) into the clinic's local ``HH:MM``
and back. One formatter and one parser serve the screens, the drafted notes and the
exports:

* :func:`local_hhmm`: an instant as local ``HH:MM`` in a timezone ("" for None);
* :func:`parse_hhmm`: what a leader typed (``9:05``, ``09:05``, ``0905``, ``9.05``,
  ``9h05``) on a given day in a timezone, as aware UTC, or a ``ValueError`` whose
  message can be shown as it is;
* :class:`LocalClock`: the same formatting for many rows of one timezone (an
  offset cache per UTC hour), and the UTC-offset changes over a span of days
  (:meth:`LocalClock.transitions`) for SQL that formats times itself, across
  daylight-saving changes; :class:`Clocks`, one per timezone.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

TIME_TYPED = re.compile(r"^\s*(\d{1,2})\s*[:.h]?\s*(\d{2})\s*$")
TIME_HELP = "not a time of day: use HH:MM (24-hour), e.g. 09:05"
STORAGE = "%Y-%m-%d %H:%M:%S.%f"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_hhmm(value: dt.datetime | None, tz: str) -> str:
    """``HH:MM`` of an instant in ``tz`` ("" for None; a naive value is taken as UTC)."""
    if value is None:
        return ""
    instant = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return instant.astimezone(zone(tz)).strftime("%H:%M")


def typed_time(text: str) -> tuple[int, int]:
    """``(hour, minute)`` of a typed time of day: ``9:05``, ``09:05``, ``0905``, ``9.05`` or
    ``9h05`` (24-hour); anything else raises ``ValueError`` with :data:`TIME_HELP`."""
    match = TIME_TYPED.match(text or "")
    if match is None:
        raise ValueError(TIME_HELP)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(TIME_HELP)
    return hour, minute


def parse_hhmm(text: str, day: dt.date, tz: str) -> dt.datetime:
    """A typed time of day (:func:`typed_time`) on ``day`` in ``tz``, as aware UTC.

    A time that a daylight-saving change skips is moved forward, as pendulum does.
    """
    import pendulum

    hour, minute = typed_time(text)
    return pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=tz).in_tz("UTC")


class LocalClock:
    """UTC instants (stored text or aware datetimes) to local ``HH:MM`` in one timezone."""

    def __init__(self, timezone: str):
        self.zone = zone(timezone)
        self._offsets: dict[str, int | None] = {}

    def offset_minutes(self, instant: dt.datetime) -> int:
        off = instant.astimezone(self.zone).utcoffset()
        return int(off.total_seconds() // 60) if off is not None else 0

    def _hour_offset(self, key: str) -> int | None:
        """The offset for a whole UTC hour (``YYYY-MM-DD HH``), or None if it changes inside it."""
        if key not in self._offsets:
            start = dt.datetime.fromisoformat(key + ":00:00").replace(tzinfo=dt.UTC)
            first = self.offset_minutes(start)
            last = self.offset_minutes(start + dt.timedelta(minutes=59, seconds=59))
            self._offsets[key] = first if first == last else None
        return self._offsets[key]

    def hhmm(self, value: str | dt.datetime | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            text = value.replace("T", " ")
            off = self._hour_offset(text[:13])
            if off is None:
                off = self.offset_minutes(dt.datetime.fromisoformat(text[:19]).replace(tzinfo=dt.UTC))
            minutes = int(text[11:13]) * 60 + int(text[14:16]) + off
        else:
            instant = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            local = instant.astimezone(self.zone)
            minutes = local.hour * 60 + local.minute
        minutes %= 1440
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def transitions(self, first: dt.date, last: dt.date) -> list[tuple[str, int]]:
        """``[(from_utc_text, offset_minutes), ...]`` covering ``first`` - 1 day .. ``last`` + 2 days.

        The first entry starts at ``""`` (everything before); the storage text
        form sorts like time, so SQLite can compare it directly.
        """
        start = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)
        out = [("", self.offset_minutes(start))]
        day = start
        while day < end:
            nxt = day + dt.timedelta(days=1)
            before, after = self.offset_minutes(day), self.offset_minutes(nxt)
            if before != after:  # find the minute it changes
                lo, hi = day, nxt
                while hi - lo > dt.timedelta(minutes=1):
                    mid = lo + (hi - lo) / 2
                    mid = mid.replace(second=0, microsecond=0)
                    if mid <= lo:
                        break
                    if self.offset_minutes(mid) == before:
                        lo = mid
                    else:
                        hi = mid
                out.append((hi.strftime(STORAGE), after))
            day = nxt
        return out


class Clocks:
    """One :class:`LocalClock` per timezone, ``default`` for a missing one."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._clocks: dict[str, LocalClock] = {}

    def __call__(self, timezone: str | None) -> LocalClock:
        name = timezone or self.default
        clock = self._clocks.get(name)
        if clock is None:
            clock = self._clocks[name] = LocalClock(name)
        return clock
