"""Staff reports: the IOP hours ledger and attendance rates against the absence policy.

Both count every recorded meeting, signed or not: they are for follow-up
during the week, not for billing (``iop export attendance`` is). Minutes come
from attendance (``minutes_attended``); a cancelled row counts as neither
present nor absent.

Hours ledger rules (``iop report hours``):

* a member is on the ledger when enrolled (on any day of the week) in a group
  that matches the filter, or when they have attendance in such a group that
  week; their hours count every group they attended that week (the threshold
  is per member, not per group);
* the weekly threshold applies to members in an IOP or PHP group that week:
  ``weekly_hours_adolescent`` when every such group is for adolescents,
  otherwise ``weekly_hours_adult``; members only in OP groups have none;
* a day is short when the member attended an IOP group that day (a per-diem
  day) but the day's total is below ``per_diem_daily_hours``.

Attendance report rules (``iop report attendance``): the rate is attended
(present, late, left early) over attended plus absences (excused or not);
the absence policy is the one the live roll call shows: absences in the
``absence_window_weeks`` weeks up to the report's last day, compared with
``max_absences`` (:func:`iop_facilitator.services.attendance.absence_flags`).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iop_facilitator.enums import ATTENDED, AttendanceStatus, Audience, LevelOfCare
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import (
    Attendance,
    Group,
    GroupEnrollment,
    GroupMeeting,
    Member,
    SignedSnapshot,
)
from iop_facilitator.services.attendance import absence_counts, absence_flags
from iop_facilitator.services.settings import get_settings

THRESHOLD_LEVELS = (LevelOfCare.IOP, LevelOfCare.PHP)
STREAM_ROWS = 5000  # rows fetched at a time: a report over years never holds every row at once
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """``YYYY-Www`` (ISO week) -> (Monday, Sunday)."""
    match = _WEEK.match((text or "").strip())
    if not match:
        raise InvalidInput(f"{text!r} is not an ISO week; use YYYY-Www, e.g. 2026-W09")
    try:
        monday = dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO week of that year") from None
    return monday, monday + dt.timedelta(days=6)


def week_label(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


# --------------------------------------------------------------------------- hours ledger


@dataclass(frozen=True)
class HoursRow:
    member_id: uuid.UUID
    display_name: str
    chart_id: str | None
    level_of_care: str  # the most intensive level among the member's groups that week
    audience: str
    minutes_by_day: tuple[int, ...]  # Monday .. Sunday
    weekly_target_hours: float | None  # None: no IOP/PHP group, no threshold
    short_days: tuple[dt.date, ...]  # per-diem days below the daily minimum

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes_by_day)

    @property
    def hours(self) -> float:
        return round(self.total_minutes / 60, 2)

    @property
    def short_hours(self) -> float:
        """How many hours below the weekly threshold (0 when met or none applies)."""
        if self.weekly_target_hours is None:
            return 0.0
        return round(max(0.0, self.weekly_target_hours - self.total_minutes / 60), 2)

    @property
    def short(self) -> bool:
        return self.short_hours > 0 or bool(self.short_days)


@dataclass(frozen=True)
class HoursLedger:
    week: str
    monday: dt.date
    sunday: dt.date
    weekly_hours_adult: float
    weekly_hours_adolescent: float
    per_diem_daily_hours: float
    group_id: uuid.UUID | None
    rows: tuple[HoursRow, ...]

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(self.monday + dt.timedelta(days=i) for i in range(7))

    @property
    def short(self) -> tuple[HoursRow, ...]:
        return tuple(r for r in self.rows if r.short)


_LEVEL_RANK = {LevelOfCare.OP.value: 0, LevelOfCare.IOP.value: 1, LevelOfCare.PHP.value: 2}


def hours_ledger(session: Session, week: str, *, group_id: uuid.UUID | None = None) -> HoursLedger:
    monday, sunday = parse_week(week)
    program = get_settings(session)
    groups = {g.id: g for g in session.exec(select(Group))}

    # Who: enrolled on any day of the week in a matching group ...
    enrolled = select(GroupEnrollment.member_id, GroupEnrollment.group_id).where(
        col(GroupEnrollment.start_date) <= sunday,
        (col(GroupEnrollment.exit_date).is_(None)) | (col(GroupEnrollment.exit_date) > monday),
    )
    if group_id is not None:
        enrolled = enrolled.where(GroupEnrollment.group_id == group_id)
    member_groups: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for member_id, gid in session.exec(enrolled):
        member_groups[member_id].add(gid)

    # ... and everything they (or anyone in a matching group) attended that week.
    # A signed meeting's level of care is the one frozen in its snapshot (what was billed).
    rows = session.exec(
        select(Attendance.member_id, GroupMeeting.group_id, GroupMeeting.local_date, Attendance.status,
               Attendance.minutes_attended, SignedSnapshot.level_of_care)
        .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
        .outerjoin(SignedSnapshot, col(SignedSnapshot.meeting_id) == col(GroupMeeting.id))
        .where(col(GroupMeeting.local_date) >= monday, col(GroupMeeting.local_date) <= sunday)
    ).all()
    if group_id is not None:
        for member_id, gid, *_ in rows:
            if gid == group_id:
                member_groups[member_id].add(gid)
    minutes: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0] * 7)
    per_diem_days: dict[uuid.UUID, set[int]] = defaultdict(set)
    for member_id, gid, local_date, status, mins, frozen_level in rows:
        if group_id is None:
            member_groups[member_id].add(gid)
        if member_id not in member_groups or status not in ATTENDED:
            continue
        day = (local_date - monday).days
        minutes[member_id][day] += int(mins or 0)
        member_groups[member_id].add(gid)
        if (frozen_level or groups[gid].level_of_care) == LevelOfCare.IOP:
            per_diem_days[member_id].add(day)

    members = {
        m.id: m for m in session.exec(select(Member).where(col(Member.id).in_(list(member_groups))))
    } if member_groups else {}
    daily_minimum = program.per_diem_daily_hours * 60
    out = []
    for member_id, gids in member_groups.items():
        member = members.get(member_id)
        if member is None:
            continue
        mine = [groups[g] for g in gids if g in groups]
        level = max((g.level_of_care.value for g in mine), key=lambda v: _LEVEL_RANK.get(v, 0), default="OP")
        intensive = [g for g in mine if g.level_of_care in THRESHOLD_LEVELS]
        if intensive:
            adolescent = all(g.audience == Audience.adolescent for g in intensive)
            audience = Audience.adolescent.value if adolescent else Audience.adult.value
            target: float | None = program.weekly_hours_adolescent if adolescent else program.weekly_hours_adult
        else:
            audience = (
                Audience.adolescent.value
                if mine and all(g.audience == Audience.adolescent for g in mine)
                else Audience.adult.value
            )
            target = None
        by_day = tuple(minutes[member_id]) if member_id in minutes else (0,) * 7
        short_days = tuple(
            monday + dt.timedelta(days=d) for d in sorted(per_diem_days.get(member_id, ())) if by_day[d] < daily_minimum
        )
        out.append(
            HoursRow(
                member_id=member_id,
                display_name=member.display_name,
                chart_id=member.external_chart_id,
                level_of_care=level,
                audience=audience,
                minutes_by_day=by_day,
                weekly_target_hours=target,
                short_days=short_days,
            )
        )
    out.sort(key=lambda r: (r.display_name.lower(), r.member_id.hex))
    return HoursLedger(
        week=week_label(monday),
        monday=monday,
        sunday=sunday,
        weekly_hours_adult=program.weekly_hours_adult,
        weekly_hours_adolescent=program.weekly_hours_adolescent,
        per_diem_daily_hours=program.per_diem_daily_hours,
        group_id=group_id,
        rows=tuple(out),
    )


# --------------------------------------------------------------------------- attendance rates


@dataclass(frozen=True)
class Counts:
    attended: int = 0
    late: int = 0
    left_early: int = 0
    excused: int = 0
    unexcused: int = 0
    cancelled: int = 0

    @property
    def expected(self) -> int:
        """Sessions the member was expected at: attended plus absences (cancelled rows excluded)."""
        return self.attended + self.excused + self.unexcused

    @property
    def rate(self) -> float | None:
        return round(self.attended / self.expected, 4) if self.expected else None


def _add(counts: Counts, status: AttendanceStatus) -> Counts:
    values = counts.__dict__.copy()
    if status in ATTENDED:
        values["attended"] += 1
    if status == AttendanceStatus.late:
        values["late"] += 1
    elif status == AttendanceStatus.left_early:
        values["left_early"] += 1
    elif status == AttendanceStatus.absent_excused:
        values["excused"] += 1
    elif status == AttendanceStatus.absent_unexcused:
        values["unexcused"] += 1
    elif status == AttendanceStatus.cancelled:
        values["cancelled"] += 1
    return Counts(**values)


@dataclass(frozen=True)
class MemberRate:
    member_id: uuid.UUID
    display_name: str
    chart_id: str | None
    counts: Counts
    absences_in_window: int  # the policy's count (all groups, window ending on the report's last day)
    near_limit: bool
    over_limit: bool


@dataclass(frozen=True)
class GroupRate:
    group_id: uuid.UUID
    name: str
    meetings: int
    counts: Counts


@dataclass(frozen=True)
class AttendanceReport:
    since: dt.date
    until: dt.date
    max_absences: int
    absence_window_weeks: int
    group_id: uuid.UUID | None
    members: tuple[MemberRate, ...]
    groups: tuple[GroupRate, ...]

    @property
    def past_policy(self) -> tuple[MemberRate, ...]:
        return tuple(m for m in self.members if m.over_limit)

    @property
    def near_policy(self) -> tuple[MemberRate, ...]:
        return tuple(m for m in self.members if m.near_limit and not m.over_limit)


def attendance_report(
    session: Session,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    group_id: uuid.UUID | None = None,
    today: dt.date | None = None,
) -> AttendanceReport:
    """Rates per member and per group from ``since`` to ``until`` (default: the policy window up to today)."""
    program = get_settings(session)
    if until is None:
        if today is None:
            from iop_facilitator.clock import local_today

            today = local_today(program.timezone)
        until = today
    if since is None:
        since = until - dt.timedelta(weeks=program.absence_window_weeks) + dt.timedelta(days=1)
    if since > until:
        raise InvalidInput("the report's first day is after its last day")
    query = (
        select(Attendance.member_id, GroupMeeting.group_id, GroupMeeting.id, Attendance.status)
        .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
        .where(col(GroupMeeting.local_date) >= since, col(GroupMeeting.local_date) <= until)
    )
    if group_id is not None:
        query = query.where(GroupMeeting.group_id == group_id)
    per_member: dict[uuid.UUID, Counts] = defaultdict(Counts)
    per_group: dict[uuid.UUID, Counts] = defaultdict(Counts)
    meetings: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for member_id, gid, meeting_id, status in session.exec(query.execution_options(yield_per=STREAM_ROWS)):
        status = AttendanceStatus(status)
        per_member[member_id] = _add(per_member[member_id], status)
        per_group[gid] = _add(per_group[gid], status)
        meetings[gid].add(meeting_id)
    ids = list(per_member)
    members: dict[uuid.UUID, Member] = {}
    for start in range(0, len(ids), 1000):
        members.update({m.id: m for m in session.exec(select(Member).where(col(Member.id).in_(ids[start : start + 1000])))})
    groups = {g.id: g for g in session.exec(select(Group).where(col(Group.id).in_(list(per_group))))} if per_group else {}
    window: dict[uuid.UUID, int] = {}
    for start in range(0, len(ids), 1000):  # bounded IN lists (SQLite allows 32,766 parameters)
        window.update(absence_counts(session, ids[start : start + 1000], until=until, weeks=program.absence_window_weeks))
    member_rates = []
    for member_id, counts in per_member.items():
        person = members[member_id]
        near, over = absence_flags(window.get(member_id, 0), program.max_absences)
        member_rates.append(
            MemberRate(
                member_id=member_id,
                display_name=person.display_name,
                chart_id=person.external_chart_id,
                counts=counts,
                absences_in_window=window.get(member_id, 0),
                near_limit=near,
                over_limit=over,
            )
        )
    member_rates.sort(key=lambda r: (r.display_name.lower(), r.member_id.hex))
    group_rates = sorted(
        (GroupRate(gid, groups[gid].name, len(meetings[gid]), counts) for gid, counts in per_group.items()),
        key=lambda r: (r.name.lower(), r.group_id.hex),
    )
    return AttendanceReport(
        since=since,
        until=until,
        max_absences=program.max_absences,
        absence_window_weeks=program.absence_window_weeks,
        group_id=group_id,
        members=tuple(member_rates),
        groups=tuple(group_rates),
    )
