"""Groups: their schedule, default facilitators and current roster."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from iop_facilitator.clock import local_today
from iop_facilitator.enums import (
    WEEKDAYS,
    Audience,
    Enrollment,
    GroupStatus,
    GroupType,
    LevelOfCare,
    Modality,
)
from iop_facilitator.errors import Conflict, InvalidInput
from iop_facilitator.models import Group, GroupEnrollment, GroupFacilitator, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.resolve import as_opened, resolve, row
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
    facilitators: Sequence[Staff | uuid.UUID] = (),
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
    set_facilitators(session, group, staff_rows(session, facilitators))
    audit.record(session, "group.add", record_type="group", record_id=group.id)
    return group


def staff_rows(session: Session, people: Sequence[Staff | uuid.UUID]) -> list[Staff]:
    """Staff records for records or ids (a screen passes ids)."""
    return [row(session, Staff, person, what="staff member") for person in people]


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


# --------------------------------------------------------------------------- editing and the groups view

MAX_GROUP_NAME = 200
MAX_LOCATION = 200


def update_group(
    session: Session,
    group_id: uuid.UUID,
    *,
    name: str | None = None,
    group_type: GroupType | None = None,
    weekdays: str | Sequence[str] | None = None,
    start_time: str | None = None,
    duration_minutes: int | None = None,
    level_of_care: LevelOfCare | None = None,
    audience: Audience | None = None,
    enrollment: Enrollment | None = None,
    capacity: int | None = None,
    status: GroupStatus | None = None,
    modality: Modality | None = None,
    location: str | None = None,
    facilitators: Sequence[Staff | uuid.UUID] | None = None,
    expected_version: int | None = None,
) -> Group:
    """Change a group; ``None`` leaves a field as it is.

    The same rules as :func:`add_group` apply, and the capacity cannot drop
    below the number of members enrolled now. A new schedule applies to
    meetings created from now on; meetings already on record keep their times.
    ``expected_version`` (the version the editor read) refuses to overwrite a
    change made elsewhere in the meantime.
    """
    group = as_opened(session, Group, group_id, expected_version, what="group")
    changes: dict[str, object] = {}
    if name is not None:
        text = clean_line(name)
        if not text:
            raise InvalidInput("a group needs a name")
        if len(text) > MAX_GROUP_NAME:
            raise InvalidInput(f"a group's name is at most {MAX_GROUP_NAME} characters")
        changes["name"] = text
    if group_type is not None:
        changes["group_type"] = GroupType(group_type)
    if weekdays is not None:
        changes["weekdays"] = parse_weekdays(weekdays)
    if start_time is not None:
        changes["start_time"] = parse_start_time(start_time)
    if duration_minutes is not None:
        if not 0 < duration_minutes <= 720:
            raise InvalidInput("a group's length must be between 1 and 720 minutes")
        changes["duration_minutes"] = duration_minutes
    if level_of_care is not None:
        changes["level_of_care"] = LevelOfCare(level_of_care)
    if audience is not None:
        changes["audience"] = Audience(audience)
    if enrollment is not None:
        changes["enrollment"] = Enrollment(enrollment)
    if capacity is not None:
        if capacity < 1:
            raise InvalidInput("a group's capacity must be at least 1")
        enrolled = session.exec(
            select(func.count())
            .select_from(GroupEnrollment)
            .where(GroupEnrollment.group_id == group.id, col(GroupEnrollment.exit_date).is_(None))
        ).one()
        if capacity < enrolled:
            raise Conflict(f"{group.name} has {enrolled} members enrolled; the capacity cannot be lower")
        changes["capacity"] = capacity
    if status is not None:
        changes["status"] = GroupStatus(status)
    if modality is not None:
        changes["modality"] = Modality(modality)
    if location is not None:
        text = clean_line(location)
        if len(text) > MAX_LOCATION:
            raise InvalidInput(f"a location is at most {MAX_LOCATION} characters")
        changes["location"] = text
    changed = sorted(key for key, value in changes.items() if getattr(group, key) != value)
    for key in changed:
        setattr(group, key, changes[key])
    if changed:
        session.add(group)
        session.flush()
    if facilitators is not None:
        facilitators = staff_rows(session, facilitators)
        wanted = [person.id for person in _unique(facilitators)]
        if wanted != [person.id for person in facilitators_of(session, group)]:
            set_facilitators(session, group, facilitators)
            changed.append("facilitators")
    if changed:
        audit.record(session, "group.update", record_type="group", record_id=group.id, fields=changed)
    return group


def _unique(people: Sequence[Staff]) -> list[Staff]:
    seen: set[uuid.UUID] = set()
    out = []
    for person in people:
        if person.id not in seen:
            seen.add(person.id)
            out.append(person)
    return out


@dataclass(frozen=True)
class GroupSummary:
    """One group as the groups screen shows it (plain values, raw user text)."""

    group_id: uuid.UUID
    name: str
    group_type: str
    weekdays: tuple[str, ...]
    start_time: str
    duration_minutes: int
    level_of_care: str
    audience: str
    enrollment: str
    capacity: int
    status: str
    modality: str
    location: str
    enrolled: int  # members enrolled on ``on``
    facilitators: tuple[tuple[uuid.UUID, str], ...]  # lead first
    version: int


def group_summaries(session: Session, *, on: dt.date) -> list[GroupSummary]:
    """Every group (any status) with its enrolled count and default facilitators, by name."""
    groups = list_groups(session)
    counts = enrolled_counts(session, on)
    people: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {g.id: [] for g in groups}
    for link, person in session.exec(
        select(GroupFacilitator, Staff)
        .join(Staff, col(Staff.id) == col(GroupFacilitator.staff_id))
        .order_by(col(GroupFacilitator.is_lead).desc(), col(Staff.name))
    ):
        if link.group_id in people:
            people[link.group_id].append((person.id, person.name))
    return [
        GroupSummary(
            group_id=g.id,
            name=g.name,
            group_type=g.group_type.value,
            weekdays=tuple(g.weekdays or ()),
            start_time=g.start_time,
            duration_minutes=g.duration_minutes,
            level_of_care=g.level_of_care.value,
            audience=g.audience.value,
            enrollment=g.enrollment.value,
            capacity=g.capacity,
            status=g.status.value,
            modality=g.modality.value,
            location=g.location,
            enrolled=counts.get(g.id, 0),
            facilitators=tuple(people[g.id]),
            version=g.version,
        )
        for g in groups
    ]


@dataclass(frozen=True)
class GroupsView:
    """The groups screen's read model: every group as of today, and who may facilitate."""

    today: dt.date
    groups: tuple[GroupSummary, ...]
    staff: tuple[tuple[uuid.UUID, str], ...]  # active staff (id, "Name, CRED"), by name


def groups_view(session: Session) -> GroupsView:
    from iop_facilitator.services.settings import get_settings
    from iop_facilitator.services.staff import list_staff, signature_line

    today = local_today(get_settings(session).timezone)
    return GroupsView(
        today=today,
        groups=tuple(group_summaries(session, on=today)),
        staff=tuple((p.id, signature_line(p)) for p in list_staff(session)),
    )
