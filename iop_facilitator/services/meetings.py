"""Group meetings (therapy sessions): listing and scheduling."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from iop_facilitator.clock import local_today
from iop_facilitator.enums import ABSENT, ATTENDED, AttendanceStatus, MeetingStatus
from iop_facilitator.errors import Conflict
from iop_facilitator.models import Attendance, Group, GroupMeeting, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.groups import facilitators_of
from iop_facilitator.services.schedule import meets_on, scheduled_times  # noqa: F401  (re-exported)
from iop_facilitator.services.settings import get_settings


def create_meeting(session: Session, group: Group, local_date: dt.date, *, facilitator: Staff | None = None) -> GroupMeeting:
    """A draft meeting of ``group`` on ``local_date`` at its scheduled time."""
    settings = get_settings(session)
    start, end = scheduled_times(group, local_date, settings.timezone)
    clash = session.exec(
        select(GroupMeeting).where(GroupMeeting.group_id == group.id, GroupMeeting.scheduled_start == start)
    ).first()
    if clash is not None:
        raise Conflict(f"{group.name} already has a meeting on {local_date}")
    people = facilitators_of(session, group)
    lead = facilitator or (people[0] if people else None)
    co = next((p for p in people if lead is None or p.id != lead.id), None)
    meeting = GroupMeeting(
        group_id=group.id,
        local_date=local_date,
        scheduled_start=start,
        scheduled_end=end,
        modality=group.modality,
        location=group.location,
        facilitator_id=lead.id if lead else None,
        co_facilitator_id=co.id if co else None,
    )
    session.add(meeting)
    session.flush()
    audit.record(session, "meeting.create", record_type="meeting", record_id=meeting.id, group=group.id)
    return meeting


@dataclass
class MeetingRow:
    meeting: GroupMeeting
    group_name: str
    facilitator: str | None
    present: int
    absent: int


def list_meetings(
    session: Session,
    *,
    group: Group | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int | None = None,
) -> list[MeetingRow]:
    """Meetings (newest first) with their group, facilitator and attendance counts.

    Filter first, count after: the meetings are chosen on the meeting table's indexes
    (date, group and start, start) and each one's attendance is counted by a correlated
    subquery on the attendance table's (meeting, member) index, so a day's list costs a
    day's rows whatever the clinic's history.
    """
    def count(statuses: tuple[AttendanceStatus, ...]) -> Any:
        return (
            select(func.count())
            .select_from(Attendance)
            .where(col(Attendance.meeting_id) == col(GroupMeeting.id), col(Attendance.status).in_(statuses))
            .correlate(GroupMeeting)
            .scalar_subquery()
        )

    query = (
        select(GroupMeeting, Group.name, Staff.name, count(ATTENDED), count(ABSENT))
        .join(Group, col(Group.id) == col(GroupMeeting.group_id))
        .join(Staff, col(Staff.id) == col(GroupMeeting.facilitator_id), isouter=True)
        .order_by(col(GroupMeeting.scheduled_start).desc(), col(GroupMeeting.id).desc())
    )
    if group is not None:
        query = query.where(GroupMeeting.group_id == group.id)
    if since is not None:
        query = query.where(col(GroupMeeting.local_date) >= since)
    if until is not None:
        query = query.where(col(GroupMeeting.local_date) <= until)
    if limit is not None:
        query = query.limit(limit)
    return [
        MeetingRow(meeting, group_name, staff_name, int(present or 0), int(absent_ or 0))
        for meeting, group_name, staff_name, present, absent_ in session.exec(query)
    ]


def open_meetings(session: Session) -> list[GroupMeeting]:
    """Meetings not yet signed (in progress or waiting for a signature)."""
    return list(
        session.exec(
            select(GroupMeeting)
            .where(col(GroupMeeting.status).in_([MeetingStatus.in_progress, MeetingStatus.completed]))
            .order_by(col(GroupMeeting.scheduled_start))
        )
    )


def in_progress_today(session: Session) -> uuid.UUID | None:
    """Today's meeting under way (in the program's timezone), the latest touched; None when none is."""
    today = local_today(get_settings(session).timezone)
    return session.exec(
        select(GroupMeeting.id)
        .where(GroupMeeting.status == MeetingStatus.in_progress, GroupMeeting.local_date == today)
        .order_by(col(GroupMeeting.updated_at).desc())
    ).first()


def signer_credentials(session: Session, meeting_id: uuid.UUID) -> str:
    """The credentials a signed meeting was signed with ("" when none or not signed)."""
    meeting = session.get(GroupMeeting, meeting_id)
    return (meeting.signer_credentials or "") if meeting is not None else ""


def resolve_meeting(session: Session, ref: str) -> GroupMeeting:
    """The meeting ``ref`` names: its full id, or an id prefix of at least six hex digits (as lists show)."""
    from iop_facilitator.errors import Ambiguous, NotFound
    from iop_facilitator.services.resolve import by_full_id, id_prefix, ids_starting

    text = (ref or "").strip()
    if not text:
        raise NotFound("no meeting given")
    found = by_full_id(session, GroupMeeting, text, kind="meeting")
    if found is not None:
        return found
    prefix = id_prefix(text)
    if prefix is None:
        raise NotFound(f"{text!r} is not a meeting id (use the id shown by 'iop meeting list')")
    matches = ids_starting(session, GroupMeeting, prefix)
    if not matches:
        raise NotFound(f"no meeting with id {text}")
    if len(matches) > 1:
        raise Ambiguous("meeting", text, sorted((str(m), str(m)[:8]) for m in matches))
    return session.get_one(GroupMeeting, matches[0])
