"""The Stories step: choosing a member, timestamped notes, follow-ups, nothing typed lost.

Pilot tests on the small fictional clinic of ``meeting_kit``; saved rows are
read back from the database with SQLModel.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pendulum
import time_machine
from rich.text import Text
from sqlmodel import select
from textual.widgets import DataTable, Input, OptionList, Static

from iop_facilitator.enums import MeetingStatus
from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.steps.stories import StoriesPane
from tests.tui.meeting_kit import make_clinic, open_meeting, pass_time, settle
from tests.tui.test_step_checkin import set_status

SIZE = (120, 36)
TZ = "America/Chicago"
TWELVE = tuple(f"{first} {chr(65 + i)}." for i, first in enumerate(
    ("Avery", "Blake", "Casey", "Drew", "Eli", "Frankie", "Gray", "Harper", "Indy", "Jules", "Kai", "Logan")
))


# --------------------------------------------------------------------------- helpers


def rows_of(target: str, model, **where):
    from iop_facilitator.db.engine import open_database

    database = open_database(target)
    try:
        with database.session() as session:
            query = select(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return list(session.exec(query))
    finally:
        database.dispose()


def stories(target: str, member_id: uuid.UUID | None = None) -> list:
    from iop_facilitator.models import StoryNote

    found = rows_of(target, StoryNote, **({"member_id": member_id} if member_id else {}))
    return sorted(found, key=lambda s: s.recorded_at)


def heading(screen) -> str:
    return str(screen.query_one("#stories-heading", Static).render())


def notes_shown(screen) -> list[str]:
    notes = screen.query_one("#stories-notes", OptionList)
    out = []
    for index in range(notes.option_count):
        prompt = notes.get_option_at_index(index).prompt
        out.append(prompt.plain if isinstance(prompt, Text) else str(prompt))
    return out


def members_table(screen) -> DataTable:
    return screen.query_one("#stories-members", DataTable)


def note_input(screen) -> Input:
    return screen.query_one("#stories-input", Input)


def messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def to_stories(app, pilot, clinic, *, mark: int = 5):
    """Open the meeting, mark the first ``mark`` members present, go to Stories."""
    screen = await open_meeting(app, pilot, clinic.group_id)
    await pilot.press(*("p" * mark))
    await settle(app, pilot)
    await pilot.press("f3")
    await settle(app, pilot)
    assert screen.step == "stories"
    return screen


# --------------------------------------------------------------------------- choosing the member


async def test_jump_by_number_and_by_name(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path, members=TWELVE)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        assert app.focused is members_table(screen)
        await pilot.press("3")
        await settle(app, pilot)
        assert heading(screen).startswith("#3  Casey C.")
        assert members_table(screen).cursor_row == 2

        # two digits typed quickly reach members 10-12
        await pilot.press("1", "2")
        await settle(app, pilot)
        assert heading(screen).startswith("#12  Logan L.")
        await pass_time(app, pilot, 1.2)  # later, a digit starts a new number
        await pilot.press("1")
        await pass_time(app, pilot, 1.2)
        await pilot.press("0")
        await settle(app, pilot)
        assert heading(screen).startswith("#1  Avery A.")
        assert any("No member number 0" in m for m in messages(app))

        # by name: / filters the list, Enter picks and puts the cursor in the note field
        await pilot.press("slash", *"jul")
        await settle(app, pilot)
        assert members_table(screen).row_count == 1
        await pilot.press("enter")
        await settle(app, pilot)
        assert heading(screen).startswith("#10  Jules J.")
        assert members_table(screen).row_count == 12
        assert app.focused is note_input(screen)

        # Escape from the note field goes back to the list (not home); again: home
        await pilot.press("escape")
        assert app.focused is members_table(screen) and app.screen is screen
        await pilot.press("slash", *"zz", "escape")
        await settle(app, pilot)
        assert members_table(screen).row_count == 12 and app.screen is screen

        pane = screen.query_one(StoriesPane)
        pane.focus_member(clinic.member_ids["Eli E."])
        await settle(app, pilot)
        assert heading(screen).startswith("#5  Eli E.")


# --------------------------------------------------------------------------- writing


async def test_add_notes_stamped_when_typing_began(tmp_path: Path) -> None:
    start = dt.datetime(2025, 3, 5, 15, 10, tzinfo=dt.UTC)  # 09:10 in Chicago
    with time_machine.travel(start, tick=False) as traveller:
        clinic = make_clinic(tmp_path)
        app = IopApp(clinic.target)
        async with app.run_test(size=SIZE) as pilot:
            screen = await to_stories(app, pilot, clinic)
            await pilot.press("2", "enter")
            assert app.focused is note_input(screen)
            await pilot.press(*"Sleep better")
            traveller.shift(dt.timedelta(minutes=3))  # still talking; typing goes on
            await pilot.press(*" this week [b]", "enter")
            await settle(app, pilot)

            blake = clinic.member_ids["Blake S."]
            saved = stories(clinic.target, blake)
            assert [s.text for s in saved] == ["Sleep better this week [b]"]
            assert saved[0].recorded_at == start
            assert notes_shown(screen) == ["09:10  Sleep better this week [b]"]
            assert note_input(screen).value == "" and app.focused is note_input(screen)
            assert "1 note this meeting" in heading(screen)

            await pilot.press(*"Second one", "enter")
            await settle(app, pilot)
            assert [s.text for s in stories(clinic.target, blake)] == ["Sleep better this week [b]", "Second one"]
            assert notes_shown(screen)[-1] == "09:13  Second one"
            assert stories(clinic.target, clinic.member_ids["Avery T."]) == []


async def test_typed_text_survives_the_terminal_closing(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        await pilot.press("4", "enter", *"Half a thought")
        # no Enter, no pause: what SIGHUP does
        assert screen.save_drafts_now() is True
        drew = clinic.member_ids["Drew P."]
        assert [s.text for s in stories(clinic.target, drew)] == ["Half a thought"]

        # typing on updates the same note (after the debounce) rather than adding another
        await pilot.press(*" and more")
        await pass_time(app, pilot, 1.0)
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, drew)] == ["Half a thought and more"]
        await pilot.press(*"!")
        assert screen.save_drafts_now() is True
        assert [s.text for s in stories(clinic.target, drew)] == ["Half a thought and more!"]

        # Enter finishes it: still one note
        await pilot.press("enter")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, drew)] == ["Half a thought and more!"]
        assert notes_shown(screen)[-1].endswith("Half a thought and more!")


async def test_typing_without_a_pause_is_still_saved_every_second(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await to_stories(app, pilot, clinic)
        await pilot.press("2", "enter")
        for char in "abcdefg":  # each key well inside the 0.6 s debounce of the one before
            await pilot.press(char)
            await pass_time(app, pilot, 0.3)
        app.store.flush()  # no save_drafts_now: what a crash would leave
        saved = stories(clinic.target, clinic.member_ids["Blake S."])
        assert len(saved) == 1 and saved[0].text.startswith("abcd")


async def test_leaving_the_step_or_the_member_keeps_the_typing(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        await pilot.press("1", "enter", *"Avery started")
        await pilot.press("f2")  # the step changes: the screen flushes the typing
        await settle(app, pilot)
        avery = clinic.member_ids["Avery T."]
        assert [s.text for s in stories(clinic.target, avery)] == ["Avery started"]

        await pilot.press("f3")
        await settle(app, pilot)
        assert note_input(screen).value == "Avery started"  # still there to go on with
        assert app.focused is note_input(screen)
        await pilot.press(*" talking", "escape", "2")  # another member: the note is kept for Avery
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, avery)] == ["Avery started talking"]
        assert note_input(screen).value == ""
        assert heading(screen).startswith("#2  Blake S.")
        assert stories(clinic.target, clinic.member_ids["Blake S."]) == []


# --------------------------------------------------------------------------- follow-ups


async def test_follow_up_key_creates_a_follow_up(tmp_path: Path) -> None:
    from iop_facilitator.models import FollowUp

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        casey = clinic.member_ids["Casey R."]

        await pilot.press("3", "ctrl+f")  # nothing written yet: nothing to follow up
        await settle(app, pilot)
        assert rows_of(clinic.target, FollowUp) == []
        assert any("Write the concern as a note first" in m for m in messages(app))

        # from the text being typed (ctrl+f works inside the field)
        await pilot.press("enter", *"Lost housing, needs a call", "ctrl+f")
        await settle(app, pilot)
        items = rows_of(clinic.target, FollowUp)
        assert [(i.member_id, i.meeting_id, i.reason) for i in items] == [
            (casey, screen.meeting_id, "Lost housing, needs a call")
        ]
        assert items[0].due_date == pendulum.now(TZ).date() + dt.timedelta(days=1)
        assert any(m.startswith("Follow-up added for Casey R.") for m in messages(app))
        assert note_input(screen).value == "Lost housing, needs a call"  # the note goes on

        # from the highlighted note in the list
        await pilot.press("enter", *"Second concern", "enter", "escape", "tab")
        await settle(app, pilot)
        notes = screen.query_one("#stories-notes", OptionList)
        assert app.focused is notes
        notes.highlighted = 0
        await pilot.press("ctrl+f")
        await settle(app, pilot)
        reasons = sorted(i.reason for i in rows_of(clinic.target, FollowUp, member_id=casey))
        assert reasons == ["Lost housing, needs a call", "Lost housing, needs a call"]
        notes.highlighted = 1
        await pilot.press("ctrl+f")
        await settle(app, pilot)
        reasons = sorted(i.reason for i in rows_of(clinic.target, FollowUp, member_id=casey))
        assert reasons == ["Lost housing, needs a call", "Lost housing, needs a call", "Second concern"]


# --------------------------------------------------------------------------- editing and deleting


async def test_edit_and_delete_notes(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        eli = clinic.member_ids["Eli N."]
        await pilot.press("5", "enter", *"First", "enter", *"Second", "enter", *"Third", "enter")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, eli)] == ["First", "Second", "Third"]

        # e from the list edits the latest note
        await pilot.press("escape", "e")
        assert app.focused is note_input(screen) and note_input(screen).value == "Third"
        assert "Editing the" in str(screen.query_one("#stories-label", Static).render())
        await pilot.press(*" (edited)", "enter")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, eli)] == ["First", "Second", "Third (edited)"]
        notes = screen.query_one("#stories-notes", OptionList)
        assert app.focused is notes

        # Escape cancels an edit, even one already saved while typing
        notes.highlighted = 0
        await pilot.press("e", *" typo")
        await pass_time(app, pilot, 1.0)
        await settle(app, pilot)
        assert stories(clinic.target, eli)[0].text == "First typo"
        await pilot.press("escape")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, eli)] == ["First", "Second", "Third (edited)"]

        # Delete twice deletes the highlighted note
        notes.highlighted = 1
        await pilot.press("delete")
        await settle(app, pilot)
        assert len(stories(clinic.target, eli)) == 3
        assert any("Press Delete again" in m for m in messages(app))
        await pilot.press("delete")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, eli)] == ["First", "Third (edited)"]

        # an edit to an empty text deletes the note
        notes.highlighted = 0
        await pilot.press("e", "ctrl+u", "enter")
        await settle(app, pilot)
        assert [s.text for s in stories(clinic.target, eli)] == ["Third (edited)"]
        assert len(notes_shown(screen)) == 1


async def test_signed_meeting_notes_are_read_only(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_stories(app, pilot, clinic)
        await pilot.press("1", "enter", *"Before signing", "enter")
        await settle(app, pilot)
        set_status(clinic.target, screen.meeting_id, MeetingStatus.signed)
        screen.reload()
        await settle(app, pilot)
        assert app.focused is members_table(screen)  # out of the field that just became read-only
        app.clear_notifications()

        await pilot.press("enter", "n", "e", "ctrl+f")
        await settle(app, pilot)
        assert note_input(screen).disabled
        assert [s.text for s in stories(clinic.target)] == ["Before signing"]
        assert messages(app) and all("signed and locked" in m for m in messages(app))
        assert "read-only" in str(screen.query_one("#stories-label", Static).render())
        assert notes_shown(screen)[-1].endswith("Before signing")  # still readable


def test_every_binding_has_a_stories_id() -> None:
    ids = [binding.id for binding in StoriesPane.BINDINGS]
    assert all(i and i.startswith("stories.") for i in ids)
    assert len(ids) == len(set(ids))
    assert {"stories.follow_up", "stories.filter", "stories.edit", "stories.delete"} <= set(ids)
