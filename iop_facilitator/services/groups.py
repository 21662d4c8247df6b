"""Groups: their schedule, default facilitators and current roster."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from iop_facilitator.enums import WEEKDAYS, Audience, Enrollment, GroupStatus, GroupType, LevelOfCare, Modality
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import Group, GroupEnrollment, GroupFacilitator, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.resolve import resolve
from iop_facilitator.services.text import clean_line

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_weekdays(value: str | Iterable[str]) -> list[str]:
    """``"mon,wed,fri"`` (or a list) -> ``["mon", "wed", "fri"]`` in week order."""
    items = value.replace(" ", ",").split(",") if isinstance(value, str) else list(value)
    days = set()
    for item in items:
        key = item.strip().lower()[:3]
        if not key:
            continue
        if key not in WEEKDAYS:
            raise InvalidInput(f"unknown weekday {item.strip()!r}; use mon,tue,wed,thu,fri,sat,sun")
        days.add(key)
    return [d for d in WEEKDAYS if d in days]


def parse_start_time(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match:
        raise InvalidInput(f"start time {value!r} is not HH:MM (24-hour)")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def add_group(
    session: Session,
    name: str,
    *,
    group_type: GroupType = GroupType.process,
    weekdays: str | Sequence[str] = (),
    start_time: str = "09:00",
    duration_minutes: int = 180,
    enrollment: Enrollment = Enrollment.open,
    level_of_care: LevelOfCare = LevelOfCare.IOP,
    audience: Audience = Audience.adult,
    modality: Modality = Modality.in_person,
    location: str = "",
    capacity: int = 15,
    start_date: dt.date | None = None,
    facilitators: Sequence[Staff] = (),
) -> Group:
    name = clean_line(name)
    if not name:
        raise InvalidInput("a group needs a name")
    if not 0 < duration_minutes <= 720:
        raise InvalidInput("a group's length must be between 1 and 720 minutes")
    if capacity < 1:
        raise InvalidInput("a group's capacity must be at least 1")
    group = Group(
        name=name,
        group_type=GroupType(group_type),
        weekdays=parse_weekdays(weekdays),
        start_time=parse_start_time(start_time),
        duration_minutes=duration_minutes,
        enrollment=Enrollment(enrollment),
        level_of_care=LevelOfCare(level_of_care),
        audience=Audience(audience),
        modality=Modality(modality),
        location=clean_line(location),
        capacity=capacity,
        start_date=start_date,
    )
    session.add(group)
    session.flush()
    set_facilitators(session, group, facilitators)
    audit.record(session, "group.add", record_type="group", record_id=group.id)
    return group


def set_facilitators(session: Session, group: Group, people: Sequence[Staff]) -> None:
    """Make ``people`` the group's default facilitators, the first one leading."""
    for old in session.exec(select(GroupFacilitator).where(GroupFacilitator.group_id == group.id)):
        session.delete(old)
    session.flush()
    seen: set[uuid.UUID] = set()
    for index, person in enumerate(people):
        if person.id in seen:
            continue
        seen.add(person.id)
        session.add(GroupFacilitator(group_id=group.id, staff_id=person.id, is_lead=index == 0))
    session.flush()


def facilitators_of(session: Session, group: Group) -> list[Staff]:
    rows = session.exec(
        select(Staff, GroupFacilitator)
        .join(GroupFacilitator, col(GroupFacilitator.staff_id) == col(Staff.id))
        .where(GroupFacilitator.group_id == group.id)
        .order_by(col(GroupFacilitator.is_lead).desc(), col(Staff.name))
    )
    return [person for person, _link in rows]


def list_groups(session: Session, status: GroupStatus | None = None) -> list[Group]:
    query = select(Group).order_by(col(Group.name))
    if status is not None:
        query = query.where(Group.status == status)
    return list(session.exec(query))


def enrolled_counts(session: Session, on: dt.date) -> dict[uuid.UUID, int]:
    """How many members each group has enrolled on day ``on``."""
    rows = session.exec(
        select(GroupEnrollment.group_id, func.count())
        .where(col(GroupEnrollment.start_date) <= on)
        .where((col(GroupEnrollment.exit_date).is_(None)) | (col(GroupEnrollment.exit_date) > on))
        .group_by(col(GroupEnrollment.group_id))
    )
    return {group_id: count for group_id, count in rows}


def resolve_group(session: Session, ref: str) -> Group:
    return resolve(session, Group, ref, name_field="name", kind="group")


def schedule_text(group: Group) -> str:
    days = ",".join(group.weekdays) if group.weekdays else "unscheduled"
    return f"{days} {group.start_time} ({group.duration_minutes} min)"
