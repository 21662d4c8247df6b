"""What the home screen shows: today's groups, unsigned meetings, follow-ups due.

The overview is a handful of SQL statements written once, with ``:name`` parameters that
both SQLite's DB-API and SQLAlchemy's ``text()`` accept, run through a small row reader:

* :func:`overview` runs them in a SQLModel ``Session`` (SQLite or PostgreSQL);
* :func:`overview_from_sqlite_file` runs them on a plain ``sqlite3`` connection, so the
  TUI can show the home screen's data before SQLAlchemy and SQLModel are even imported
  (about a quarter of a second at start-up). It answers None whenever it is not sure
  (not a plain SQLite file, schema not current, no settings row, any SQLite error) and the
  app then waits for the regular path.

This module imports neither SQLAlchemy nor SQLModel at module level.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iop_facilitator.clock import to_local, utcnow
from iop_facilitator.enums import GroupStatus, MeetingStatus
from iop_facilitator.services.schedule import meets_on, scheduled_times

if TYPE_CHECKING:
    from sqlmodel import Session


@dataclass(frozen=True)
class TodayGroup:
    group_id: uuid.UUID
    name: str
    starts: str  # local HH:MM
    ends: str
    enrolled: int
    meeting_id: uuid.UUID | None
    status: str  # "not started", or the meeting's status


@dataclass(frozen=True)
class OpenMeeting:
    meeting_id: uuid.UUID
    group_id: uuid.UUID
    group_name: str
    local_date: dt.date
    status: str
    flow_step: str
    hours_since_end: float  # since the scheduled end (negative while it is still running)


@dataclass(frozen=True)
class DueFollowUp:
    follow_up_id: uuid.UUID
    member: str
    reason: str
    due: dt.date | None
    overdue: bool


@dataclass(frozen=True)
class Overview:
    clinic_name: str
    is_demo: bool
    timezone: str
    today: dt.date
    groups_today: tuple[TodayGroup, ...]
    open_meetings: tuple[OpenMeeting, ...]
    follow_ups: tuple[DueFollowUp, ...]  # the most urgent FOLLOW_UPS_SHOWN, oldest due first
    group_count: int
    follow_ups_due: int = 0  # how many are due in all (may be more than are listed)


FOLLOW_UPS_SHOWN = 50
"""The home screen lists this many follow-ups due at most (the oldest first) and says how many
there are in all: a dashboard, not the whole backlog, and a long list slowed the first paint."""


Rows = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
"""Runs one SQL statement with ``:name`` parameters and returns its rows."""

_SETTINGS = "SELECT clinic_name, timezone, is_demo FROM program_settings LIMIT 1"
_GROUPS = (
    "SELECT id, name, weekdays, start_time, duration_minutes, start_date, end_date "
    "FROM therapy_group WHERE status = :active ORDER BY start_time, name"
)
_ENROLLED = (
    "SELECT group_id, count(*) FROM enrollment "
    "WHERE start_date <= :today AND (exit_date IS NULL OR exit_date > :today) "
    "AND group_id IN (SELECT id FROM therapy_group WHERE status = :active) GROUP BY group_id"
)
_TODAYS_MEETINGS = "SELECT group_id, id, status FROM meeting WHERE local_date = :today"
_OPEN = (
    "SELECT m.id, m.group_id, g.name, m.local_date, m.status, m.flow_step, m.scheduled_end "
    "FROM meeting m JOIN therapy_group g ON g.id = m.group_id "
    "WHERE m.status IN (:in_progress, :completed) ORDER BY m.scheduled_start"
)
_DUE = (
    "SELECT f.id, p.display_name, f.reason, f.due_date FROM follow_up f "
    "JOIN member p ON p.id = f.member_id "
    "WHERE f.done = :no AND f.due_date <= :until ORDER BY f.due_date, f.created_at LIMIT :shown"
)
_DUE_COUNT = "SELECT count(*) FROM follow_up WHERE done = :no AND due_date <= :until"
_GROUP_COUNT = "SELECT count(*) FROM therapy_group"
# Whether a co-signature was required is frozen in the signed snapshot (indexed: the usual
# clinic has none, and then the list costs one index probe).
_COSIGNERS_NEEDED = "SELECT count(*) FROM (SELECT 1 FROM signed_snapshot WHERE requires_cosign = :yes LIMIT 1) x"
_AWAITING_COSIGN = (
    "SELECT m.id, m.group_id, g.name, m.local_date, m.flow_step, m.scheduled_end "
    "FROM signed_snapshot s JOIN meeting m ON m.id = s.meeting_id JOIN therapy_group g ON g.id = m.group_id "
    "WHERE s.requires_cosign = :yes AND m.status = :signed AND m.cosigned_at IS NULL "
    "ORDER BY m.scheduled_start"
)

AWAITING_COSIGN = "awaiting_cosign"
"""The status shown for a signed meeting still waiting for a required supervisor co-signature."""


def overview(session: Session, *, now: dt.datetime | None = None, horizon_days: int = 1) -> Overview:
    """The home screen's data, read in ``session`` (creating the settings row if missing)."""
    from sqlalchemy import text

    from iop_facilitator.services.settings import get_settings

    get_settings(session)
    sqlite = session.get_bind().dialect.name == "sqlite"

    def rows(sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        return session.execute(text(sql), _sqlite_params(params) if sqlite else params).all()

    return build_overview(rows, now=now, horizon_days=horizon_days)


def overview_from_sqlite_file(path: str, *, now: dt.datetime | None = None, horizon_days: int = 1) -> Overview | None:
    """The overview read straight from a plain, current SQLite file (``db.raw``); None when unsure."""
    import sqlite3

    from iop_facilitator.db import raw

    file = raw.plain_file(path)
    if file is None:
        return None
    try:
        conn = raw.connect(file, mode="rw", timeout=1.0)
    except (OSError, sqlite3.Error):
        return None
    try:
        conn.execute("PRAGMA query_only = 1")
        if not raw.at_head(conn):
            return None

        def rows(sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
            return conn.execute(sql, _sqlite_params(params)).fetchall()

        if not rows(_SETTINGS, {}):
            return None
        return build_overview(rows, now=now, horizon_days=horizon_days)
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()


def build_overview(rows: Rows, *, now: dt.datetime | None = None, horizon_days: int = 1) -> Overview:
    clinic_name, tz, is_demo = rows(_SETTINGS, {})[0]
    now = now or utcnow()
    local = to_local(now, tz)
    today = dt.date(local.year, local.month, local.day)
    active = {"active": GroupStatus.active.value}
    todays = {_uuid(g): (_uuid(m), str(status)) for g, m, status in rows(_TODAYS_MEETINGS, {"today": today})}
    counts = {_uuid(g): int(n) for g, n in rows(_ENROLLED, {"today": today, **active})}
    groups_today = []
    for gid, name, weekdays, start_time, minutes, start_date, end_date in rows(_GROUPS, active):
        group = _Schedule(_json_list(weekdays), str(start_time), int(minutes), _date(start_date), _date(end_date))
        group_id = _uuid(gid)
        meeting = todays.get(group_id)
        if not meets_on(group, today) and meeting is None:
            continue
        start, end = scheduled_times(group, today, tz)
        groups_today.append(
            TodayGroup(
                group_id,
                str(name),
                to_local(start, tz).format("HH:mm"),
                to_local(end, tz).format("HH:mm"),
                counts.get(group_id, 0),
                meeting[0] if meeting else None,
                meeting[1] if meeting else "not started",
            )
        )
    statuses = {"in_progress": MeetingStatus.in_progress.value, "completed": MeetingStatus.completed.value}
    open_meetings = tuple(
        OpenMeeting(
            _uuid(mid), _uuid(gid), str(name), _date(day), str(status), str(step or ""),
            round((now - _datetime(end)).total_seconds() / 3600, 1),
        )
        for mid, gid, name, day, status, step, end in rows(_OPEN, statuses)
    ) + _awaiting_cosign(rows, now)
    until = today + dt.timedelta(days=horizon_days)
    follow_ups = tuple(
        DueFollowUp(_uuid(fid), str(member), str(reason), _date(due), bool(due is not None and _date(due) < today))
        for fid, member, reason, due in rows(_DUE, {"no": False, "until": until, "shown": FOLLOW_UPS_SHOWN})
    )
    due_total = len(follow_ups)
    if due_total == FOLLOW_UPS_SHOWN:
        due_total = int(rows(_DUE_COUNT, {"no": False, "until": until})[0][0])
    total = int(rows(_GROUP_COUNT, {})[0][0])
    return Overview(
        str(clinic_name), bool(is_demo), str(tz), today, tuple(groups_today), open_meetings, follow_ups, total,
        due_total,
    )


def _awaiting_cosign(rows: Rows, now: dt.datetime) -> tuple[OpenMeeting, ...]:
    """Signed meetings that needed a co-signature when signed and have none yet."""
    if not int(rows(_COSIGNERS_NEEDED, {"yes": True})[0][0]):
        return ()  # the usual case: nobody needs one, so no scan of every signed meeting
    return tuple(
        OpenMeeting(
            _uuid(mid), _uuid(gid), str(name), _date(day), AWAITING_COSIGN, str(step or ""),
            round((now - _datetime(end)).total_seconds() / 3600, 1),
        )
        for mid, gid, name, day, step, end in rows(_AWAITING_COSIGN, {"signed": MeetingStatus.signed.value, "yes": True})
    )


@dataclass(frozen=True)
class _Schedule:
    weekdays: list[str]
    start_time: str
    duration_minutes: int
    start_date: dt.date | None
    end_date: dt.date | None


def _sqlite_params(params: dict[str, Any]) -> dict[str, Any]:
    """Dates as SQLite stores them (ISO text), without relying on sqlite3's deprecated adapters."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}


# Values come back typed from PostgreSQL and as stored text from SQLite: accept both.
def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=str(value))


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _json_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value or []]


SIGN_WITHIN_HOURS = 48
"""A meeting still unsigned this long after its scheduled end is overdue."""

STATUS_WORDS = {
    "not started": "not started",
    MeetingStatus.draft.value: "not started",
    MeetingStatus.in_progress.value: "in progress",
    MeetingStatus.completed.value: "to sign",
    MeetingStatus.signed.value: "signed",
    AWAITING_COSIGN: "awaiting co-signature",
}


def status_text(status: str) -> str:
    """A meeting status in words (the screens never show status by colour alone)."""
    return STATUS_WORDS.get(status, status.replace("_", " "))


def describe_age(hours_since_end: float) -> str:
    """How long ago a meeting's scheduled end was: "running", "3 h", "1 day", "3 days · OVERDUE"."""
    if hours_since_end < 0:
        return "running"
    if hours_since_end < 1:
        return "< 1 h"
    if hours_since_end < 24:
        return f"{int(hours_since_end)} h"
    days = int(hours_since_end // 24)
    text = f"{days} day" if days == 1 else f"{days} days"
    if hours_since_end > SIGN_WITHIN_HOURS:
        text += " · OVERDUE"
    return text


def is_overdue(hours_since_end: float) -> bool:
    return hours_since_end > SIGN_WITHIN_HOURS
