"""Addenda: corrections to a signed meeting, written beside the untouched original.

A signed note is never edited or deleted (CMS, HIPAA integrity): a correction is
a separate, dated addendum with its author, the author's credentials, a reason
and the text, optionally attached to one member's part of the meeting. Addenda
are append-only (the database refuses updates and deletes once the integrity
triggers are installed). An unsigned meeting has no addenda: edit its draft.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iop_facilitator.clock import plain_utc, utcnow
from iop_facilitator.enums import MeetingStatus
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import Addendum, Attendance, GroupMeeting, Member, ProgressNote, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.text import clean, clean_line

MAX_REASON = 500
MAX_TEXT = 20000


@dataclass(frozen=True)
class AddendumView:
    id: uuid.UUID
    meeting_id: uuid.UUID
    member_id: uuid.UUID | None
    member_name: str | None
    author_id: uuid.UUID | None
    author: str
    author_credentials: str
    reason: str
    text: str
    created_at: dt.datetime


def add_addendum(
    session: Session,
    meeting_id: uuid.UUID,
    author_id: uuid.UUID,
    *,
    reason: str,
    text: str,
    member_id: uuid.UUID | None = None,
    at: dt.datetime | None = None,
) -> Addendum:
    """Append a correction to a signed meeting (refused on a draft: edit the draft instead)."""
    meeting = session.get(GroupMeeting, meeting_id)
    if meeting is None:
        raise NotFound("that meeting no longer exists")
    if meeting.status != MeetingStatus.signed:
        raise Conflict("this meeting is not signed yet: edit the draft instead of adding an addendum")
    author = session.get(Staff, author_id)
    if author is None:
        raise NotFound("the author is not a staff member of this program")
    if not author.active:
        raise Conflict("the author is no longer active staff")
    credentials = clean_line(author.credentials)
    if not credentials:
        raise InvalidInput("the author has no credentials on file; add them before writing an addendum")
    why = clean_line(reason)
    body = clean(text).strip()
    if not why:
        raise InvalidInput("an addendum needs a reason (why the record is corrected)")
    if not body:
        raise InvalidInput("an addendum needs its text")
    if len(why) > MAX_REASON:
        raise InvalidInput(f"an addendum's reason is at most {MAX_REASON} characters")
    if len(body) > MAX_TEXT:
        raise InvalidInput(f"an addendum's text is at most {MAX_TEXT} characters")
    if member_id is not None:
        part = session.exec(
            select(Attendance.id).where(Attendance.meeting_id == meeting_id, Attendance.member_id == member_id)
        ).first() or session.exec(
            select(ProgressNote.id).where(ProgressNote.meeting_id == meeting_id, ProgressNote.member_id == member_id)
        ).first()
        if part is None:
            raise InvalidInput("that member has no part in this meeting")
    row = Addendum(
        meeting_id=meeting_id,
        member_id=member_id,
        author_id=author.id,
        author_credentials=credentials,
        reason=why,
        text=body,
        created_at=plain_utc(at or utcnow()),
    )
    session.add(row)
    session.flush()
    from iop_facilitator.services.canonical import addendum_hash

    audit.record(
        session, "meeting.addendum", record_type="addendum", record_id=row.id,
        meeting=meeting_id, member=member_id, author=author.id,
        addendum_hash=addendum_hash({name: getattr(row, name) for name in Addendum.model_fields}),
    )
    return row


def list_addenda(session: Session, meeting_id: uuid.UUID) -> list[AddendumView]:
    """A meeting's addenda, oldest first, with author and member names (plain values)."""
    rows = session.exec(
        select(Addendum, Staff.name, Member.display_name)
        .join(Staff, col(Staff.id) == col(Addendum.author_id), isouter=True)
        .join(Member, col(Member.id) == col(Addendum.member_id), isouter=True)
        .where(Addendum.meeting_id == meeting_id)
        .order_by(col(Addendum.created_at), col(Addendum.id))
    ).all()
    return [
        AddendumView(
            a.id, a.meeting_id, a.member_id, member, a.author_id, author or "?", a.author_credentials,
            a.reason, a.text, a.created_at,
        )
        for a, author, member in rows
    ]
