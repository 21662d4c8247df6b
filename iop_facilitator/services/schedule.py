"""A group's weekly schedule: which days it meets and when, in the program's timezone.

Plain functions of a few attributes (``weekdays``, ``start_time``, ``duration_minutes``,
``start_date``, ``end_date``), so callers can pass a ``Group`` or any object with them;
this module imports neither SQLAlchemy nor SQLModel (the home screen's first read uses it
before they are loaded).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import pendulum

from iop_facilitator.enums import WEEKDAYS


class Timed(Protocol):
    start_time: str  # local "HH:MM"
    duration_minutes: int


class Scheduled(Protocol):
    weekdays: list[str]
    start_date: dt.date | None
    end_date: dt.date | None


def scheduled_times(group: Timed, local_date: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC start and end of ``group`` on ``local_date`` in the program's timezone (DST-safe)."""
    hour, minute = (int(x) for x in group.start_time.split(":"))
    start = pendulum.datetime(local_date.year, local_date.month, local_date.day, hour, minute, tz=tz)
    end = start.add(minutes=group.duration_minutes)
    return start.in_tz("UTC"), end.in_tz("UTC")


def meets_on(group: Scheduled, day: dt.date) -> bool:
    """Whether ``group``'s weekly schedule includes ``day`` (within its start and end dates)."""
    if group.start_date and day < group.start_date:
        return False
    if group.end_date and day > group.end_date:
        return False
    return WEEKDAYS[day.weekday()] in group.weekdays
