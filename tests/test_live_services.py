"""The live meeting's services, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pendulum
import pytest
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, FlowStep, MeetingStatus, RiskLevel
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.library.load import load_library
from iop_facilitator.models import Attendance, AuditEvent, FollowUp, GroupMeeting
from iop_facilitator.resources import topics_dir
from iop_facilitator.services import (
    groups,
    home,
    live,
    live_read,
    members,
    notes,
    safety,
    settings,
    staff,
)

DAY = dt.date(2026, 11, 23)  # a Monday
START = pendulum.datetime(2026, 11, 23, 9, 2, tz="America/Chicago").in_tz("UTC")


@pytest.fixture(scope="module")
def library():
    return load_library([("bundled", topics_dir())])


@pytest.fixture
def room(db):
    """A started meeting with four enrolled members."""
    with db.begin() as s:
        settings.update_settings(s, timezone="America/Chicago", max_absences=2, absence_window_weeks=4)
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        group = groups.add_group(s, "Evening IOP", weekdays="mon,wed,fri", start_time="09:00", facilitators=[lead])
        people = {}
        for name in ("Avery T.", "Blake S.", "Casey R.", "Drew P."):
            person = members.add_member(s, name, goals=["Sleep seven hours", "Call sponsor daily"])
            members.enroll(s, person, group, DAY - dt.timedelta(days=30))
            people[name] = person.id
        meeting = live.start_meeting(s, group, DAY, now=START)
    return {"meeting": meeting.id, "group": group.id, "lead": lead.id, "people": people}


def snap(db, room):
    with db.session() as s:
        return live_read.load_snapshot(s, room["meeting"])


def test_start_is_idempotent_and_resumes(db, room) -> None:
    with db.begin() as s:
        group = groups.resolve_group(s, "Evening IOP")
        again = live.start_meeting(s, group, DAY, now=START + dt.timedelta(minutes=5))
        assert again.id == room["meeting"]
        assert again.actual_start == START  # resuming never moves the start
        live.set_step(s, again.id, FlowStep.topic)
    assert snap(db, room).flow_step == "topic"


def test_roll_call_records_arrival_and_totals(db, room) -> None:
    p = room["people"]
    at = START + dt.timedelta(minutes=1)
    with db.begin() as s:
        live.mark(s, room["meeting"], p["Avery T."], AttendanceStatus.present, at=at)
        live.mark(s, room["meeting"], p["Blake S."], AttendanceStatus.late, at=at + dt.timedelta(minutes=14))
        live.mark(s, room["meeting"], p["Casey R."], AttendanceStatus.absent_excused)
    view = snap(db, room)
    assert (view.present, view.late, view.absent, view.unmarked) == (1, 1, 1, 1)
    avery = view.member(p["Avery T."])
    assert avery.arrived_at == at
    with db.begin() as s:  # marking again keeps the first arrival; absent clears it
        live.mark(s, room["meeting"], p["Avery T."], AttendanceStatus.present, at=at + dt.timedelta(minutes=30))
        live.mark(s, room["meeting"], p["Blake S."], AttendanceStatus.absent_unexcused)
    view = snap(db, room)
    assert view.member(p["Avery T."]).arrived_at == at
    assert view.member(p["Blake S."]).arrived_at is None


def test_checkin_values_are_validated(db, room) -> None:
    p = room["people"]
    with db.begin() as s:
        with pytest.raises(InvalidInput):
            live.set_checkin(s, room["meeting"], p["Avery T."], mood=5)  # not marked yet
        live.mark(s, room["meeting"], p["Avery T."], AttendanceStatus.present)
        live.set_checkin(s, room["meeting"], p["Avery T."], mood=6, urge=2, feeling="hopeful\x1b[31m", safety_concern=True)
        with pytest.raises(InvalidInput):
            live.set_checkin(s, room["meeting"], p["Avery T."], mood=11)
    line = snap(db, room).member(p["Avery T."])
    assert (line.mood, line.urge, line.feeling, line.safety_concern) == (6, 2, "hopeful", True)


def test_absence_limit_marks(db, room) -> None:
    p = room["people"]
    with db.begin() as s:
        group = groups.resolve_group(s, "Evening IOP")
        for back in (2, 5):
            past = live.start_meeting(s, group, DAY - dt.timedelta(days=back))
            live.mark(s, past.id, p["Drew P."], AttendanceStatus.absent_unexcused)
    line = snap(db, room).member(p["Drew P."])
    assert line.absences == 2 and line.near_limit and not line.over_limit


def test_drop_in_and_new_member(db, room) -> None:
    with db.begin() as s:
        visitor = members.add_member(s, "Gus H.")
        live.add_drop_in(s, room["meeting"], visitor.id)
        newcomer = live.add_new_member(s, room["meeting"], "Hana I")
        with pytest.raises(InvalidInput, match="last initial"):
            live.add_new_member(s, room["meeting"], "Hana Ishikawa")
    view = snap(db, room)
    gus = view.member(visitor.id)
    assert gus.drop_in and not gus.enrolled and gus.status == AttendanceStatus.present
    hana = view.member(newcomer.id)
    assert hana.enrolled and not hana.drop_in and hana.display_name == "Hana I."


def test_stories_follow_ups_and_topic(db, room, library) -> None:
    p = room["people"]
    loaded = library.get("handling-stress")
    with db.begin() as s:
        note = live.add_story(s, room["meeting"], p["Avery T."], "Talked about a hard week at work.")
        live.update_story(s, note.id, "Talked about a hard week at work and a good call with family.")
        gone = live.add_story(s, room["meeting"], p["Avery T."], "typo")
        assert live.update_story(s, gone.id, "   ") is None
        live.add_follow_up(s, p["Avery T."], "Check in about work stress", meeting_id=room["meeting"])
        live.choose_topic(s, room["meeting"], loaded)
        live.toggle_prompt(s, room["meeting"], 2)
        live.toggle_prompt(s, room["meeting"], 0)
        live.toggle_prompt(s, room["meeting"], 2)
        live.set_topic_notes(s, room["meeting"], "Group named body signals first.")
    view = snap(db, room)
    assert [st.text for st in view.member(p["Avery T."]).stories] == [
        "Talked about a hard week at work and a good call with family."
    ]
    assert (view.topic_id, view.topic_version, view.topic_hash) == ("handling-stress", "1.0", loaded.content_hash)
    assert view.prompts_done == (0,) and view.topic_notes == "Group named body signals first."
    with db.session() as s:
        follow = s.exec(select(FollowUp)).one()
        assert follow.due_date is not None and not follow.done
        live.complete_follow_up(s, follow.id)
        s.commit()
        assert s.get_one(FollowUp, follow.id).done


def test_checkout_finish_and_minutes(db, room) -> None:
    p = room["people"]
    with db.begin() as s:
        live.mark(s, room["meeting"], p["Avery T."], AttendanceStatus.present, at=START)
        live.mark(s, room["meeting"], p["Blake S."], AttendanceStatus.late, at=START + dt.timedelta(minutes=20))
        live.mark(s, room["meeting"], p["Casey R."], AttendanceStatus.present, at=START)
        live.mark(s, room["meeting"], p["Drew P."], AttendanceStatus.absent_excused)
        live.set_checkout(s, room["meeting"], p["Avery T."], mood=8, takeaway="Breathe out slowly")
        live.set_left_early(s, room["meeting"], p["Casey R."], START + dt.timedelta(minutes=90))
        live.set_homework(s, room["meeting"], "Stress log")
        live.finish_meeting(s, room["meeting"], at=START + dt.timedelta(minutes=178))
    view = snap(db, room)
    assert view.status == MeetingStatus.completed and view.flow_step == "notes"
    assert view.member(p["Avery T."]).minutes == 178
    assert view.member(p["Blake S."]).minutes == 158
    assert view.member(p["Casey R."]).minutes == 90 and view.member(p["Casey R."]).status == AttendanceStatus.left_early
    assert view.member(p["Drew P."]).minutes == 0
    with db.begin() as s:
        live.set_times(s, room["meeting"], end=START + dt.timedelta(minutes=120))
    assert snap(db, room).member(p["Avery T."]).minutes == 120
    with db.begin() as s, pytest.raises(InvalidInput):
        live.set_times(s, room["meeting"], end=START - dt.timedelta(minutes=1))


def test_drafts_use_only_the_members_own_words(db, room, library) -> None:
    p = room["people"]
    with db.begin() as s:
        for name, words in (("Avery T.", "the bakery shift"), ("Blake S.", "the bus depot")):
            live.mark(s, room["meeting"], p[name], AttendanceStatus.present)
            live.set_checkin(s, room["meeting"], p[name], mood=5, feeling="tired" if name == "Avery T." else "calm")
            live.add_story(s, room["meeting"], p[name], f"Described {words}.")
        live.choose_topic(s, room["meeting"], library.get("handling-stress"))
    view = snap(db, room)
    topic = library.get("handling-stress")
    avery = notes.draft_note(view.member(p["Avery T."]), view, topic)
    blake = notes.draft_note(view.member(p["Blake S."]), view, topic)
    avery_text, blake_text = " ".join(avery.sections.values()), " ".join(blake.sections.values())
    assert '"tired"' in avery_text and "calm" not in avery_text and '"calm"' in blake_text
    # story notes are referenced by time, never pasted (theirs or anyone else's)
    assert "in-session note at" in avery.response
    assert "bakery" not in avery_text and "bus depot" not in avery_text and "bus depot" not in blake_text
    # the group's intervention is written once, in the narrative; the member's is about them
    assert "Methods of Handling Stress" not in avery.intervention
    assert "Methods of Handling Stress" in notes.draft_narrative(view, topic)
    assert avery.goal_ids and set(avery.goal_ids) <= {g.id for g in view.member(p["Avery T."]).goals}


def complete_meeting(db, room, library) -> None:
    p = room["people"]
    with db.begin() as s:
        for name in p:
            live.mark(s, room["meeting"], p[name], AttendanceStatus.present, at=START)
        live.choose_topic(s, room["meeting"], library.get("handling-stress"))
        live.set_narrative(s, room["meeting"], "Group met for the stress topic; all members attended.")
        live.finish_meeting(s, room["meeting"], at=START + dt.timedelta(minutes=175))
    view = snap(db, room)
    with db.begin() as s:
        for line in view.attended:
            d = notes.draft_note(line, view, library.get("handling-stress"))
            notes.save_note(s, room["meeting"], line.member_id, goal_ids=d.goal_ids, intervention=d.intervention,
                            response=d.response, plan=d.plan)


def test_checklist_and_sign(db, room, library) -> None:
    before = [i.key for i in notes.missing(snap(db, room))]
    assert {"stop", "roll", "topic", "narrative"} <= set(before)
    complete_meeting(db, room, library)
    assert notes.missing(snap(db, room)) == []
    with db.begin() as s:
        signed = notes.sign(s, room["meeting"], room["lead"], at=START + dt.timedelta(hours=4))
        assert signed.signer_credentials == "LCSW"
    view = snap(db, room)
    assert view.status == MeetingStatus.signed and view.signer == "Dana Quinn"
    with db.begin() as s:
        with pytest.raises(Conflict, match="signed"):
            live.mark(s, room["meeting"], room["people"]["Avery T."], AttendanceStatus.absent_excused)
        with pytest.raises(Conflict):
            notes.save_note(s, room["meeting"], room["people"]["Avery T."], plan="changed")
        with pytest.raises(Conflict):
            live.add_story(s, room["meeting"], room["people"]["Avery T."], "late addition")
    with db.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "meeting.sign")).one()


def test_open_safety_event_blocks_signing(db, room, library) -> None:
    complete_meeting(db, room, library)
    with db.begin() as s:
        event = safety.record_event(s, room["meeting"], room["people"]["Casey R."], "Disclosed passive thoughts")
    gaps = notes.missing(snap(db, room))
    assert [g.key for g in gaps] == [f"safety:{event.id}"]
    with db.begin() as s, pytest.raises(Conflict, match="cannot sign yet"):
        notes.sign(s, room["meeting"], room["lead"])
    with db.begin() as s:
        with pytest.raises(InvalidInput):
            safety.set_disposition(s, event.id, risk_level=RiskLevel.low, disposition=" ")
        safety.set_disposition(s, event.id, risk_level=RiskLevel.low, disposition="Screened after group; safety plan reviewed.")
        notes.sign(s, room["meeting"], room["lead"])


def test_signer_needs_credentials_and_own_goals_only(db, room, library) -> None:
    complete_meeting(db, room, library)
    with db.begin() as s:
        intern = staff.add_staff(s, "Sam Intern")
        with pytest.raises(InvalidInput, match="credentials"):
            notes.sign(s, room["meeting"], intern.id)
        other = members.resolve_member(s, "Blake S.")
        foreign_goal = members.goals_of(s, other)[0].id
        with pytest.raises(InvalidInput, match="own treatment-plan goals"):
            notes.save_note(s, room["meeting"], room["people"]["Avery T."], goal_ids=[str(foreign_goal)])


def test_home_overview(db, room) -> None:
    with db.begin() as s:
        live.add_follow_up(s, room["people"]["Avery T."], "Call about housing", due=DAY - dt.timedelta(days=1))
        live.add_follow_up(s, room["people"]["Blake S."], "Later", due=DAY + dt.timedelta(days=10))
    with db.session() as s:
        view = home.overview(s, now=START + dt.timedelta(hours=1))
    assert view.today == DAY
    assert [g.name for g in view.groups_today] == ["Evening IOP"]
    assert view.groups_today[0].starts == "09:00" and view.groups_today[0].status == "in_progress"
    assert [m.group_name for m in view.open_meetings] == ["Evening IOP"]
    assert [(f.reason, f.overdue) for f in view.follow_ups] == [("Call about housing", True)]


def test_migration_0002_keeps_existing_meetings(tmp_path) -> None:
    """Upgrading a populated 0001 database adds the new meeting columns with their defaults."""
    import sqlalchemy as sa

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.db.migrate import upgrade

    target = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{target}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO therapy_group (id, created_at, updated_at, version, name, group_type, enrollment, weekdays, "
            "start_time, duration_minutes, status, level_of_care, audience, modality, location, capacity) VALUES "
            "('0000000000004000800000000000000a', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'G', 'process', "
            "'open', '[]', '09:00', 180, 'active', 'IOP', 'adult', 'in_person', '', 15)"
        )
        conn.exec_driver_sql(
            "INSERT INTO meeting (id, created_at, updated_at, version, group_id, local_date, scheduled_start, "
            "scheduled_end, modality, location, status, group_narrative, note_format, homework, flow_step) VALUES "
            "('0000000000004000800000000000000b', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, "
            "'0000000000004000800000000000000a', '2026-01-05', '2026-01-05 15:00:00', '2026-01-05 18:00:00', "
            "'in_person', '', 'completed', 'n', 'GIRP', '', '')"
        )
        # Rows that point at the meeting: later migrations rebuild the meeting table (batch
        # mode), which must not trip over these references.
        conn.exec_driver_sql(
            "INSERT INTO member (id, created_at, updated_at, version, display_name, status) VALUES "
            "('0000000000004000800000000000000c', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'Demo M.', 'active')"
        )
        conn.exec_driver_sql(
            "INSERT INTO attendance (id, created_at, updated_at, version, meeting_id, member_id, status, "
            "minutes_attended, drop_in, checkin_feeling, safety_concern, checkout_takeaway) VALUES "
            "('0000000000004000800000000000000d', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, "
            "'0000000000004000800000000000000b', '0000000000004000800000000000000c', 'present', 180, 0, '', 0, '')"
        )
    engine.dispose()
    database = open_database(target)
    assert database.migrated_from == "0001"
    with database.session() as s:
        meeting = s.exec(select(GroupMeeting)).one()
        assert meeting.topic_notes == "" and meeting.prompts_done == []
        assert s.exec(select(Attendance)).one().meeting_id == meeting.id
    database.dispose()


def test_status_key_follows_the_same_rules_as_mark(db, room) -> None:
    """``set_status`` (the roll-call key, one UPDATE) leaves the same row ``mark`` would."""
    from iop_facilitator.models import Attendance as Row

    a, b = room["people"]["Avery T."], room["people"]["Blake S."]
    sequence = [
        AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.absent_excused,
        AttendanceStatus.present, AttendanceStatus.left_early, AttendanceStatus.present,
        AttendanceStatus.absent_unexcused,
    ]

    def row(s, member):
        return s.exec(select(Row).where(Row.meeting_id == room["meeting"], Row.member_id == member)).one()

    arrivals = {}
    for step, status in enumerate(sequence):
        with db.begin() as s:
            live.set_status(s, room["meeting"], a, status)  # the first one inserts through mark()
            live.mark(s, room["meeting"], b, status)
        with db.session() as s:
            ra, rb = row(s, a), row(s, b)
            assert ra.status == rb.status == status
            assert (ra.arrived_at is None) == (rb.arrived_at is None), status
            assert (ra.left_at is None) == (rb.left_at is None), status
            assert ra.minutes_attended == rb.minutes_attended
            assert ra.version == rb.version == step + 1
            if ra.arrived_at is not None:  # once in, the arrival time is kept, not re-stamped
                arrivals.setdefault(a, ra.arrived_at)
                assert ra.arrived_at == arrivals[a]
            else:
                arrivals.pop(a, None)


def test_status_key_refuses_a_signed_or_missing_meeting_like_mark(db, room) -> None:
    import uuid

    a = room["people"]["Avery T."]
    with db.begin() as s:
        live.set_status(s, room["meeting"], a, AttendanceStatus.present)
    with db.begin() as s, pytest.raises(NotFound):
        live.set_status(s, uuid.uuid4(), a, AttendanceStatus.present)
    with db.begin() as s:
        meeting = s.get(GroupMeeting, room["meeting"])
        meeting.status = MeetingStatus.signed
        s.add(meeting)
    with db.begin() as s, pytest.raises(Conflict):
        live.set_status(s, room["meeting"], a, AttendanceStatus.absent_excused)


def test_a_keys_attendance_read_back_equals_a_full_read(db, room) -> None:
    """``reread_attendance`` (what a roll-call, check-in or check-out key changed) put into the
    snapshot read before the keys gives the snapshot a full read gives after them."""
    people = room["people"]
    before = snap(db, room)
    changed = (people["Avery T."], people["Blake S."], people["Casey R."])
    with db.begin() as s:
        live.set_status(s, room["meeting"], people["Avery T."], AttendanceStatus.late)
        live.set_checkin(s, room["meeting"], people["Blake S."], mood=6, urge=2, feeling="tired", safety_concern=True,
                         imply_present=True)
        live.set_status(s, room["meeting"], people["Casey R."], AttendanceStatus.absent_unexcused)
    with db.session() as s:
        parts = live_read.reread_attendance(s, room["meeting"], changed, before.local_date)
    after = snap(db, room)
    assert before.with_attendance(parts) == after
    assert after.member(people["Casey R."]).absences == 1
    with db.begin() as s:
        live.set_checkout(s, room["meeting"], people["Blake S."], mood=8, takeaway="breathe first")
    with db.session() as s:
        parts = live_read.reread_attendance(s, room["meeting"], (people["Blake S."],), before.local_date)
    assert after.with_attendance(parts) == snap(db, room)
    assert after.with_attendance({uuid.uuid4(): {}}) is None  # not on the meeting: read it all
