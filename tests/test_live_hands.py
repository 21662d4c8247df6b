"""Services behind the live meeting under real hands (issue 9), on SQLite and PostgreSQL.

Authors on check-in edits, story notes and safety events; a rating that implies
present; limits that refuse instead of cutting; where the meeting stood on screen
(focus, cursors, segment timer); drafts that follow the facts without ever
overwriting what a person wrote; and migration 0008 on a populated database.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.errors import Conflict, InvalidInput
from iop_facilitator.models import Attendance, AuditEvent, GroupMeeting, ProgressNote, SafetyEvent, StoryNote
from iop_facilitator.services import live, meeting_view, notes, safety, staff
from tests.test_live_services import START, library, room, snap  # noqa: F401  (fixtures)


def attendance(db, room, name):  # noqa: ANN001, ANN201
    with db.session() as s:
        return s.exec(
            select(Attendance).where(Attendance.meeting_id == room["meeting"], Attendance.member_id == room["people"][name])
        ).first()


# --------------------------------------------------------------------------- who did it


def test_every_check_in_edit_names_its_author(db, room) -> None:
    p, lead = room["people"], room["lead"]
    with db.begin() as s:
        live.set_status(s, room["meeting"], p["Avery T."], AttendanceStatus.present, by=lead)  # first mark: insert
    assert attendance(db, room, "Avery T.").updated_by_id == lead
    with db.begin() as s:
        other = staff.add_staff(s, "Robin Co", "LPC").id
        live.set_status(s, room["meeting"], p["Avery T."], AttendanceStatus.late, by=other)  # the one-UPDATE path
    assert attendance(db, room, "Avery T.").updated_by_id == other
    with db.begin() as s:
        live.set_checkin(s, room["meeting"], p["Avery T."], mood=6, by=lead)
        live.set_checkout(s, room["meeting"], p["Avery T."], mood=7, by=lead)
    assert attendance(db, room, "Avery T.").updated_by_id == lead


def test_story_notes_and_safety_events_name_their_author(db, room) -> None:
    p, lead = room["people"], room["lead"]
    with db.begin() as s:
        live.mark(s, room["meeting"], p["Casey R."], AttendanceStatus.present, by=lead)
        live.add_story(s, room["meeting"], p["Casey R."], "Talked about the weekend.", author_id=lead)
        safety.record_event(s, room["meeting"], p["Casey R."], "Passive thoughts", recorded_by_id=lead)
    with db.session() as s:
        assert s.exec(select(StoryNote)).one().author_id == lead
        assert s.exec(select(SafetyEvent)).one().recorded_by_id == lead


# --------------------------------------------------------------------------- a rating means they are here


def test_a_rating_on_an_unmarked_member_marks_them_present(db, room) -> None:
    p = room["people"]
    with db.begin() as s:
        live.set_checkin(s, room["meeting"], p["Drew P."], mood=4, imply_present=True, by=room["lead"])
    row = attendance(db, room, "Drew P.")
    assert (row.status, row.checkin_mood, row.updated_by_id) == (AttendanceStatus.present, 4, room["lead"])
    assert row.arrived_at is not None
    with db.begin() as s:  # without imply_present the old rule holds
        with pytest.raises(InvalidInput, match="mark them present"):
            live.set_checkin(s, room["meeting"], p["Blake S."], mood=4)
    with db.begin() as s:  # marked absent: refused either way, nothing changed
        live.mark(s, room["meeting"], p["Blake S."], AttendanceStatus.absent_unexcused)
    with db.begin() as s, pytest.raises(InvalidInput):
        live.set_checkin(s, room["meeting"], p["Blake S."], urge=2, imply_present=True)
    assert attendance(db, room, "Blake S.").checkin_urge is None


def test_text_over_its_limit_is_refused_not_cut(db, room) -> None:
    p = room["people"]
    with db.begin() as s:
        live.mark(s, room["meeting"], p["Avery T."], AttendanceStatus.present)
    with db.begin() as s, pytest.raises(InvalidInput, match="at most 4,000"):
        live.add_story(s, room["meeting"], p["Avery T."], "x" * (live.STORY_MAX + 1))
    with db.begin() as s, pytest.raises(InvalidInput, match="at most 40"):
        live.set_checkin(s, room["meeting"], p["Avery T."], feeling="y" * 41)
    with db.begin() as s, pytest.raises(InvalidInput, match="at most 500"):
        live.set_checkout(s, room["meeting"], p["Avery T."], takeaway="z" * 501)
    with db.begin() as s:
        note = live.add_story(s, room["meeting"], p["Avery T."], "x" * live.STORY_MAX)  # exactly the limit fits
        assert len(note.text) == live.STORY_MAX
        with pytest.raises(InvalidInput):
            live.update_story(s, note.id, "w" * (live.STORY_MAX + 5))


# --------------------------------------------------------------------------- where the meeting stood


def test_view_state_round_trips_and_merges_cursors(db, room) -> None:
    m = room["meeting"]
    with db.session() as s:
        assert meeting_view.load_view(s, m) == meeting_view.ViewState()
    since = START + dt.timedelta(minutes=40)
    timer = meeting_view.TimerState(topic="handling-stress:abc", index=2, elapsed=(600.0, 900.5, 12.0),
                                    running_since=since)
    with db.begin() as s:
        meeting_view.save_view(s, m, focus="checkin-table", cursors={"checkin": "a"}, timer=timer)
    with db.begin() as s:
        meeting_view.save_view(s, m, cursors={"stories": "b"})
    with db.session() as s:
        view = meeting_view.load_view(s, m)
    assert view.focus == "checkin-table" and view.cursors == {"checkin": "a", "stories": "b"}
    assert view.timer == timer
    # while it runs, the current segment keeps counting on the wall clock (a crash does not stop the group)
    assert view.timer.seconds(2, now=since + dt.timedelta(seconds=30)) == pytest.approx(42.0)
    assert view.timer.seconds(1, now=since + dt.timedelta(seconds=30)) == pytest.approx(900.5)


def test_view_state_is_writable_after_signing(db, room, library) -> None:  # noqa: F811
    from tests.test_live_services import complete_meeting

    complete_meeting(db, room, library)
    with db.begin() as s:
        notes.sign(s, room["meeting"], room["lead"])
    with db.begin() as s:
        meeting_view.save_view(s, room["meeting"], focus="review-checklist", cursors={"review": "x"})
    with db.session() as s:
        assert meeting_view.load_view(s, room["meeting"]).focus == "review-checklist"


# --------------------------------------------------------------------------- drafts follow the facts


def _finish(db, room, library, *, at_minutes: int = 150) -> None:  # noqa: ANN001, F811
    p = room["people"]
    with db.begin() as s:
        for name in ("Avery T.", "Blake S."):
            live.mark(s, room["meeting"], p[name], AttendanceStatus.present, at=START)
        live.mark(s, room["meeting"], p["Casey R."], AttendanceStatus.absent_unexcused)
        live.mark(s, room["meeting"], p["Drew P."], AttendanceStatus.absent_excused)
        live.choose_topic(s, room["meeting"], library.get("handling-stress"))
        live.finish_meeting(s, room["meeting"], at=START + dt.timedelta(minutes=at_minutes))


def note_of(db, room, name):  # noqa: ANN001, ANN201
    with db.session() as s:
        return s.exec(
            select(ProgressNote).where(ProgressNote.meeting_id == room["meeting"],
                                       ProgressNote.member_id == room["people"][name])
        ).first()


def test_drafting_waits_for_the_group_to_finish(db, room, library) -> None:  # noqa: F811
    topic = library.get("handling-stress")
    with db.begin() as s, pytest.raises(Conflict, match="once the group is finished"):
        notes.draft_notes(s, room["meeting"], topic)
    _finish(db, room, library)
    with db.begin() as s:
        result = notes.draft_notes(s, room["meeting"], topic)
    assert set(result.filled) == {room["people"]["Avery T."], room["people"]["Blake S."]}
    assert result.narrative == "filled"
    with db.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "notes.draft")).first() is not None


def test_a_drafted_field_follows_the_facts_and_an_edited_one_never_moves(db, room, library) -> None:  # noqa: F811
    topic = library.get("handling-stress")
    p = room["people"]
    _finish(db, room, library)
    with db.begin() as s:
        notes.draft_notes(s, room["meeting"], topic)
    assert "closing rating" not in note_of(db, room, "Avery T.").response
    # the leader rewrites Blake's response; Avery's stays the app's draft
    with db.begin() as s:
        notes.save_note(s, room["meeting"], p["Blake S."], response="Blake spoke about the new job.")
    # later check-out ratings (after finishing) reach Avery's draft, never Blake's text
    with db.begin() as s:
        live.set_checkout(s, room["meeting"], p["Avery T."], mood=8)
        live.set_checkout(s, room["meeting"], p["Blake S."], mood=3)
        result = notes.refresh_drafts(s, room["meeting"], topic)
    assert result.redrafted == {p["Avery T."]: ["response"]} and not result.filled
    assert "closing rating 8/10" in note_of(db, room, "Avery T.").response
    assert note_of(db, room, "Blake S.").response == "Blake spoke about the new job."
    # the homework reaches the drafted narrative, and every drafted plan refers to it (never copies it)
    assert "assignment" not in note_of(db, room, "Avery T.").plan
    with db.begin() as s:
        live.set_homework(s, room["meeting"], "Write down three stressors.")
        notes.refresh_drafts(s, room["meeting"], topic)
    for name in ("Avery T.", "Blake S."):
        plan = note_of(db, room, name).plan
        assert "the group's assignment (see the group narrative)" in plan and "three stressors" not in plan
    with db.session() as s:
        assert "three stressors" in s.get(GroupMeeting, room["meeting"]).group_narrative
    # a narrative the leader edited is never redrafted; an emptied field stays empty on refresh
    with db.begin() as s:
        live.set_narrative(s, room["meeting"], "My own narrative.")
        notes.save_note(s, room["meeting"], p["Avery T."], plan="")
        live.set_homework(s, room["meeting"], "Practise the breathing exercise.")
        notes.refresh_drafts(s, room["meeting"], topic)
    with db.session() as s:
        assert s.get(GroupMeeting, room["meeting"]).group_narrative == "My own narrative."
    assert note_of(db, room, "Avery T.").plan == ""
    assert "the group's assignment" in note_of(db, room, "Blake S.").plan
    # an explicit draft fills the emptied field again
    with db.begin() as s:
        result = notes.draft_notes(s, room["meeting"], topic, member_ids=[p["Avery T."]], narrative=False)
    assert result.filled == {p["Avery T."]: ["plan"]}


def test_refresh_is_a_no_op_before_drafts_or_without_the_guide(db, room, library) -> None:  # noqa: F811
    topic = library.get("handling-stress")
    _finish(db, room, library)
    with db.begin() as s:
        assert not notes.refresh_drafts(s, room["meeting"], topic).changed  # nothing drafted yet
        notes.draft_notes(s, room["meeting"], topic)
        live.set_checkout(s, room["meeting"], room["people"]["Avery T."], mood=9)
        assert not notes.refresh_drafts(s, room["meeting"], None).changed  # the guide is not loaded yet
        assert notes.refresh_drafts(s, room["meeting"], topic).changed


# --------------------------------------------------------------------------- migration 0008


def test_migration_0008_on_a_populated_database_keeps_rows_and_locks(tmp_path, library) -> None:  # noqa: F811
    """A signed meeting written at head, taken back to 0007 and upgraded again: rows, locks, triggers."""
    import sqlalchemy as sa
    from alembic import command

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.db.migrate import alembic_config
    from iop_facilitator.services import groups, members, settings
    from iop_facilitator.services.maintenance import lock_trigger_problems

    target = tmp_path / "clinic.db"
    database = open_database(target, create=True)
    try:
        with database.begin() as s:
            settings.update_settings(s, timezone="America/Chicago")
            lead = staff.add_staff(s, "Dana Quinn", "LCSW")
            group = groups.add_group(s, "Evening IOP", weekdays="mon", start_time="09:00", facilitators=[lead])
            person = members.add_member(s, "Avery T.", goals=["Sleep"])
            members.enroll(s, person, group, dt.date(2026, 1, 1))
            meeting = live.start_meeting(s, group, dt.date(2026, 11, 23), now=START)
            live.mark(s, meeting.id, person.id, AttendanceStatus.present, at=START, by=lead.id)
            live.choose_topic(s, meeting.id, library.get("handling-stress"))
            live.finish_meeting(s, meeting.id, at=START + dt.timedelta(hours=2))
            notes.draft_notes(s, meeting.id, library.get("handling-stress"))
            meeting_id = meeting.id
        with database.begin() as s:
            notes.sign(s, meeting_id, lead.id)
            meeting_view.save_view(s, meeting_id, focus="review-checklist")
        # (the note_facts table of 0013 goes with its own triggers; every other trigger stays)
        count = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name != 'note_facts'"
        with database.engine.connect() as conn:
            triggers = conn.exec_driver_sql(count).scalar()
        command.downgrade(alembic_config(database.engine), "0007")
        with database.engine.connect() as conn:  # the columns went in place: every trigger is still there
            assert conn.exec_driver_sql(count).scalar() == triggers
            assert "drafted" not in {c["name"] for c in sa.inspect(conn).get_columns("progress_note")}
            assert conn.exec_driver_sql("SELECT count(*) FROM attendance").scalar() == 1
    finally:
        database.dispose()
    database = open_database(target)  # 0007 -> head on a populated file
    try:
        assert database.migrated_from == "0007"
        assert lock_trigger_problems(database) == []
        with database.session() as s:
            assert s.exec(select(GroupMeeting)).one().status == MeetingStatus.signed
            assert s.exec(select(ProgressNote)).one().drafted == {}
            assert s.exec(select(Attendance)).one().updated_by_id is None
        with database.begin() as s, pytest.raises(Exception, match="iop-lock"):
            s.execute(sa.text("UPDATE meeting SET narrative_drafted = 'x'"))
        with database.begin() as s, pytest.raises(Exception, match="iop-lock"):
            s.execute(sa.text("UPDATE attendance SET updated_by_id = NULL"))
    finally:
        database.dispose()
