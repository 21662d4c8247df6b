"""Queries rewritten for clinic scale (issue 14) return exactly what the old ones did.

Each rewritten query is compared with a frozen copy of the query it replaced, on a seeded
fictional clinic (both back ends through the ``db`` fixture), over edge scopes: every single
day (day boundaries in the clinic's timezone: in Auckland every meeting starts on the previous
UTC day), the days around both DST changes, a group's week, limits, and empty scopes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import case, func
from sqlmodel import col, select

from iop_facilitator.enums import AttendanceStatus
from iop_facilitator.models import Attendance, Group, GroupMeeting, SignedMember, Staff

TZ = "Pacific/Auckland"  # UTC+12/+13: a 09:00 meeting is stored on the previous UTC day
END = dt.date(2026, 11, 12)  # the seed's "today": history from early September, across the DST change
DST = dt.date(2026, 9, 27)  # clocks go forward in New Zealand
WEEKS = 9


@dataclass(frozen=True)
class Clinic:
    first: dt.date
    last: dt.date
    group_ids: tuple


def build(db) -> Clinic:
    from iop_facilitator.demo.clinic import seed_clinic
    from iop_facilitator.services.meetings import create_meeting
    from iop_facilitator.services.members import update_member
    from iop_facilitator.services.settings import update_settings

    with db.begin() as session:
        update_settings(session, timezone=TZ)
    seed_clinic(db, groups=3, weeks=WEEKS, members_per_group=5, seed=7, end=END)
    with db.begin() as session:
        groups = list(session.exec(select(Group).order_by(col(Group.name))))
        # A draft meeting nobody attended yet (counts 0/0), on a day with other meetings.
        create_meeting(session, groups[0], END)
        # Two members renamed after their meetings were signed: their signed names, their
        # earlier names (row history) and their new ones all count for redaction.
        signed = session.exec(
            select(SignedMember.member_id).order_by(col(SignedMember.member_id)).distinct().limit(2)
        ).all()
        update_member(session, signed[0], display_name="Zo\u00eb W.")
        update_member(session, signed[1], display_name="Mary Ann K.")
        first, last = session.exec(select(func.min(GroupMeeting.local_date), func.max(GroupMeeting.local_date))).one()
        return Clinic(first, last, tuple(g.id for g in groups))


@pytest.fixture
def clinic(db, prebuilt) -> Clinic:
    return prebuilt(db, "scoped_queries_clinic", build)


# --------------------------------------------------------------------------- meeting list


def old_list_meetings(session, *, group=None, since=None, until=None, limit=None):
    """``services.meetings.list_meetings`` before issue 14 (aggregated all attendance, then filtered)."""
    attended = (AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.left_early)
    absent = (AttendanceStatus.absent_excused, AttendanceStatus.absent_unexcused)
    counts = (
        select(
            Attendance.meeting_id.label("meeting_id"),  # type: ignore[attr-defined]
            func.sum(case((col(Attendance.status).in_(attended), 1), else_=0)).label("present"),
            func.sum(case((col(Attendance.status).in_(absent), 1), else_=0)).label("absent"),
        )
        .group_by(col(Attendance.meeting_id))
        .subquery()
    )
    query = (
        select(GroupMeeting, Group.name, Staff.name, counts.c.present, counts.c.absent)
        .join(Group, col(Group.id) == col(GroupMeeting.group_id))
        .join(Staff, col(Staff.id) == col(GroupMeeting.facilitator_id), isouter=True)
        .join(counts, counts.c.meeting_id == col(GroupMeeting.id), isouter=True)
        .order_by(col(GroupMeeting.scheduled_start).desc())
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
        (meeting.id, meeting.scheduled_start, group_name, staff_name, int(present or 0), int(absent_ or 0))
        for meeting, group_name, staff_name, present, absent_ in session.exec(query)
    ]


def _rows(rows) -> list[tuple]:
    return [(r.meeting.id, r.meeting.scheduled_start, r.group_name, r.facilitator, r.present, r.absent) for r in rows]


def _ordered(rows: list[tuple]) -> list[tuple]:
    """Newest first; meetings starting at the same instant (the old query left them unordered) by id, newest first."""
    return sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)


def test_meeting_list_same_rows_every_day_and_scope(db, clinic: Clinic) -> None:
    from iop_facilitator.services.meetings import list_meetings

    with db.session() as session:
        groups = [session.get_one(Group, gid) for gid in clinic.group_ids]
        scopes: list[dict] = [{}]
        day = clinic.first - dt.timedelta(days=1)  # the day before the first meeting: empty
        while day <= clinic.last + dt.timedelta(days=1):  # ... and the day after the last
            scopes.append({"since": day, "until": day})
            day += dt.timedelta(days=1)
        dst = DST
        scopes += [
            {"since": dst - dt.timedelta(days=1), "until": dst + dt.timedelta(days=1)},
            {"since": dst},
            {"until": dst},
            {"since": END + dt.timedelta(days=30), "until": END + dt.timedelta(days=60)},  # the future: empty
        ]
        for g in groups:
            monday = dst - dt.timedelta(days=dst.weekday())
            scopes += [
                {"group": g},
                {"group": g, "since": monday, "until": monday + dt.timedelta(days=6)},
                {"group": g, "since": END, "until": END},
            ]
        checked_counts = set()
        for scope in scopes:
            old = _ordered(old_list_meetings(session, **scope))
            new = _rows(list_meetings(session, **scope))
            assert new == old, scope
            checked_counts.update((r[4], r[5]) for r in new)
        assert (0, 0) in checked_counts  # the draft meeting nobody attended
        assert any(p and a for p, a in checked_counts)  # meetings with both present and absent members
        # Limits: the newest N of the same order (a tie at the cut may pick either of two
        # meetings starting together in the old query, so compare with its full, ordered list).
        for scope in ({}, {"group": groups[1]}, {"since": dst, "until": END}):
            full = _ordered(old_list_meetings(session, **scope))
            for limit in (1, 7, 20, len(full) + 5):
                assert _rows(list_meetings(session, limit=limit, **scope)) == full[:limit], (scope, limit)


def test_meeting_list_days_follow_the_clinic_timezone(db, clinic: Clinic) -> None:
    """A day's list holds the meetings of that local day, stored (UTC) on the previous day."""
    from iop_facilitator.clock import to_local
    from iop_facilitator.services.meetings import list_meetings

    with db.session() as session:
        rows = list_meetings(session, since=clinic.first, until=clinic.last)
        late = [r for r in rows if r.meeting.scheduled_start.date() != r.meeting.local_date]
        for r in rows:
            assert to_local(r.meeting.scheduled_start, TZ).date() == r.meeting.local_date
        assert late, "meetings stored on another UTC day"
        for r in late[:3]:
            day = r.meeting.local_date
            assert r.meeting.id in {x.meeting.id for x in list_meetings(session, since=day, until=day)}
            utc_day = r.meeting.scheduled_start.date()
            assert r.meeting.id not in {x.meeting.id for x in list_meetings(session, since=utc_day, until=utc_day)}


# --------------------------------------------------------------------------- the notes export's name index


def old_name_index(session):
    """``exports.notes_data.name_index`` before issue 14 (ORM-typed columns, DISTINCT over every signed row)."""
    import uuid

    import sqlalchemy as sa

    names: dict[str, set[str]] = {}

    def add(member_id, name) -> None:
        if name:
            key = str(member_id if isinstance(member_id, uuid.UUID) else uuid.UUID(str(member_id)))
            names.setdefault(key, set()).add(str(name))

    conn = session.connection()
    uid = sa.column("id", sa.Uuid())
    for mid, name in conn.execute(sa.text("SELECT id, display_name FROM member").columns(uid, sa.column("n"))):
        add(mid, name)
    for mid, name in conn.execute(
        sa.text("SELECT DISTINCT member_id, display_name FROM signed_member").columns(sa.column("m", sa.Uuid()), sa.column("n"))
    ):
        add(mid, name)
    for rid, old in conn.execute(
        sa.text("SELECT row_id, old_row FROM row_history WHERE table_name = 'member'").columns(
            sa.column("r"), sa.column("o", sa.JSON())
        )
    ):
        if isinstance(old, dict):
            add(rid, old.get("display_name"))
    return names


def test_name_index_holds_the_same_names(db, clinic: Clinic) -> None:
    from iop_facilitator.exports.notes_data import NameIndex, name_index

    with db.session() as session:
        old = old_name_index(session)
        new = name_index(session)
    assert new.names == NameIndex(old).names
    assert new.tables() == NameIndex(old).tables()
    renamed = [names for names in new.names.values() if "Zo\u00eb W." in names or "Mary Ann K." in names]
    assert len(renamed) == 2 and all(len(names) == 2 for names in renamed)  # the new name and the signed one
