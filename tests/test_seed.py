"""The fictional-clinic seeder: counts, realism rules, determinism, refusal, read-back."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlmodel import select

from iop_facilitator.demo import generate as seeding
from iop_facilitator.demo.clinic import seed_clinic, table_columns
from iop_facilitator.demo.generate import CORE_TOPIC_IDS, SeedSummary
from iop_facilitator.enums import AttendanceStatus, ExitReason, MeetingStatus, NoteFormat, StaffRole
from iop_facilitator.errors import Conflict, InvalidInput
from iop_facilitator.models import (
    Attendance,
    AuditEvent,
    FollowUp,
    Goal,
    Group,
    GroupEnrollment,
    GroupFacilitator,
    GroupMeeting,
    Member,
    NoteFacts,
    ProgramSettings,
    ProgressNote,
    Staff,
    StoryNote,
)
from iop_facilitator.services.meetings import scheduled_times
from iop_facilitator.services.members import add_member
from iop_facilitator.services.settings import update_settings

END = dt.date(2025, 3, 24)  # three weeks before it include the US switch to daylight time (2025-03-09)
TZ = "America/New_York"


def _seed(db, **kwargs) -> SeedSummary:
    with db.begin() as session:
        update_settings(session, timezone=TZ)
    args = {"groups": 2, "weeks": 3, "members_per_group": 6, "seed": 8, "end": END} | kwargs  # 8: a safety event, follow-ups
    return seed_clinic(db, **args)


@pytest.fixture
def seeded(db, prebuilt):
    summary = prebuilt(db, "seeded_clinic", _seed)
    with db.session() as session:
        yield db, session, summary


def test_counts_and_settings(seeded) -> None:
    _db, session, summary = seeded
    assert summary.groups == 2
    assert summary.meetings == 2 * 3 * 3  # three meetings a week per group
    tables = {
        "groups": Group, "members": Member, "meetings": GroupMeeting, "attendance": Attendance,
        "story_notes": StoryNote, "progress_notes": ProgressNote, "follow_ups": FollowUp, "staff": Staff,
    }
    for field_name, model in tables.items():
        assert len(session.exec(select(model)).all()) == getattr(summary, field_name), field_name
    settings = session.exec(select(ProgramSettings)).one()
    assert settings.is_demo is True
    assert "fictional" in settings.clinic_name.lower()
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "seed")).all()
    assert len(events) == 1 and events[0].details["meetings"] == summary.meetings


def test_everything_reads_back_through_sqlmodel(seeded) -> None:
    _db, session, _summary = seeded
    for model in (Staff, Group, GroupFacilitator, Member, GroupEnrollment, Goal, GroupMeeting,
                  Attendance, StoryNote, ProgressNote, FollowUp):
        rows = session.exec(select(model)).all()
        assert rows, model.__name__
        for row in rows:
            assert isinstance(row.id, uuid.UUID) and row.id.version == 4
            assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == dt.timedelta(0)
    meeting = session.exec(select(GroupMeeting)).first()
    assert isinstance(meeting.status, MeetingStatus) and meeting.note_format is NoteFormat.GIRP
    assert meeting.topic_id in CORE_TOPIC_IDS and meeting.topic_version == "1.0"
    assert all(isinstance(a.status, AttendanceStatus) for a in session.exec(select(Attendance)))
    roles = {s.role for s in session.exec(select(Staff))}
    assert roles == {StaffRole.facilitator, StaffRole.supervisor}
    for e in session.exec(select(GroupEnrollment)):
        assert e.exit_reason is None or isinstance(e.exit_reason, ExitReason)


def test_people_look_fictional_and_plausible(seeded) -> None:
    _db, session, _summary = seeded
    for member in session.exec(select(Member)):
        _first, initial = member.display_name.split(" ")
        assert len(initial) == 2 and initial.endswith(".") and initial[0].isupper()
        assert member.external_chart_id.startswith("DEMO-")
        goals = session.exec(select(Goal).where(Goal.member_id == member.id)).all()
        assert 1 <= len(goals) <= 3 and sorted(g.position for g in goals) == list(range(1, len(goals) + 1))
    for group in session.exec(select(Group)):
        assert len(group.weekdays) == 3 and group.start_time in {"09:00", "13:00", "16:00", "18:00"}
        leads = session.exec(
            select(GroupFacilitator).where(GroupFacilitator.group_id == group.id, GroupFacilitator.is_lead)
        ).all()
        assert len(leads) == 1


def test_meetings_are_past_signed_and_dst_correct(seeded) -> None:
    _db, session, _summary = seeded
    groups = {g.id: g for g in session.exec(select(Group))}
    staff = {s.id: s for s in session.exec(select(Staff))}
    now = dt.datetime(END.year, END.month, END.day, 4, tzinfo=dt.UTC)  # local midnight + DST offset
    utc_hours = set()
    for m in session.exec(select(GroupMeeting)):
        group = groups[m.group_id]
        assert END - dt.timedelta(weeks=3) <= m.local_date < END
        assert ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[m.local_date.weekday()] in group.weekdays
        start, end = scheduled_times(group, m.local_date, TZ)
        assert (m.scheduled_start, m.scheduled_end) == (start, end)
        utc_hours.add((group.start_time, m.scheduled_start.hour))
        assert abs((m.actual_start - m.scheduled_start).total_seconds()) <= 6 * 60
        assert m.actual_end > m.actual_start
        if m.status is MeetingStatus.signed:
            assert m.signed_by_id == m.facilitator_id
            assert m.signer_credentials == staff[m.signed_by_id].credentials
            assert dt.timedelta(hours=2) <= m.signed_at - m.actual_end <= dt.timedelta(hours=48)
            assert m.signed_at <= now + dt.timedelta(hours=1)
        else:  # only the last couple of days may still wait for a signature
            assert m.status is MeetingStatus.completed and m.signed_at is None
            assert END - m.local_date <= dt.timedelta(days=3)
        assert m.group_narrative and m.homework and "fictional" in m.group_narrative.lower()
    # the same local start time lands an hour earlier in UTC once daylight time begins
    assert len({h for t, h in utc_hours if t == "09:00"}) == 2


def test_attendance_minutes_and_times_match_status(seeded) -> None:
    _db, session, _summary = seeded
    meetings = {m.id: m for m in session.exec(select(GroupMeeting))}
    notes = {(n.meeting_id, n.member_id) for n in session.exec(select(ProgressNote))}
    for a in session.exec(select(Attendance)):
        m = meetings[a.meeting_id]
        full = int((m.actual_end - m.actual_start).total_seconds() // 60)
        if a.status.attended:
            assert a.arrived_at is not None and a.left_at is not None and a.left_at > a.arrived_at
            assert 0 < a.minutes_attended <= full
            assert (a.meeting_id, a.member_id) in notes
            assert a.checkin_mood is None or 0 <= a.checkin_mood <= 10
            assert a.checkin_urge is None or 0 <= a.checkin_urge <= 10
        else:
            assert a.minutes_attended == 0 and a.arrived_at is None and a.left_at is None
            assert a.checkin_mood is None and a.checkout_mood is None and a.checkout_takeaway == ""
            assert (a.meeting_id, a.member_id) not in notes
        if a.status is AttendanceStatus.present:
            assert a.minutes_attended == full
        elif a.status is AttendanceStatus.late:
            assert a.arrived_at > m.actual_start and a.minutes_attended < full
        elif a.status is AttendanceStatus.left_early:
            assert a.left_at < m.actual_end and a.minutes_attended < full
            assert a.checkout_mood is None
    for s in session.exec(select(StoryNote)):
        m = meetings[s.meeting_id]
        assert m.actual_start <= s.recorded_at <= m.actual_end
        assert (s.meeting_id, s.member_id) in notes  # only members in the room share


def test_status_mix_is_realistic(db) -> None:
    _seed(db, groups=2, weeks=26, members_per_group=8)
    with db.session() as session:
        counts = Counter(a.status for a in session.exec(select(Attendance)))
        total = sum(counts.values())
        assert 0.68 <= counts[AttendanceStatus.present] / total <= 0.82
        for status, share in ((AttendanceStatus.late, 0.08), (AttendanceStatus.absent_excused, 0.06),
                              (AttendanceStatus.absent_unexcused, 0.06)):
            assert share / 2 <= counts[status] / total <= share * 2, status
        assert counts[AttendanceStatus.left_early] and counts[AttendanceStatus.cancelled]
        # rolling enrollment: members leave (mostly completing) and seats refill
        reasons = Counter(e.exit_reason for e in session.exec(select(GroupEnrollment)) if e.exit_reason)
        assert reasons.most_common(1)[0][0] is ExitReason.completed
        for meeting in session.exec(select(GroupMeeting)):
            enrolled = [a for a in session.exec(select(Attendance).where(Attendance.meeting_id == meeting.id))
                        if not a.drop_in]
            assert 5 <= len(enrolled) <= 8


def test_progress_notes_individual_and_goal_linked(seeded) -> None:
    _db, session, _summary = seeded
    goals = defaultdict(set)
    for g in session.exec(select(Goal)):
        goals[g.member_id].add(str(g.id))
    facts = {(f.meeting_id, f.member_id): f for f in session.exec(select(NoteFacts))}
    per_meeting = defaultdict(list)
    for n in session.exec(select(ProgressNote)):
        assert n.goal_ids and set(n.goal_ids) <= goals[n.member_id]
        assert n.intervention and n.response and n.plan
        fact = facts[(n.meeting_id, n.member_id)]  # every note has its facts, as the app records them
        assert fact.participation and fact.risk_screen and fact.substance_use and fact.observation
        assert set(fact.goal_progress) == set(n.goal_ids)
        per_meeting[n.meeting_id].append((n.intervention, n.response, n.plan, fact.observation))
    for texts in per_meeting.values():
        assert len(set(texts)) == len(texts)
        assert len({t[3] for t in texts}) == len(texts)  # the leader's observations differ even on their own


def test_the_payer_lens_finds_nothing_to_question_in_the_demo(seeded) -> None:
    """Drafted from each member's facts and completed by the (fictional) leader: no false alarm."""
    from iop_facilitator.services.payer_lens import review_range

    _db, session, _summary = seeded
    reviews = review_range(session, until=END)
    assert reviews and [f for r in reviews for f in r.flags] == []


def test_notes_unique_even_when_texts_collide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force identical pools: the seeder must still make every note in a meeting differ."""
    from iop_facilitator.demo import fiction

    for name in ("FIRST_NAMES", "OBS_OPENINGS", "OBS_MOMENTS", "OBS_CLOSINGS", "PRESENTATIONS", "TAKEAWAYS",
                 "LEADER_PLANS"):
        monkeypatch.setattr(fiction, name, getattr(fiction, name)[:1])
    monkeypatch.setattr(fiction, "LAST_INITIALS", "A")
    rows = _generate(groups=1, weeks=2, members_per_group=8)
    per_meeting = defaultdict(list)
    for row in rows["note_facts"]:
        per_meeting[row[4]].append(row[14])
    for texts in per_meeting.values():
        assert len(set(texts)) == len(texts)


def _generate(**kwargs) -> dict[str, list[tuple]]:
    def schedule(start_time: str, minutes: int, day: dt.date):
        hour, minute = map(int, start_time.split(":"))
        start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
        return start, start + dt.timedelta(minutes=minutes)

    out: dict[str, list[tuple]] = defaultdict(list)
    args = {"seed": 3, "end": END, "schedule": schedule, "columns": table_columns()} | kwargs
    for chunk in seeding.generate(**args):
        for table, rows in chunk.tables:
            out[table].extend(rows)
    return out


def test_follow_ups_for_safety_concerns_and_missed_groups() -> None:
    rows = _generate(groups=3, weeks=40, members_per_group=10)
    safety = sum(1 for a in rows["attendance"] if a[14])
    reasons = Counter(f[6].split(":")[0] for f in rows["follow_up"])
    assert safety and reasons["Safety concern at check-in"] == safety
    assert any(r.startswith("Outreach call") for r in reasons)
    done = sum(1 for f in rows["follow_up"] if f[8])
    assert done / len(rows["follow_up"]) > 0.7


def _dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in table_columns()}
    finally:
        conn.close()


def test_deterministic_for_seed_and_end(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database

    dumps = []
    for name, seed in (("a.db", 11), ("b.db", 11), ("c.db", 12)):
        database = open_database(tmp_path / name, create=True)
        try:
            _seed(database, seed=seed)
        finally:
            database.dispose()
        dumps.append(_dump(tmp_path / name))
    assert dumps[0] == dumps[1]
    assert dumps[0]["meeting"] and dumps[0]["progress_note"]
    assert dumps[0]["member"] != dumps[2]["member"]


def test_rows_have_every_column_of_the_models() -> None:
    """The generator's tuples follow the models' columns: a changed schema cannot silently break seeding."""
    columns = table_columns()
    rows = _generate(groups=3, weeks=20, members_per_group=10)
    assert set(rows) == set(columns)
    for table, table_rows in rows.items():
        assert table_rows, table
        assert {len(r) for r in table_rows} == {len(columns[table])}, table


def test_uuid_hex_matches_uuid4() -> None:
    a, b = random.Random(5), random.Random(5)
    uid = seeding._uid_factory(a)
    for _ in range(50):
        assert uid() == uuid.UUID(int=b.getrandbits(128), version=4).hex


def test_refuses_real_data(db) -> None:
    with db.begin() as session:
        add_member(session, "Jordan M.")
    with pytest.raises(Conflict, match="real records"):
        seed_clinic(db, groups=1, weeks=1, end=END)
    with db.session() as session:
        settings = session.exec(select(ProgramSettings)).first()  # the refusal rolled everything back
        assert settings is None or settings.is_demo is False
        assert len(session.exec(select(GroupMeeting)).all()) == 0


def test_refuses_a_second_seed(db) -> None:
    _seed(db, groups=1, weeks=1)
    with pytest.raises(Conflict, match="demo data"):
        seed_clinic(db, groups=1, weeks=1, end=END)


def test_rejects_bad_arguments(db) -> None:
    with pytest.raises(InvalidInput):
        seed_clinic(db, groups=0, weeks=1)
    with pytest.raises(InvalidInput):
        seed_clinic(db, groups=1, weeks=1, end=dt.date.today() + dt.timedelta(days=3))


def test_progress_is_reported(db) -> None:
    calls: list[tuple[int, int]] = []
    _seed(db, groups=3, weeks=1, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
