"""A key in the live meeting redraws what it changed: the member's row and the counters.

The screen keeps the meeting's snapshot up to date from the attendance a change reads back
right after its commit (``live_read.reread_attendance``); only the step on screen redraws them, and a
hidden step is given the snapshot of the moment when it is shown. What is on screen must
always be what a fresh, full read of the database shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, OptionList

from iop_facilitator.enums import AttendanceStatus
from iop_facilitator.tui.app import IopApp
from tests.tui.meeting_kit import MEMBERS, make_clinic, open_meeting, settle


def fresh(app: Any, meeting_id: Any) -> Any:
    """The meeting as a fresh full read of the database shows it (the app's writer is idle)."""
    from iop_facilitator.services.live_read import load_snapshot

    with app.store.database.session() as session:
        return load_snapshot(session, meeting_id)


def shown_rows(table: DataTable[Any]) -> list[list[str]]:
    return [[cell.plain for cell in table.get_row_at(index)] for index in range(table.row_count)]


def rebuilt_rows(snapshot: Any, narrow: bool) -> list[list[str]]:
    """The check-in list as a pane drawing ``snapshot`` from scratch shows it."""
    from iop_facilitator.tui.steps.checkin import row_cells

    return [[cell.plain for cell in row_cells(number, line, snapshot, narrow=narrow).values()]
            for number, line in enumerate(snapshot.members, 1)]


async def test_a_key_reads_back_its_member_only_and_the_screen_equals_a_fresh_read(tmp_path: Path) -> None:
    from iop_facilitator.services import live_read
    from iop_facilitator.tui.steps.checkin import totals_text

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await settle(app, pilot)
        full_reads: list[Any] = []
        lines_read: list[Any] = []
        real_full, real_lines = live_read.load_snapshot, live_read.reread_attendance

        def counted_full(session: Any, meeting_id: Any) -> Any:
            full_reads.append(meeting_id)
            return real_full(session, meeting_id)

        def counted_lines(session: Any, meeting_id: Any, ids: Any, on: Any) -> Any:
            lines_read.append(tuple(ids))
            return real_lines(session, meeting_id, ids, on)

        live_read.load_snapshot, live_read.reread_attendance = counted_full, counted_lines
        try:
            # One burst over three members: statuses, ratings, an urge, a safety flag, a correction.
            await pilot.press("p", "7", "u", "3", "enter", "l", "exclamation_mark", "enter", "4", "a", "e", "enter",
                              "up", "minus")
            await settle(app, pilot)
        finally:
            live_read.load_snapshot, live_read.reread_attendance = real_full, real_lines
        assert full_reads == [], "a check-in key must not read the whole meeting again"
        assert lines_read and all(len(ids) == 1 for ids in lines_read)
        ids = [clinic.member_ids[name] for name in MEMBERS]
        assert {ids[0], ids[1], ids[2]} == {i for (i,) in lines_read}

        snapshot = fresh(app, screen.meeting_id)
        assert screen.snapshot == snapshot
        assert snapshot.member(ids[0]).status == AttendanceStatus.present
        assert (snapshot.member(ids[0]).mood, snapshot.member(ids[0]).urge) == (7, 3)
        assert snapshot.member(ids[1]).status == AttendanceStatus.late and snapshot.member(ids[1]).safety_concern
        assert snapshot.member(ids[2]).status == AttendanceStatus.absent_excused
        pane = screen.query_one("#checkin")
        table = screen.query_one("#checkin-table", DataTable)
        assert shown_rows(table) == rebuilt_rows(snapshot, pane._narrow)
        totals = screen.query_one("#checkin-totals").render()
        assert str(totals) == totals_text(snapshot, narrow=pane._narrow).plain


async def test_a_key_in_check_in_leaves_hidden_steps_alone_until_they_are_shown(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await settle(app, pilot)
        notes = screen.query_one("#notes")
        drawn: list[Any] = []
        notes.watch_snapshot = lambda snapshot: drawn.append(snapshot)  # counts the notes step's redraws
        before = notes.snapshot
        await pilot.press("l", "enter", "p")  # Avery late, Blake present
        await settle(app, pilot)
        assert drawn == [] and notes.snapshot is before, "a check-in key must not redraw the hidden notes step"
        del notes.watch_snapshot  # the pane's own redraw again

        await pilot.press("f6")  # the notes step
        await settle(app, pilot)
        assert screen.step == "notes"
        snapshot = fresh(app, screen.meeting_id)
        assert notes.snapshot == snapshot
        listing = screen.query_one("#notes-list", OptionList)
        avery = str(clinic.member_ids[MEMBERS[0]])
        blake = str(clinic.member_ids[MEMBERS[1]])
        prompts = {option.id: str(option.prompt) for option in listing.options}
        assert avery in prompts and blake in prompts, "the members marked in check-in are listed"
        assert "(late)" in prompts[avery] and "(late)" not in prompts[blake]


async def test_a_roster_change_reads_the_whole_meeting(tmp_path: Path) -> None:
    """A drop-in changes who is on the list: a full read, and the new member is on screen."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import members as member_service

    clinic = make_clinic(tmp_path)
    database = open_database(clinic.target)
    try:
        with database.begin() as session:
            visitor = member_service.add_member(session, "Frankie V.").id
    finally:
        database.dispose()
    app = IopApp(clinic.target)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await settle(app, pilot)
        from iop_facilitator.services.live import add_drop_in

        screen.save(lambda session: add_drop_in(session, screen.meeting_id, visitor, by=clinic.staff_id))
        await settle(app, pilot)
        snapshot = fresh(app, screen.meeting_id)
        assert screen.snapshot == snapshot and visitor in {m.member_id for m in snapshot.members}
        table = screen.query_one("#checkin-table", DataTable)
        assert shown_rows(table) == rebuilt_rows(snapshot, screen.query_one("#checkin")._narrow)


async def test_the_read_after_a_commit_comes_with_its_result_and_a_failed_one_fails_nothing(tmp_path: Path) -> None:
    """``Store.submit(then=...)``: the read runs after the commit, in the same job; if it fails,
    the change is still saved and ``done`` gets None for it (the screen then reads everything)."""
    from sqlalchemy import text

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        await settle(app, pilot)
        answers: list[Any] = []

        def write(session: Any) -> str:
            session.execute(text("UPDATE meeting SET topic_notes = 'after' WHERE id = :id"),
                            {"id": screen.meeting_id.hex})
            return "written"

        def seen(session: Any) -> Any:  # a fresh session: it sees the committed change
            return session.execute(text("SELECT topic_notes FROM meeting WHERE id = :id"),
                                   {"id": screen.meeting_id.hex}).scalar_one()

        def broken(_session: Any) -> Any:
            raise RuntimeError("the read failed")

        app.store.submit(write, done=answers.append, then=seen)
        app.store.submit(write, done=answers.append, then=broken, failed=answers.append)
        await settle(app, pilot)
        assert answers == [("written", "after"), ("written", None)]
