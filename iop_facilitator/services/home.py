"""What the home screen shows: today's groups, unsigned meetings, follow-ups due."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iop_facilitator.clock import local_today, to_local, utcnow
from iop_facilitator.enums import GroupStatus, MeetingStatus
from iop_facilitator.models import FollowUp, Group, GroupMeeting, Member
from iop_facilitator.services.groups import enrolled_counts
from iop_facilitator.services.meetings import meets_on, scheduled_times
from iop_facilitator.services.settings import get_settings


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
    follow_ups: tuple[DueFollowUp, ...]
    group_count: int


def overview(session: Session, *, now: dt.datetime | None = None, horizon_days: int = 1) -> Overview:
    program = get_settings(session)
    tz = program.timezone
    now = now or utcnow()
    today = to_local(now, tz).date() if now else local_today(tz)
    groups = list(session.exec(select(Group).where(Group.status == GroupStatus.active).order_by(col(Group.start_time), col(Group.name))))
    counts = enrolled_counts(session, today)
    todays = {
        m.group_id: m
        for m in session.exec(select(GroupMeeting).where(GroupMeeting.local_date == today))
    }
    groups_today = []
    for group in groups:
        if not meets_on(group, today) and group.id not in todays:
            continue
        start, end = scheduled_times(group, today, tz)
        meeting = todays.get(group.id)
        groups_today.append(
            TodayGroup(
                group.id,
                group.name,
                to_local(start, tz).format("HH:mm"),
                to_local(end, tz).format("HH:mm"),
                counts.get(group.id, 0),
                meeting.id if meeting else None,
                meeting.status.value if meeting else "not started",
            )
        )
    open_rows = session.exec(
        select(GroupMeeting, Group.name)
        .join(Group, col(Group.id) == col(GroupMeeting.group_id))
        .where(col(GroupMeeting.status).in_([MeetingStatus.in_progress, MeetingStatus.completed]))
        .order_by(col(GroupMeeting.scheduled_start))
    ).all()
    open_meetings = tuple(
        OpenMeeting(
            m.id, m.group_id, name, m.local_date, m.status.value, m.flow_step,
            round((now - m.scheduled_end).total_seconds() / 3600, 1),
        )
        for m, name in open_rows
    )
    due_rows = session.exec(
        select(FollowUp, Member.display_name)
        .join(Member, col(Member.id) == col(FollowUp.member_id))
        .where(col(FollowUp.done).is_(False))
        .where(col(FollowUp.due_date) <= today + dt.timedelta(days=horizon_days))
        .order_by(col(FollowUp.due_date))
    ).all()
    follow_ups = tuple(
        DueFollowUp(f.id, name, f.reason, f.due_date, bool(f.due_date and f.due_date < today)) for f, name in due_rows
    )
    total = len(list(session.exec(select(Group.id))))
    return Overview(program.clinic_name, program.is_demo, tz, today, tuple(groups_today), open_meetings, follow_ups, total)


SIGN_WITHIN_HOURS = 48
"""A meeting still unsigned this long after its scheduled end is overdue."""

STATUS_WORDS = {
    "not started": "not started",
    MeetingStatus.draft.value: "not started",
    MeetingStatus.in_progress.value: "in progress",
    MeetingStatus.completed.value: "to sign",
    MeetingStatus.signed.value: "signed",
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
