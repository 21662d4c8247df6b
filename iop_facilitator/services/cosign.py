"""Supervisor co-signature of a signed meeting.

Interns and unlicensed staff are marked ``Staff.requires_cosign``; a meeting
they led or signed needs a supervisor's co-signature after it is signed. Any
signed meeting may be co-signed once, by an active supervisor or admin with
credentials who is not the signer. Co-signing sets only the three co-sign
columns (the database triggers allow exactly that on a signed meeting).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Session, col, select

from iop_facilitator.clock import plain_utc, utcnow
from iop_facilitator.enums import MeetingStatus, StaffRole
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import GroupMeeting, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.text import clean_line

COSIGNER_ROLES = (StaffRole.supervisor, StaffRole.admin)


def needs_cosign(session: Session, meeting: GroupMeeting) -> bool:
    """Whether the meeting needs a co-signature (whether or not it has one).

    For a signed meeting: as frozen in its snapshot when it was signed. Otherwise:
    its facilitator or signer requires one now.
    """
    from iop_facilitator.models import SignedSnapshot

    frozen = session.exec(select(SignedSnapshot.requires_cosign).where(SignedSnapshot.meeting_id == meeting.id)).first()
    if frozen is not None:
        return bool(frozen)
    ids = {i for i in (meeting.facilitator_id, meeting.signed_by_id) if i is not None}
    if not ids:
        return False
    return session.exec(
        select(Staff.id).where(col(Staff.id).in_(ids), col(Staff.requires_cosign).is_(True))
    ).first() is not None


def awaiting_cosign(session: Session, meeting: GroupMeeting) -> bool:
    """Signed, needs a co-signature, and has none yet."""
    return meeting.status == MeetingStatus.signed and meeting.cosigned_at is None and needs_cosign(session, meeting)


def awaiting_cosign_ids(session: Session, meeting_ids: list[uuid.UUID] | None = None) -> set[uuid.UUID]:
    """Ids of signed meetings still waiting for a required co-signature (optionally among ``meeting_ids``)."""
    from iop_facilitator.models import SignedSnapshot

    query = (
        select(GroupMeeting.id)
        .join(SignedSnapshot, col(SignedSnapshot.meeting_id) == col(GroupMeeting.id))
        .where(GroupMeeting.status == MeetingStatus.signed, col(GroupMeeting.cosigned_at).is_(None))
        .where(col(SignedSnapshot.requires_cosign).is_(True))
    )
    if meeting_ids is not None:
        if not meeting_ids:
            return set()
        query = query.where(col(GroupMeeting.id).in_(meeting_ids))
    return set(session.exec(query))


def can_cosign(person: Staff | None) -> bool:
    return bool(
        person is not None and person.active and person.role in COSIGNER_ROLES and clean_line(person.credentials)
    )


def may_cosign(session: Session, staff_id: uuid.UUID) -> bool:
    """Whether staff member ``staff_id`` may co-sign (:func:`can_cosign`)."""
    return can_cosign(session.get(Staff, staff_id))


def cosign(session: Session, meeting_id: uuid.UUID, cosigner_id: uuid.UUID, *, at: dt.datetime | None = None) -> GroupMeeting:
    """Co-sign a signed meeting as a supervisor (not the signer; once only).

    Runs under the meeting's write lock; freezes the co-signer's name and credentials
    (``signed_cosign``) and records ``meeting.cosign`` with that row's hash.
    """
    from iop_facilitator.services import snapshot
    from iop_facilitator.services.integrity import lock_meeting

    lock_meeting(session, meeting_id)
    meeting = session.get(GroupMeeting, meeting_id, populate_existing=True)
    if meeting is None:
        raise NotFound("that meeting no longer exists")
    if meeting.status != MeetingStatus.signed:
        raise Conflict("only a signed meeting can be co-signed; sign it first")
    if meeting.cosigned_at is not None or meeting.cosigned_by_id is not None:
        raise Conflict("this meeting is already co-signed")
    person = session.get(Staff, cosigner_id)
    if person is None:
        raise NotFound("the co-signer is not a staff member of this program")
    if not person.active:
        raise Conflict("the co-signer is no longer active staff")
    if person.role not in COSIGNER_ROLES:
        raise Conflict("only a supervisor or an admin can co-sign")
    if not clean_line(person.credentials):
        raise InvalidInput("the co-signer has no credentials on file; add them before co-signing")
    if person.id == meeting.signed_by_id:
        raise Conflict("the signer cannot co-sign their own note")
    when = plain_utc(at or utcnow())
    frozen = snapshot.take_cosign(session, meeting, person, when, clean_line(person.credentials))
    session.flush()  # the frozen co-signer first: the meeting's lock trigger requires it
    meeting.cosigned_by_id = person.id
    meeting.cosigned_at = when
    meeting.cosigner_credentials = frozen.cosigner_credentials
    session.add(meeting)
    session.flush()
    audit.record(
        session, "meeting.cosign", record_type="meeting", record_id=meeting.id, cosigner=person.id,
        cosign_hash=frozen.cosign_hash,
    )
    return meeting
