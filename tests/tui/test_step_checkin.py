"""The Check-in step: roll call keys, the check-in round on the list, drop-ins and new members.

Pilot tests drive the real app on a small fictional clinic (``meeting_kit``);
what was saved is read back through the snapshot the meeting screen holds (or
the database). The snapshot test at the end freezes the clock so the arrival
times and the meeting clock are stable; regenerate it after an intended change
with ``pytest tests/tui/test_step_checkin.py --snapshot-update`` and review it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pendulum
import time_machine
from rich.text import Text
from textual.widgets import DataTable, Input, OptionList, Static

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.timefmt import parse_hhmm as parse_local_time
from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.dialogs.checkin import DropInScreen, NewMemberScreen
from iop_facilitator.tui.steps.checkin import COLUMNS, CheckinPane
from tests.tui.meeting_kit import make_clinic, open_meeting, settle

SIZE = (120, 36)
TZ = "America/Chicago"


# --------------------------------------------------------------------------- helpers


def table(screen) -> DataTable:
    return screen.query_one("#checkin-table", DataTable)


def rows(screen) -> list[list[str]]:
    grid = table(screen)
    return [[c.plain if isinstance(c, Text) else str(c) for c in grid.get_row_at(i)] for i in range(grid.row_count)]


def column(screen, name: str) -> list[str]:
    index = [key for key, _label, _width in COLUMNS].index(name)
    return [row[index] for row in rows(screen)]


def line(screen, name: str):
    return next(m for m in screen.snapshot.members if m.display_name == name)


def messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def totals(screen) -> str:
    return str(screen.query_one("#checkin-totals", Static).render())


def said(screen) -> str:
    return str(screen.query_one("#checkin-said", Static).render())


def set_status(target: str, meeting_id: uuid.UUID, status: MeetingStatus) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import GroupMeeting

    database = open_database(target)
    try:
        with database.begin() as session:
            meeting = session.get_one(GroupMeeting, meeting_id)
            meeting.status = status
            session.add(meeting)
    finally:
        database.dispose()


def past_absences(target: str, group_id: uuid.UUID, absences: dict[uuid.UUID, int], *, today: dt.date) -> None:
    """Earlier meetings of the group in the attendance window, with these members absent."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import Group
    from iop_facilitator.services import live, meetings

    database = open_database(target)
    try:
        with database.begin() as session:
            group = session.get_one(Group, group_id)
            most = max(absences.values())
            for back in range(1, most + 1):
                meeting = meetings.create_meeting(session, group, today - dt.timedelta(days=back))
                for member_id, count in absences.items():
                    status = AttendanceStatus.absent_unexcused if back <= count else AttendanceStatus.present
                    live.mark(session, meeting.id, member_id, status)
    finally:
        database.dispose()


def local_today() -> dt.date:
    return pendulum.now(TZ).date()


# --------------------------------------------------------------------------- roll call


async def test_status_keys_stay_on_the_member_and_enter_moves_down(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        assert app.focused is table(screen)
        assert table(screen).cursor_row == 0
        assert totals(screen) == "Present 0   ·   Late 0   ·   Absent 0   ·   Not yet marked 5   ·   5 on the list"

        await pilot.press("p")  # the cursor stays on the member the key was for
        assert table(screen).cursor_row == 0
        await pilot.press("enter", "l", "enter", "a", "enter", "e", "enter")
        await settle(app, pilot)

        assert [line(screen, n).status for n in ("Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.")] == [
            AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.absent_unexcused,
            AttendanceStatus.absent_excused, None,
        ]
        status = column(screen, "status")
        assert status[0].startswith("✓ present ") and status[1].startswith("✓ late ")
        assert status[2:] == ["✗ absent", "✗ excused", "· not marked"]
        # the arrival time was recorded by the service and is shown in the program's timezone
        arrived = pendulum.instance(line(screen, "Avery T.").arrived_at).in_tz(TZ).format("HH:mm")
        assert status[0] == f"✓ present {arrived}"
        # Enter moved down once per member and the cursor stayed there when the fresh snapshot arrived
        assert table(screen).cursor_row == 4
        assert totals(screen) == (
            "Present 1   ·   Late 1   ·   Absent 2 (1 excused)   ·   Not yet marked 1   ·   5 on the list"
        )
        assert said(screen).startswith("▶ #5 Eli N. gets the next key")

        # correcting a status in the middle of the list: the cursor does not jump
        await pilot.press("up", "up", "up", "p")
        await settle(app, pilot)
        assert line(screen, "Blake S.").status == AttendanceStatus.present
        assert table(screen).cursor_row == 1
        # Enter on the last row says so and stays
        await pilot.press("down", "down", "down", "p", "enter")
        await settle(app, pilot)
        assert line(screen, "Eli N.").status == AttendanceStatus.present
        assert table(screen).cursor_row == 4
        assert "last member" in said(screen)


async def test_arrival_time_is_corrected_in_local_time(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("t")  # not marked yet: refused calmly, in words
        await settle(app, pilot)
        assert "Mark Avery T. present or late first (p or l)." in messages(app)
        assert "Mark Avery T. present or late first" in said(screen)
        assert not screen.query_one("#checkin-editor").has_class("-open")

        await pilot.press("l", "t")
        await settle(app, pilot)
        field = screen.query_one("#checkin-input", Input)
        assert app.focused is field
        await pilot.press("ctrl+u", *"25:10", "enter")
        await settle(app, pilot)
        label = str(screen.query_one("#checkin-editor-label", Static).render())
        assert "use HH:MM" in label and app.focused is field  # stays open with the problem in words

        await pilot.press("ctrl+u", *"8:55", "enter")
        await settle(app, pilot)
        day = screen.snapshot.local_date
        expected = pendulum.datetime(day.year, day.month, day.day, 8, 55, tz=TZ).in_tz("UTC")
        assert line(screen, "Avery T.").arrived_at == expected
        assert column(screen, "status")[0] == "✓ late 08:55"
        assert app.focused is table(screen) and table(screen).cursor_row == 0

        # Escape closes the time field without saving (and does not leave the meeting)
        await pilot.press("t", "ctrl+u", *"07:00", "escape")
        await settle(app, pilot)
        assert line(screen, "Avery T.").arrived_at == expected
        assert app.screen is screen


def test_parse_local_time_accepts_common_forms() -> None:
    day = dt.date(2025, 3, 9)  # the day US clocks spring forward: 09:05 is CDT (UTC-5)
    for typed in ("09:05", "9:05", "0905", "9.05"):
        assert parse_local_time(typed, day, TZ) == dt.datetime(2025, 3, 9, 14, 5, tzinfo=dt.UTC)
    for bad in ("", "9", "24:00", "12:60", "noon"):
        try:
            parse_local_time(bad, day, TZ)
        except ValueError as problem:
            assert "HH:MM" in str(problem)
        else:  # pragma: no cover
            raise AssertionError(bad)


# --------------------------------------------------------------------------- the check-in round


async def test_mood_urge_feeling_and_safety_without_leaving_the_list(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("p", "7", "u", "3")
        await settle(app, pilot)
        avery = line(screen, "Avery T.")
        assert (avery.mood, avery.urge) == (7, 3)
        assert column(screen, "mood")[0] == "7" and column(screen, "urge")[0] == "3"
        assert table(screen).cursor_row == 0  # ratings do not move the cursor

        await pilot.press("x", "u", "x")
        await settle(app, pilot)
        assert (line(screen, "Avery T.").mood, line(screen, "Avery T.").urge) == (10, 10)
        await pilot.press("u", "minus")
        await settle(app, pilot)
        assert (line(screen, "Avery T.").mood, line(screen, "Avery T.").urge) == (10, None)
        assert column(screen, "urge")[0] == "—"
        await pilot.press("minus", "4")
        await settle(app, pilot)
        assert line(screen, "Avery T.").mood == 4

        # u then Escape: the next digit is a mood again
        await pilot.press("u", "escape", "6")
        await settle(app, pilot)
        assert (line(screen, "Avery T.").mood, line(screen, "Avery T.").urge) == (6, None)
        assert app.screen is screen

        await pilot.press("f")
        assert app.focused is screen.query_one("#checkin-input", Input)
        await pilot.press(*"hopeful [b]", "enter")
        await settle(app, pilot)
        assert line(screen, "Avery T.").feeling == "hopeful [b]"
        assert column(screen, "feeling")[0] == "hopeful [b]"  # user text shown literally
        assert app.focused is table(screen)
        # Esc keeps the word as well (nothing typed is thrown away)
        await pilot.press("f", "ctrl+u", *"calm", "escape")
        await settle(app, pilot)
        assert line(screen, "Avery T.").feeling == "calm" and app.screen is screen

        await pilot.press("exclamation_mark")
        await settle(app, pilot)
        assert line(screen, "Avery T.").safety_concern is True
        assert column(screen, "safety")[0] == "⚑ concern"
        assert any("Safety concern flagged" in m for m in messages(app))
        await pilot.press("exclamation_mark")
        await settle(app, pilot)
        assert line(screen, "Avery T.").safety_concern is False
        assert column(screen, "safety")[0] == ""


# --------------------------------------------------------------------------- issue 9, point 1: any order


async def test_status_then_mood_at_typing_speed_stays_on_the_member(tmp_path: Path) -> None:
    """Seen: ``p`` moved the cursor down, so the mood typed right after went to the next member
    (refused with a toast there, the digit lost)."""
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("p", "7", "u", "2", "enter", "l", "5", "enter")  # no pause between keys
        await settle(app, pilot)
        avery, blake, casey = (line(screen, n) for n in ("Avery T.", "Blake S.", "Casey R."))
        assert (avery.status, avery.mood, avery.urge) == (AttendanceStatus.present, 7, 2)
        assert (blake.status, blake.mood) == (AttendanceStatus.late, 5)
        assert (casey.status, casey.mood) == (None, None)
        assert table(screen).cursor_row == 2


async def test_mood_before_the_status_is_kept_and_marks_present(tmp_path: Path) -> None:
    """Seen: typing the mood first (``7`` then ``p``) lost the mood."""
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("7")
        await settle(app, pilot)
        # the row says present (a rating means they are here) and the mood
        assert column(screen, "status")[0].startswith("✓ present")
        assert column(screen, "mood")[0] == "7"
        assert "now marked present" in said(screen)
        await pilot.press("l", "enter", "u", "3", "exclamation_mark", "4", "a")  # Blake: urge, flag, mood, then absent?
        await settle(app, pilot)
        avery, blake = line(screen, "Avery T."), line(screen, "Blake S.")
        assert (avery.status, avery.mood) == (AttendanceStatus.late, 7)
        # ratings implied present; the last key changed the status to absent and kept what was typed
        assert (blake.status, blake.urge, blake.safety_concern, blake.mood) == (
            AttendanceStatus.absent_unexcused, 3, True, 4)
        # a rating for a member marked absent is refused, in words, and nothing changes
        await pilot.press("9")
        await settle(app, pilot)
        assert line(screen, "Blake S.").mood == 4
        assert "Blake S. is marked absent: press p or l first" in said(screen)
        assert any("Blake S. is marked absent" in m for m in messages(app))


async def test_on_a_marked_list_status_and_mood_never_reach_the_next_member(tmp_path: Path) -> None:
    """Seen: on an already-marked list, ``p 7`` stored the mood on the next member with no message."""
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        for _ in range(5):
            await pilot.press("p", "enter")
        await settle(app, pilot)
        await pilot.press("home", "p", "7", "enter", "p", "6")
        await settle(app, pilot)
        moods = [line(screen, n).mood for n in ("Avery T.", "Blake S.", "Casey R.")]
        assert moods == [7, 6, None]


async def test_absence_limit_is_marked_in_words(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    today = local_today()
    ids = clinic.member_ids
    past_absences(clinic.target, clinic.group_id, {ids["Blake S."]: 4, ids["Casey R."]: 7, ids["Drew P."]: 1},
                  today=today)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        assert screen.snapshot.max_absences == 6
        absences = column(screen, "absences")
        assert absences[0] == ""
        assert absences[1] == "4/6 absences"
        assert absences[2] == "⚠ 7/6 over limit"
        assert absences[3] == "1/6 absences"
        # marking Blake absent today brings them to 5 of 6: near the limit, said in words
        await pilot.press("enter", "a")
        await settle(app, pilot)
        assert column(screen, "absences")[1] == "⚠ 5/6 absences"


# --------------------------------------------------------------------------- who is in the room


def add_outsider(target: str, name: str) -> uuid.UUID:
    """A member of the clinic who is not enrolled in the test group."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import members

    database = open_database(target)
    try:
        with database.begin() as session:
            return members.add_member(session, name).id
    finally:
        database.dispose()


async def test_drop_in_is_found_by_name_and_marked_present(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    morgan = add_outsider(clinic.target, "Morgan L.")
    add_outsider(clinic.target, "Mora K.")
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("d")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, DropInScreen)
        matches = dialog.query_one("#dropin-matches", OptionList)
        assert matches.option_count == 0  # no names on screen before two letters are typed
        await pilot.press("m")
        assert matches.option_count == 0
        await pilot.press("o")
        assert matches.option_count == 2  # Mora K., Morgan L.; enrolled members are not offered
        await pilot.press("r", "g")
        assert matches.option_count == 1
        await pilot.press("enter")
        await settle(app, pilot)

        assert app.screen is screen
        assert line(screen, "Morgan L.").status == AttendanceStatus.present
        assert line(screen, "Morgan L.").drop_in is True
        names = column(screen, "name")
        assert names[-1] == "Morgan L. (drop-in)"
        assert column(screen, "num")[-1] == "6"
        assert table(screen).cursor_row == 5 and app.focused is table(screen)
        assert screen.snapshot.members[5].member_id == morgan

        # Escape closes the dialog without adding anyone
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press(*"mo", "escape")
        await settle(app, pilot)
        assert app.screen is screen and len(screen.snapshot.members) == 6


async def test_new_member_shows_the_name_rule_inline(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("n")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, NewMemberScreen)
        await pilot.press(*"Jordan Smith", "enter")
        await settle(app, pilot)
        assert app.screen is dialog  # still open, the service's rule in words
        problem = str(dialog.query_one("#newmember-problem", Static).render())
        assert "last initial" in problem and "Jordan S." in problem

        await pilot.press("ctrl+u", *"Jordan s", "enter")
        await settle(app, pilot)
        assert app.screen is screen
        jordan = line(screen, "Jordan S.")
        assert jordan.status == AttendanceStatus.present and jordan.enrolled and not jordan.drop_in
        assert table(screen).cursor_row == [m.display_name for m in screen.snapshot.members].index("Jordan S.")
        assert totals(screen).startswith("Present 1 ")


async def test_signed_meeting_refuses_every_change(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await pilot.press("p")
        await settle(app, pilot)
        set_status(clinic.target, screen.meeting_id, MeetingStatus.signed)
        screen.reload()
        await settle(app, pilot)
        assert screen.snapshot.status == MeetingStatus.signed
        app.clear_notifications()

        await pilot.press("a", "7", "f", "d", "n", "exclamation_mark")
        await settle(app, pilot)
        assert app.screen is screen  # no dialog opened
        assert line(screen, "Avery T.").status == AttendanceStatus.present
        assert line(screen, "Avery T.").mood is None
        assert not screen.query_one("#checkin-editor").has_class("-open")
        said = messages(app)
        assert said and all("signed and locked" in m for m in said)
        assert not any(n.severity == "error" for n in app._notifications)  # calm, not "Not saved"
        assert "read-only" in str(screen.query_one("#checkin-hint", Static).render())


async def test_user_text_is_shown_literally(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path, members=("[red]Al[/] B.", "Blake S."))
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        assert "[red]Al[/] B." in column(screen, "name")


async def test_focus_member_and_stories_key(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        pane = screen.query_one(CheckinPane)
        pane.focus_member(clinic.member_ids["Drew P."])
        await pilot.pause()
        assert table(screen).cursor_row == 3
        await pilot.press("s")
        await settle(app, pilot)
        assert screen.step == "stories"


def test_every_binding_has_a_checkin_id() -> None:
    for owner in (CheckinPane, DropInScreen, NewMemberScreen):
        for binding in owner.BINDINGS:
            assert binding.id and binding.id.startswith("checkin."), binding
    ids = [b.id for b in CheckinPane.BINDINGS]
    assert len(ids) == len(set(ids))
    assert {"checkin.present", "checkin.late", "checkin.absent", "checkin.excused", "checkin.arrival"} <= set(ids)


# --------------------------------------------------------------------------- how the roll call looks

FROZEN = dt.datetime(2025, 3, 5, 9, 4, tzinfo=dt.timezone(dt.timedelta(hours=-6)))  # 09:04 in Chicago (CST)


def test_roll_call_snapshot(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        clinic = make_clinic(tmp_path, members=(
            "Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.", "Frankie O.", "Gray M.", "Harper L.",
        ))
        past_absences(clinic.target, clinic.group_id, {clinic.member_ids["Drew P."]: 4,
                                                       clinic.member_ids["Gray M."]: 7},
                      today=dt.date(2025, 3, 5))
        drop_in = add_outsider(clinic.target, "Morgan L.")

        async def run_before(pilot) -> None:
            from iop_facilitator.services.live import add_drop_in

            app = pilot.app
            screen = await open_meeting(app, pilot, clinic.group_id)
            # one pass: Avery p 7 u 2 hopeful, Blake l 4 tired !, Casey x (implies present) u 0 grateful,
            # Drew absent, Eli excused; back to Avery
            await pilot.press("p", "7", "u", "2", "f", *"hopeful", "enter", "enter")
            await pilot.press("l", "4", "f", *"tired", "enter", "exclamation_mark", "enter")
            await pilot.press("x", "u", "0", "f", *"grateful", "enter", "enter", "a", "enter", "e", "home")
            screen.save(lambda session: add_drop_in(session, screen.meeting_id, drop_in))
            await settle(app, pilot)
            await app.workers.wait_for_complete()
            app.store.flush()
            await settle(app, pilot)
            app.clear_notifications()
            await pilot.pause()

        assert snap_compare(IopApp(clinic.target), terminal_size=SIZE, run_before=run_before)
