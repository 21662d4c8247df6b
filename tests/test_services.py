"""Service rules, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, Enrollment, ExitReason, MemberStatus
from iop_facilitator.errors import Ambiguous, Conflict, InvalidInput, NotFound
from iop_facilitator.models import AuditEvent, GroupEnrollment
from iop_facilitator.services import groups, meetings, members, settings, staff
from iop_facilitator.services.text import clean

DAY = dt.date(2026, 11, 2)  # a Monday


@pytest.fixture
def clinic(db):
    """A small fictional clinic: two staff, one group, three members."""
    with db.begin() as s:
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        co = staff.add_staff(s, "Rae Lopez", "LPC")
        group = groups.add_group(
            s, "Evening IOP", weekdays="mon,wed,thu", start_time="18:00", facilitators=[lead, co], capacity=3
        )
        people = [members.add_member(s, name, goals=["Stay sober one day at a time"]) for name in ("Avery T.", "Blake S.", "Casey R.")]
        for person in people:
            members.enroll(s, person, group, DAY - dt.timedelta(days=7))
    return {"lead": lead, "co": co, "group": group, "members": people}


def test_display_names_keep_privacy(db) -> None:
    with db.begin() as s:
        assert members.add_member(s, "jordan m").display_name == "jordan M."
        assert members.add_member(s, "Sam").display_name == "Sam"
        with pytest.raises(InvalidInput, match="last initial"):
            members.add_member(s, "Jordan Miller")
        with pytest.raises(InvalidInput):
            members.add_member(s, "   ")


def test_goals_one_to_three(db) -> None:
    with db.begin() as s:
        m = members.add_member(s, "Kai W.")
        with pytest.raises(InvalidInput):
            members.set_goals(s, m, [])
        with pytest.raises(InvalidInput):
            members.set_goals(s, m, ["a", "b", "c", "d"])
        members.set_goals(s, m, ["Sleep 7 hours", "Call sponsor daily", "Return to work"])
        members.set_goals(s, m, ["Sleep 7 hours"])
        assert [g.text for g in members.goals_of(s, m)] == ["Sleep 7 hours"]


def test_enrollment_rules(db, clinic) -> None:
    group = clinic["group"]
    with db.begin() as s:
        extra = members.add_member(s, "Drew P.")
        with pytest.raises(Conflict, match="full"):
            members.enroll(s, extra, group, DAY)
        with pytest.raises(Conflict, match="already enrolled"):
            members.enroll(s, clinic["members"][0], group, DAY)


def test_closed_group_refuses_late_joiners(db) -> None:
    with db.begin() as s:
        g = groups.add_group(s, "Closed skills", weekdays="tue", enrollment=Enrollment.closed)
        first = members.add_member(s, "Eli N.")
        members.enroll(s, first, g, DAY)
        meetings.create_meeting(s, g, DAY + dt.timedelta(days=1))
        late = members.add_member(s, "Fran O.")
        with pytest.raises(Conflict, match="closed enrollment"):
            members.enroll(s, late, g, DAY + dt.timedelta(days=8))


def test_discharge_ends_every_enrollment(db, clinic) -> None:
    person = clinic["members"][0]
    with db.begin() as s:
        ended = members.discharge(s, person, reason=ExitReason.completed, on=DAY)
        assert len(ended) == 1
    with db.session() as s:
        rows = s.exec(select(GroupEnrollment).where(GroupEnrollment.member_id == person.id)).all()
        assert rows[0].exit_date == DAY and rows[0].exit_reason == ExitReason.completed
        assert members.resolve_member(s, person.display_name).status == MemberStatus.discharged
        assert person.id not in {m.id for m in members.roster(s, clinic["group"], DAY)}
        assert person.id in {m.id for m in members.roster(s, clinic["group"], DAY - dt.timedelta(days=1))}


def test_exit_before_start_is_refused(db, clinic) -> None:
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="before the enrollment began"):
            members.discharge(s, clinic["members"][1], reason=ExitReason.other, on=DAY - dt.timedelta(days=30))


def test_resolve_by_name_id_prefix_and_chart(db, clinic) -> None:
    with db.begin() as s:
        twin = groups.add_group(s, "evening iop", weekdays="tue")
        charted = members.add_member(s, "Gus H.", external_chart_id="MRN-77")
    with db.session() as s:
        with pytest.raises(Ambiguous) as err:
            groups.resolve_group(s, "Evening IOP")
        assert str(clinic["group"].id) in str(err.value) and str(twin.id) in str(err.value)
        assert groups.resolve_group(s, str(twin.id)).id == twin.id
        assert groups.resolve_group(s, twin.id.hex[:8]).id == twin.id
        assert members.resolve_member(s, "MRN-77").id == charted.id
        assert members.resolve_member(s, "avery t.").id == clinic["members"][0].id
        with pytest.raises(NotFound):
            members.resolve_member(s, "Nobody Here")
        with pytest.raises(NotFound):
            groups.resolve_group(s, "00000000-0000-4000-8000-000000000000")


def test_chart_ids_are_unique(db) -> None:
    with db.begin() as s:
        members.add_member(s, "Hana I.", external_chart_id="C-1")
        with pytest.raises(Conflict, match="C-1"):
            members.add_member(s, "Ivan J.", external_chart_id="C-1")


def test_meeting_times_follow_the_program_timezone_across_dst(db, clinic) -> None:
    with db.begin() as s:
        settings.update_settings(s, timezone="America/Chicago")
        before = meetings.create_meeting(s, clinic["group"], dt.date(2026, 10, 29))  # CDT, UTC-5
        after = meetings.create_meeting(s, clinic["group"], dt.date(2026, 11, 2))  # CST, UTC-6
    assert before.scheduled_start.hour == 23 and after.scheduled_start.hour == 0
    assert (after.scheduled_end - after.scheduled_start) == dt.timedelta(minutes=180)
    assert before.facilitator_id == clinic["lead"].id and before.co_facilitator_id == clinic["co"].id


def test_duplicate_meeting_is_refused(db, clinic) -> None:
    with db.begin() as s:
        meetings.create_meeting(s, clinic["group"], DAY)
        with pytest.raises(Conflict):
            meetings.create_meeting(s, clinic["group"], DAY)


def test_list_meetings_counts_and_filters(db, clinic) -> None:
    from iop_facilitator.models import Attendance

    with db.begin() as s:
        first = meetings.create_meeting(s, clinic["group"], DAY)
        meetings.create_meeting(s, clinic["group"], DAY + dt.timedelta(days=2))
        statuses = [AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.absent_excused]
        for person, status in zip(clinic["members"], statuses):
            s.add(Attendance(meeting_id=first.id, member_id=person.id, status=status))
    with db.session() as s:
        rows = meetings.list_meetings(s, group=clinic["group"])
        assert [r.meeting.local_date for r in rows] == [DAY + dt.timedelta(days=2), DAY]
        assert (rows[1].present, rows[1].absent) == (2, 1)
        assert rows[1].facilitator == "Dana Quinn"
        assert len(meetings.list_meetings(s, since=DAY + dt.timedelta(days=1))) == 1
        assert len(meetings.list_meetings(s, until=DAY)) == 1


def test_settings_defaults_and_validation(db) -> None:
    with db.begin() as s:
        current = settings.get_settings(s)
        assert "988" in str(current.crisis_resources)
        assert current.disclosure_notice.startswith("42 CFR part 2")
        assert current.service_codes["group_psychotherapy"] == "90853"
        assert (current.max_absences, current.absence_window_weeks) == (6, 12)
        with pytest.raises(InvalidInput, match="timezone"):
            settings.parse_value("timezone", "Mars/Olympus")
        with pytest.raises(InvalidInput):
            settings.parse_value("max_absences", "-1")
        with pytest.raises(InvalidInput, match="unknown setting"):
            settings.parse_value("colour", "red")
        settings.update_settings(s, clinic_name="Lakeside IOP")
    with db.session() as s:
        assert settings.get_settings(s).clinic_name == "Lakeside IOP"


def test_audit_records_ids_not_text(db, clinic) -> None:
    with db.session() as s:
        events = s.exec(select(AuditEvent)).all()
    actions = {e.action for e in events}
    assert {"staff.add", "group.add", "member.add", "member.enroll"} <= actions
    dumped = " ".join(str(e.model_dump()) for e in events)
    assert "Avery" not in dumped and "Stay sober" not in dumped
    assert all(e.actor == "test-runner" for e in events)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("bold [b]x[/b]", "bold [b]x[/b]"),
        ("title\x1b]0;pwned\x07 here", "title here"),
        ("red \x1b[31mtext\x1b[0m", "red text"),
        ("nul\x00byte", "nulbyte"),
        ("line one\r\nline two", "line one\nline two"),
        ("bell\x07 and del\x7f", "bell and del"),
        ("c1 \x9b31m csi", "c1  csi"),
    ],
)
def test_clean_strips_control_sequences(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_clean_property() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.text())
    def check(value: str) -> None:
        out = clean(value)
        assert "\x1b" not in out and "\x00" not in out
        assert all(ch in "\n\t" or not (ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F) for ch in out)

    check()
