"""Staff: the people who lead groups and sign notes."""

from __future__ import annotations

from sqlmodel import Session, col, select

from iop_facilitator.enums import StaffRole
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import Staff
from iop_facilitator.services import audit
from iop_facilitator.services.resolve import resolve
from iop_facilitator.services.text import clean_line


def add_staff(session: Session, name: str, credentials: str = "", role: StaffRole = StaffRole.facilitator) -> Staff:
    name = clean_line(name)
    if not name:
        raise InvalidInput("a staff member needs a name")
    person = Staff(name=name, credentials=clean_line(credentials), role=StaffRole(role))
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
