"""Staff: the people who lead groups and sign notes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iop_facilitator.enums import StaffRole
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import GroupMeeting, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.resolve import as_opened, resolve
from iop_facilitator.services.text import clean_line


def add_staff(
    session: Session,
    name: str,
    credentials: str = "",
    role: StaffRole = StaffRole.facilitator,
    *,
    requires_cosign: bool = False,
) -> Staff:
    """A new staff member; ``requires_cosign`` marks interns and unlicensed staff (see services.cosign)."""
    name = clean_line(name)
    if not name:
        raise InvalidInput("a staff member needs a name")
    person = Staff(
        name=name, credentials=clean_line(credentials), role=StaffRole(role), requires_cosign=bool(requires_cosign)
    )
    session.add(person)
    session.flush()
    audit.record(session, "staff.add", record_type="staff", record_id=person.id)
    return person


def list_staff(session: Session, include_inactive: bool = False) -> list[Staff]:
    query = select(Staff).order_by(col(Staff.name))
    if not include_inactive:
        query = query.where(col(Staff.active).is_(True))
    return list(session.exec(query))


def resolve_staff(session: Session, ref: str) -> Staff:
    return resolve(session, Staff, ref, name_field="name", kind="staff member")


def signature_line(person: Staff) -> str:
    return f"{person.name}, {person.credentials}" if person.credentials else person.name


@dataclass(frozen=True)
class Person:
    """A staff member as a screen shows them: who signs or co-signs, with what credentials."""

    id: uuid.UUID
    name: str
    credentials: str


def person(session: Session, staff_id: uuid.UUID | None) -> Person | None:
    found = session.get(Staff, staff_id) if staff_id is not None else None
    return Person(found.id, found.name, found.credentials) if found is not None else None


def signer(session: Session, meeting_id: uuid.UUID, me: uuid.UUID | None) -> Person | None:
    """Who signs ``meeting_id``: this laptop's facilitator (``me``), else the meeting's facilitator."""
    found = person(session, me)
    if found is None:
        meeting = session.get(GroupMeeting, meeting_id)
        found = person(session, meeting.facilitator_id) if meeting is not None else None
    return found


MAX_STAFF_NAME = 200
MAX_CREDENTIALS = 100


def update_staff(
    session: Session,
    staff_id: uuid.UUID,
    *,
    name: str | None = None,
    credentials: str | None = None,
    role: StaffRole | None = None,
    active: bool | None = None,
    expected_version: int | None = None,
    requires_cosign: bool | None = None,
) -> Staff:
    """Change a staff member's name, credentials (e.g. "LCSW"), role or active flag; ``None`` keeps a field.

    Credentials may be emptied (a staff member without them cannot sign notes).
    ``expected_version`` refuses to overwrite a change made elsewhere meanwhile.
    """
    person = as_opened(session, Staff, staff_id, expected_version, what="staff member")
    changes: dict[str, object] = {}
    if name is not None:
        text = clean_line(name)
        if not text:
            raise InvalidInput("a staff member needs a name")
        if len(text) > MAX_STAFF_NAME:
            raise InvalidInput(f"a staff member's name is at most {MAX_STAFF_NAME} characters")
        changes["name"] = text
    if credentials is not None:
        text = clean_line(credentials)
        if len(text) > MAX_CREDENTIALS:
            raise InvalidInput(f"credentials are at most {MAX_CREDENTIALS} characters")
        changes["credentials"] = text
    if role is not None:
        changes["role"] = StaffRole(role)
    if active is not None:
        changes["active"] = bool(active)
    if requires_cosign is not None:
        changes["requires_cosign"] = bool(requires_cosign)
    changed = sorted(key for key, value in changes.items() if getattr(person, key) != value)
    for key in changed:
        setattr(person, key, changes[key])
    if changed:
        session.add(person)
        session.flush()
        audit.record(session, "staff.update", record_type="staff", record_id=person.id, fields=changed)
    return person
