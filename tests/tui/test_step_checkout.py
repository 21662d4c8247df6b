"""Pilot tests of the Check-out step: ratings, takeaways, leaving early, homework, finishing.

Attendance is set up through the meeting screen's own writer (``screen.save``),
then every change made with keys is checked in the database through a fresh
connection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from textual.widgets import DataTable, Input, Static, TextArea

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.steps.base import DEBOUNCE_SECONDS
from tests.tui.meeting_kit import make_clinic, open_meeting, pass_time, settle, wait_for_library

SIZE = (120, 36)
TOPIC = "handling-stress"
HERE = ("Avery T.", "Blake S.", "Casey R.")  # Drew P. and Eli N. are absent


def stored(target: str, meeting_id: uuid.UUID):
    """(meeting, {member id: attendance}) as stored, read through a fresh connection."""
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import Attendance, GroupMeeting

    database = open_database(target)
    try:
        with database.session() as session:
            meeting = session.get_one(GroupMeeting, meeting_id)
            rows = {a.member_id: a for a in session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id))}
            return meeting, rows
    finally:
        database.dispose()


def plain(value: object) -> str:
    return getattr(value, "plain", None) or str(value)


async def open_checkout(app: IopApp, pilot, clinic, *, minutes_ago: int = 90):
    """Today's meeting, started ``minutes_ago``, three members here since then, topic chosen, on Check-out (F5)."""
    from iop_facilitator.clock import utcnow
    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.services.live import choose_topic, mark, set_times

    screen = await open_meeting(app, pilot, clinic.group_id)
    await wait_for_library(app, pilot)
    meeting_id = screen.meeting_id
    start = utcnow() - dt.timedelta(minutes=minutes_ago)
    loaded = app.library.get(TOPIC)

    def setup(session) -> None:
        set_times(session, meeting_id, start=start)
        for name in HERE:
            mark(session, meeting_id, clinic.member_ids[name], AttendanceStatus.present, at=start)
        mark(session, meeting_id, clinic.member_ids["Drew P."], AttendanceStatus.absent_excused)
        choose_topic(session, meeting_id, loaded)

    screen.save(setup)
    await settle(app, pilot)
    await pilot.press("f5")
    await settle(app, pilot)
    return screen, screen.query_one("#checkout")


async def test_ratings_with_digit_keys_including_ten(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_checkout(app, pilot, clinic)
        table = pane.query_one("#checkout-table", DataTable)
        assert app.focused is table
        assert table.row_count == 3  # only members who attended
        now = [50.0]
        pane.clock = lambda: now[0]

        await pilot.press("7")
        await pilot.press("down", "1", "0")  # quickly: ten
        await pilot.press("down", "1")
        now[0] += 5
        await pilot.press("0")  # after a pause: zero
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert [rows[clinic.member_ids[n]].checkout_mood for n in HERE] == [7, 10, 0]
        assert plain(table.get_cell_at((0, 2))) == "7 of 10"
        assert plain(table.get_cell_at((1, 2))) == "10 of 10"

        await pilot.press("backspace")  # clears
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[clinic.member_ids["Casey R."]].checkout_mood is None
        assert plain(table.get_cell_at((2, 2))) == "not rated"
        status = plain(pane.query_one("#checkout-status", Static).render())
        assert "Closing ratings: 2 of 3" in status


async def test_takeaways_are_saved_as_typed_and_with_enter(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_checkout(app, pilot, clinic)
        table = pane.query_one("#checkout-table", DataTable)
        takeaway = pane.query_one("#checkout-takeaway", Input)

        await pilot.press("t")
        assert app.focused is takeaway
        await pilot.press(*"Breathe before I answer")
        await pass_time(app, pilot, DEBOUNCE_SECONDS)  # the debounce alone saves it
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[clinic.member_ids["Avery T."]].checkout_takeaway == "Breathe before I answer"

        await pilot.press("enter")  # back to the list, next member
        assert app.focused is table and table.cursor_row == 1
        await pilot.press("enter")  # Enter on a row types its takeaway
        assert app.focused is takeaway and takeaway.value == ""
        await pilot.press(*"Call my sponsor", "enter")
        await pilot.press("t", *"Walk", "escape")
        assert app.focused is table and app.screen is screen  # Escape left the field, not the meeting
        assert screen.save_drafts_now()
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[clinic.member_ids["Blake S."]].checkout_takeaway == "Call my sponsor"
        assert rows[clinic.member_ids["Casey R."]].checkout_takeaway == "Walk"
        await settle(app, pilot)
        assert plain(table.get_cell_at((1, 4))) == "Call my sponsor"
        assert "Takeaways: 3 of 3" in plain(pane.query_one("#checkout-status", Static).render())

        # moving the cursor shows each member's own takeaway
        await pilot.press("up")
        assert takeaway.value == "Call my sponsor"


async def test_left_early_now_undo_and_correct_the_time(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        from iop_facilitator.clock import to_local, utcnow
        from iop_facilitator.enums import AttendanceStatus

        screen, pane = await open_checkout(app, pilot, clinic)
        table = pane.query_one("#checkout-table", DataTable)
        blake = clinic.member_ids["Blake S."]
        before = utcnow()
        await pilot.press("down", "l")
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[blake].status == AttendanceStatus.left_early
        assert before - dt.timedelta(seconds=1) <= rows[blake].left_at <= utcnow()
        assert plain(table.get_cell_at((1, 3))).startswith("Left early ")

        await pilot.press("u")  # undo
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[blake].status == AttendanceStatus.present and rows[blake].left_at is None
        assert plain(table.get_cell_at((1, 3))) == "Present"

        # correct the time: HH:MM in the program's timezone, on the meeting's day
        start_local = to_local(screen.snapshot.actual_start, screen.snapshot.timezone)
        left_local = start_local.add(minutes=30)
        await pilot.press("e")
        left = pane.query_one("#checkout-left", Input)
        assert app.focused is left
        left.value = ""
        await pilot.press(*left_local.strftime("%H:%M"), "enter")
        await settle(app, pilot)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        expected = left_local.replace(second=0, microsecond=0).in_tz("UTC")
        if left_local.date() == screen.snapshot.local_date:  # (a meeting running over midnight is out of scope)
            assert rows[blake].left_at == expected
            assert rows[blake].status == AttendanceStatus.left_early
        assert app.focused is table

        await pilot.press("e")
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", *"9x:99")
        await pilot.press("enter")  # not a time: a warning, nothing saved
        await settle(app, pilot)
        assert any("not a time" in n.message for n in app._notifications)


async def test_homework_is_prefilled_from_the_guide_and_saved(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_checkout(app, pilot, clinic)
        homework = pane.query_one("#checkout-homework", TextArea)
        guide = app.library.get(TOPIC).topic.homework
        assert homework.text.startswith(guide.title + "\n")
        assert guide.instructions.strip() in homework.text
        await settle(app, pilot)
        meeting, _rows = stored(clinic.target, screen.meeting_id)
        assert meeting.homework == homework.text.strip()  # shown on the step, so saved

        await pilot.press("h")
        assert app.focused is homework
        homework.load_text("")  # the facilitator empties it: no homework today
        await pass_time(app, pilot, DEBOUNCE_SECONDS)
        await pilot.press("escape", "5")  # leave the field; another change brings a fresh snapshot
        await settle(app, pilot)
        meeting, _rows = stored(clinic.target, screen.meeting_id)
        assert meeting.homework == "" and homework.text == ""  # not prefilled again
        assert "Homework: none" in plain(pane.query_one("#checkout-status", Static).render())

        await pilot.press("h", *"Stress log, once a day")
        await pass_time(app, pilot, DEBOUNCE_SECONDS)
        await settle(app, pilot)
        meeting, _rows = stored(clinic.target, screen.meeting_id)
        assert meeting.homework == "Stress log, once a day"
        await pilot.press(*" for a week")
        assert screen.save_drafts_now()
        meeting, _rows = stored(clinic.target, screen.meeting_id)
        assert meeting.homework == "Stress log, once a day for a week"


async def test_finish_records_the_stop_time_and_minutes_then_goes_to_notes(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        from iop_facilitator.clock import utcnow
        from iop_facilitator.enums import MeetingStatus

        screen, pane = await open_checkout(app, pilot, clinic, minutes_ago=90)
        await pilot.press("8", "down", "9")
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert type(app.screen).__name__ == "Confirm"
        await pilot.press("escape")  # not yet
        await settle(app, pilot)
        meeting, _rows = stored(clinic.target, screen.meeting_id)
        assert meeting.actual_end is None and screen.step == "checkout"

        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        meeting, rows = stored(clinic.target, screen.meeting_id)
        assert meeting.actual_end is not None and meeting.actual_end <= utcnow()
        assert meeting.status == MeetingStatus.completed
        for name in HERE:
            assert 89 <= rows[clinic.member_ids[name]].minutes_attended <= 91
        assert rows[clinic.member_ids["Drew P."]].minutes_attended == 0
        assert screen.step == "notes"
        assert meeting.flow_step == "notes"
        await pilot.press("f5")  # a hidden step is redrawn when shown, from the meeting as it is now
        await settle(app, pilot)
        status = plain(pane.query_one("#checkout-status", Static).render())
        assert "Group: finished at" in status and "(90 min)" in status


async def test_a_signed_meeting_refuses_check_out_edits_calmly(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        from iop_facilitator.enums import MeetingStatus
        from iop_facilitator.models import GroupMeeting

        screen, pane = await open_checkout(app, pilot, clinic)

        def sign(session) -> None:
            meeting = session.get_one(GroupMeeting, screen.meeting_id)
            meeting.status = MeetingStatus.signed
            session.add(meeting)

        screen.save(sign)
        await settle(app, pilot)
        app.clear_notifications()
        await pilot.press("5", "l", "ctrl+f")
        await settle(app, pilot)
        notes = list(app._notifications)
        assert notes and all("signed and locked" in n.message for n in notes)
        assert not any(n.severity == "error" for n in notes)
        _meeting, rows = stored(clinic.target, screen.meeting_id)
        assert rows[clinic.member_ids["Avery T."]].checkout_mood is None
        assert rows[clinic.member_ids["Avery T."]].left_at is None
        assert pane.query_one("#checkout-takeaway", Input).disabled
        assert pane.query_one("#checkout-homework", TextArea).read_only
