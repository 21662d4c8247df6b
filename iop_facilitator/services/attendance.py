"""Attendance policy: minutes attended, and absences against the program's limit.

The rules every view of attendance shares: the live roll call (``services.live_read``),
the member list (``services.members.member_summaries``) and the reports
(``services.reports``) count absences and flag "near" and "past" the program's limit
with these functions, so the three always agree. Who counts as attending or absent is
the vocabulary's (``enums.ATTENDED``, ``enums.ABSENT``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Session, col, select

from iop_facilitator.enums import ABSENT, ATTENDED
from iop_facilitator.models import Attendance, GroupMeeting


def absence_counts(
    session: Session, member_ids: list[uuid.UUID], *, until: dt.date, weeks: int
) -> dict[uuid.UUID, int]:
    """Absences (excused or not) per member in the ``weeks`` weeks up to ``until``, across groups."""
    out = {m: 0 for m in member_ids}
    if not member_ids:
        return out
    since = until - dt.timedelta(weeks=weeks)
    rows = session.exec(
        select(Attendance.member_id)
        .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
        .where(col(Attendance.member_id).in_(member_ids), col(Attendance.status).in_(ABSENT))
        .where(col(GroupMeeting.local_date) > since, col(GroupMeeting.local_date) <= until)
    ).all()
    for member_id in rows:
        out[member_id] += 1
    return out


def absence_flags(count: int, limit: int) -> tuple[bool, bool]:
    """(near the program's absence limit, past it) for ``count`` absences; no limit when 0."""
    return limit > 0 and count >= max(limit - 1, 1), limit > 0 and count > limit


def minutes_for(row: Attendance, meeting: GroupMeeting) -> int:
    """Minutes a member was in the room, within the meeting's actual start and stop (0 until it ends)."""
    if row.status not in ATTENDED or meeting.actual_start is None:
        return 0
    start = max(row.arrived_at or meeting.actual_start, meeting.actual_start)
    end = row.left_at or meeting.actual_end
    if end is None:
        return 0
    if meeting.actual_end is not None:
        end = min(end, meeting.actual_end)
    return max(0, int((end - start).total_seconds() // 60))
