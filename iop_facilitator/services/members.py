"""Members: display names, enrollment in groups, exits and treatment-plan goals."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iop_facilitator.clock import local_today
from iop_facilitator.db.transactions import lock_row
from iop_facilitator.enums import Enrollment, ExitReason, GroupStatus, MemberStatus
from iop_facilitator.errors import Conflict, InvalidInput
from iop_facilitator.models import Goal, Group, GroupEnrollment, GroupMeeting, Member
from iop_facilitator.services import audit
from iop_facilitator.services.attendance import absence_counts
from iop_facilitator.services.resolve import as_opened, resolve, row
from iop_facilitator.services.settings import get_settings
from iop_facilitator.services.text import clean, clean_line

MAX_GOALS = 3
MAX_DISPLAY_NAME = 40


def normalise_display_name(raw: str) -> str:
    """Preferred first name plus last initial, e.g. ``"Jordan M."``.

    Full surnames are refused: the display name is shown to the whole room.
    """
    name = clean_line(raw)
    if not name:
        raise InvalidInput("a member needs a display name (preferred first name and last initial)")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"a display name is at most {MAX_DISPLAY_NAME} characters")
    parts = name.split(" ")
    if len(parts) > 1:
        last = parts[-1].rstrip(".")
        if len(last) > 2:
            raise InvalidInput(
                "use the preferred first name and last initial only, e.g. "
                f"{' '.join(parts[:-1])} {last[0].upper()}."
            )
        if len(last) == 1:
            parts[-1] = last.upper() + "."
    return " ".join(parts)


def add_member(
    session: Session,
    display_name: str,
    *,
    external_chart_id: str | None = None,
    goals: Sequence[str] = (),
) -> Member:
    chart = clean_line(external_chart_id) or None
    if chart is not None:
        clash = session.exec(select(Member).where(Member.external_chart_id == chart)).first()
        if clash is not None:
            raise Conflict(f"chart id {chart} already belongs to member {clash.id.hex[:8]}")
    member = Member(display_name=normalise_display_name(display_name), external_chart_id=chart)
    session.add(member)
    session.flush()
    if goals:
        set_goals(session, member, goals, audit_it=False)
    audit.record(session, "member.add", record_type="member", record_id=member.id)
    return member


def set_goals(
    session: Session, member: Member | uuid.UUID, goals: Sequence[str], *, audit_it: bool = True
) -> list[Goal]:
    """Replace the member's active treatment-plan goals (one to three)."""
    member = row(session, Member, member, what="member")
    texts = [clean(g).strip() for g in goals if clean(g).strip()]
    if not 1 <= len(texts) <= MAX_GOALS:
        raise InvalidInput(f"a member has one to {MAX_GOALS} treatment-plan goals")
    existing = {g.position: g for g in session.exec(select(Goal).where(Goal.member_id == member.id))}
    result = []
    for position in range(1, MAX_GOALS + 1):
        goal = existing.get(position)
        text = texts[position - 1] if position <= len(texts) else None
        if text is None:
            if goal is not None and goal.active:
                goal.active = False
                session.add(goal)
            continue
        if goal is None:
            goal = Goal(member_id=member.id, position=position, text=text)
        else:
            goal.text, goal.active = text, True
        session.add(goal)
        result.append(goal)
    session.flush()
    if audit_it:
        audit.record(session, "member.goals", record_type="member", record_id=member.id, count=len(result))
    return result


def goals_of(session: Session, member: Member) -> list[Goal]:
    return list(
        session.exec(
            select(Goal).where(Goal.member_id == member.id, col(Goal.active).is_(True)).order_by(col(Goal.position))
        )
    )


def active_enrollment(session: Session, member: Member, group: Group) -> GroupEnrollment | None:
    return session.exec(
        select(GroupEnrollment).where(
            GroupEnrollment.member_id == member.id,
            GroupEnrollment.group_id == group.id,
            col(GroupEnrollment.exit_date).is_(None),
        )
    ).first()


def enroll(
    session: Session, member: Member | uuid.UUID, group: Group | uuid.UUID, start_date: dt.date
) -> GroupEnrollment:
    member = row(session, Member, member, what="member")
    group = row(session, Group, group, what="group")
    # Checks (already enrolled, capacity) and the insert under the group's lock: two staff
    # enrolling into the last place at once get one enrollment and one "full".
    lock_row(session, Group, group.id)
    if member.status == MemberStatus.discharged:
        raise Conflict("this member is discharged; readmit them before enrolling")
    if active_enrollment(session, member, group) is not None:
        raise Conflict(f"the member is already enrolled in {group.name}")
    current = len(roster(session, group, start_date))
    if current >= group.capacity:
        raise Conflict(f"{group.name} is full ({group.capacity} members)")
    if group.enrollment == Enrollment.closed:
        started = session.exec(
            select(GroupMeeting.id).where(GroupMeeting.group_id == group.id, col(GroupMeeting.local_date) < start_date)
        ).first()
        if started is not None:
            raise Conflict(f"{group.name} has closed enrollment and has already started")
    enrollment = GroupEnrollment(group_id=group.id, member_id=member.id, start_date=start_date)
    session.add(enrollment)
    session.flush()
    audit.record(session, "member.enroll", record_type="enrollment", record_id=enrollment.id, group=group.id, member=member.id)
    return enrollment


def discharge(
    session: Session,
    member: Member | uuid.UUID,
    *,
    reason: ExitReason,
    on: dt.date,
    note: str = "",
    group: Group | uuid.UUID | None = None,
) -> list[GroupEnrollment]:
    """End the member's enrollment in ``group``, or in every group (a discharge) when no group is given."""
    member = row(session, Member, member, what="member")
    group = None if group is None else row(session, Group, group, what="group")
    query = select(GroupEnrollment).where(
        GroupEnrollment.member_id == member.id, col(GroupEnrollment.exit_date).is_(None)
    )
    if group is not None:
        query = query.where(GroupEnrollment.group_id == group.id)
    open_ones = list(session.exec(query))
    if group is not None and not open_ones:
        raise Conflict(f"the member is not enrolled in {group.name}")
    for enrollment in open_ones:
        if on < enrollment.start_date:
            raise InvalidInput(f"the exit date {on} is before the enrollment began ({enrollment.start_date})")
        enrollment.exit_date = on
        enrollment.exit_reason = ExitReason(reason)
        enrollment.exit_note = clean(note)
        session.add(enrollment)
    if group is None:
        member.status = MemberStatus.discharged
        session.add(member)
    session.flush()
    audit.record(
        session,
        "member.discharge" if group is None else "member.exit_group",
        record_type="member",
        record_id=member.id,
        reason=str(reason),
        enrollments=[e.id for e in open_ones],
    )
    return open_ones


def roster(session: Session, group: Group, on: dt.date) -> list[Member]:
    """Members enrolled in ``group`` on day ``on``, by display name."""
    return list(
        session.exec(
            select(Member)
            .join(GroupEnrollment, col(GroupEnrollment.member_id) == col(Member.id))
            .where(
                GroupEnrollment.group_id == group.id,
                col(GroupEnrollment.start_date) <= on,
                (col(GroupEnrollment.exit_date).is_(None)) | (col(GroupEnrollment.exit_date) > on),
            )
            .order_by(col(Member.display_name))
        )
    )


@dataclass
class MemberRow:
    member: Member
    groups: list[str]


def list_members(
    session: Session, *, group: Group | None = None, include_discharged: bool = False, on: dt.date | None = None
) -> list[MemberRow]:
    """Members with the names of the groups they are currently enrolled in."""
    if group is not None:
        members = roster(session, group, on or dt.date.today()) if on else _open_roster(session, group)
    else:
        query = select(Member).order_by(col(Member.display_name))
        if not include_discharged:
            query = query.where(Member.status != MemberStatus.discharged)
        members = list(session.exec(query))
    ids = [m.id for m in members]
    groups: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        for member_id, name in session.exec(
            select(GroupEnrollment.member_id, Group.name)
            .join(Group, col(Group.id) == col(GroupEnrollment.group_id))
            .where(col(GroupEnrollment.member_id).in_(ids), col(GroupEnrollment.exit_date).is_(None))
            .order_by(col(Group.name))
        ):
            groups[member_id].append(name)
    return [MemberRow(m, groups[m.id]) for m in members]


def _open_roster(session: Session, group: Group) -> list[Member]:
    return list(
        session.exec(
            select(Member)
            .join(GroupEnrollment, col(GroupEnrollment.member_id) == col(Member.id))
            .where(GroupEnrollment.group_id == group.id, col(GroupEnrollment.exit_date).is_(None))
            .order_by(col(Member.display_name))
        )
    )


def resolve_member(session: Session, ref: str) -> Member:
    """A member by id, id prefix, display name or external chart id."""
    text = (ref or "").strip()
    if text:
        by_chart = session.exec(select(Member).where(Member.external_chart_id == text)).first()
        if by_chart is not None:
            return by_chart
    return resolve(session, Member, text, name_field="display_name", kind="member")


# --------------------------------------------------------------------------- editing and the roster view


MAX_CHART_ID = 64


def update_member(
    session: Session,
    member_id: uuid.UUID,
    *,
    display_name: str | None = None,
    external_chart_id: str | None = None,
    expected_version: int | None = None,
) -> Member:
    """Change a member's display name and/or chart id.

    ``None`` leaves a field as it is; an empty ``external_chart_id`` removes the
    chart id. ``expected_version`` (the version the editor read) refuses to
    overwrite a change made elsewhere in the meantime.
    """
    member = as_opened(session, Member, member_id, expected_version, what="member")
    changed: list[str] = []
    if display_name is not None:
        name = normalise_display_name(display_name)
        if name != member.display_name:
            member.display_name = name
            changed.append("display_name")
    if external_chart_id is not None:
        chart = clean_line(external_chart_id) or None
        if chart is not None and len(chart) > MAX_CHART_ID:
            raise InvalidInput(f"a chart id is at most {MAX_CHART_ID} characters")
        if chart != member.external_chart_id:
            if chart is not None:
                clash = session.exec(
                    select(Member).where(Member.external_chart_id == chart, Member.id != member.id)
                ).first()
                if clash is not None:
                    raise Conflict(f"chart id {chart} already belongs to member {clash.id.hex[:8]}")
            member.external_chart_id = chart
            changed.append("external_chart_id")
    if changed:
        session.add(member)
        session.flush()
        audit.record(session, "member.update", record_type="member", record_id=member.id, fields=changed)
    return member


@dataclass(frozen=True)
class MemberSummary:
    """One member as the roster screen shows it (plain values, raw user text)."""

    member_id: uuid.UUID
    display_name: str
    chart_id: str
    status: str
    groups: tuple[tuple[uuid.UUID, str], ...]  # groups the member is enrolled in now (id, name)
    goals: tuple[str, ...]  # active treatment-plan goals, in order
    absences: int  # in the program's absence window up to ``on``
    version: int


def member_summaries(
    session: Session, *, on: dt.date, include_discharged: bool = True, weeks: int | None = None
) -> list[MemberSummary]:
    """Every member with current groups, active goals and recent absences, in a few queries."""
    query = select(Member).order_by(col(Member.display_name), col(Member.id))
    if not include_discharged:
        query = query.where(Member.status != MemberStatus.discharged)
    members = list(session.exec(query))
    ids = [m.id for m in members]
    groups: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {i: [] for i in ids}
    goals: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        for member_id, group_id, name in session.exec(
            select(GroupEnrollment.member_id, Group.id, Group.name)
            .join(Group, col(Group.id) == col(GroupEnrollment.group_id))
            .where(col(GroupEnrollment.member_id).in_(ids), col(GroupEnrollment.exit_date).is_(None))
            .order_by(col(Group.name))
        ):
            groups[member_id].append((group_id, name))
        for goal in session.exec(
            select(Goal)
            .where(col(Goal.member_id).in_(ids), col(Goal.active).is_(True))
            .order_by(col(Goal.position))
        ):
            goals[goal.member_id].append(goal.text)
    window = weeks if weeks is not None else get_settings(session).absence_window_weeks
    absences = absence_counts(session, ids, until=on, weeks=window)
    return [
        MemberSummary(
            member_id=m.id,
            display_name=m.display_name,
            chart_id=m.external_chart_id or "",
            status=m.status.value,
            groups=tuple(groups[m.id]),
            goals=tuple(goals[m.id]),
            absences=absences.get(m.id, 0),
            version=m.version,
        )
        for m in members
    ]


@dataclass(frozen=True)
class RosterView:
    """The roster screen's read model: members as of today, the absence limit, the active groups."""

    today: dt.date
    max_absences: int
    window_weeks: int
    members: tuple[MemberSummary, ...]
    groups: tuple[tuple[uuid.UUID, str], ...]  # active groups (id, name), by name


def roster_view(session: Session, *, include_discharged: bool) -> RosterView:
    from iop_facilitator.services.groups import list_groups

    program = get_settings(session)
    today = local_today(program.timezone)
    return RosterView(
        today=today,
        max_absences=program.max_absences,
        window_weeks=program.absence_window_weeks,
        members=tuple(member_summaries(session, on=today, include_discharged=include_discharged)),
        groups=tuple((g.id, g.name) for g in list_groups(session, GroupStatus.active)),
    )
