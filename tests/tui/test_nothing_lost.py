"""Typed text on screen survives a stale edit, a failed save and quitting (issue 11, points 3 and 4).

* A stale edit (someone else saved the field meanwhile) opens the conflict dialog with both
  texts; each way out (keep mine, keep theirs, merge by editing) stores what it says, as an
  edit of their text (the record's version moves on by one), and nothing is overwritten
  silently.
* A save refused by a full disk keeps the text in the field, marked "not saved yet", says so
  in words, and is saved by itself once the disk takes it again; Enter on a story note never
  empties the field before the note is in the database.
* Quitting with text the database has not taken offers a rescue file (0600) instead of
  losing it.

The faults are injected at the database layer: while ``DiskFull.on`` every statement that
writes fails the way SQLite fails on a full disk (``database or disk is full``). The real
full disk (a tmpfs) is in ``tests/torture/test_screen_faults.py``.
"""

from __future__ import annotations

import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, TextArea

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.dialogs.conflict import QUIET_SECONDS, ConflictDialog
from iop_facilitator.tui.dialogs.unsaved import UnsavedOnQuit
from iop_facilitator.tui.steps.notes import NoteArea, NotesPane
from iop_facilitator.tui.steps.stories import StoriesPane
from iop_facilitator.tui.widgets.header import AppHeader
from tests.tui.meeting_kit import open_meeting, pass_time, settle
from tests.tui.test_step_notes import (
    SIZE,
    meeting_row,
    open_notes,
    prepare,
    read,
    select_entry,
    type_text,
)

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class DiskFull:
    """While ``on``, every writing statement fails as SQLite does when the disk is full."""

    def __init__(self, database) -> None:  # noqa: ANN001
        from sqlalchemy import event

        self.on = False
        self.refused = 0
        event.listen(database.engine, "before_cursor_execute", self._check)

    def _check(self, _conn, _cursor, statement: str, *_rest) -> None:  # noqa: ANN001
        if self.on and statement.lstrip().split(None, 1)[0].upper() in WRITES:
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")


async def until(pilot, condition, what: str, seconds: float = 10.0) -> None:  # noqa: ANN001
    """Wait until ``condition()`` holds, program time passing with the wait: each check moves the
    test clock (``tests/tui/conftest.py``) on by 0.05 s, so the store's retries and the conflict's
    quiet wait fall due as they would in real time."""
    from iop_facilitator import clock

    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        current = clock.current()
        if isinstance(current, clock.ManualClock):  # the TUI tests' clock; the torture tests run on the real one
            current.advance(0.05)
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


def shown(widget) -> str:  # noqa: ANN001
    """The text a Static shows."""
    return str(widget.content)


def header_text(app: IopApp) -> str:
    return app.screen.query_one(AppHeader).render().plain


def messages_of(app: IopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def narrative_field(pilot, pane: NotesPane) -> NoteArea:  # noqa: ANN001
    """Choose the narrative in the notes step and put the cursor in its field."""
    await select_entry(pilot, pane, "narrative")
    await until(pilot, lambda: pane.query("#notes-narrative"), "the narrative field")
    area = pane.query_one("#notes-narrative", NoteArea)
    area.focus()
    await pilot.pause()
    return area


async def quit_dialog(pilot, app: IopApp) -> UnsavedOnQuit:  # noqa: ANN001
    await app.action_quit()
    await until(pilot, lambda: isinstance(app.screen, UnsavedOnQuit) and app.screen.query("#unsaved-hint"),
                "the unsaved-text dialog")
    await pilot.pause()
    return app.screen


async def narrative_on_a_full_disk(pilot, app: IopApp, prepared, text: str) -> tuple[DiskFull, NotesPane, NoteArea]:  # noqa: ANN001
    """Open the notes step, fill the disk, type ``text`` in the narrative: the store holds it."""
    screen = await open_notes(app, pilot, prepared)
    disk = DiskFull(app.database)
    app.store.retry_delays = (0.2,)
    pane = screen.query_one(NotesPane)
    area = await narrative_field(pilot, pane)
    disk.on = True
    await type_text(pilot, text)
    pane.flush_pending()
    await until(pilot, lambda: app.save_trouble != "", "the store to hold the change")
    return disk, pane, area


def write_elsewhere(target: str, meeting_id: uuid.UUID, text: str) -> None:
    """Another leader's screen saves the narrative (based on what is stored: a clean edit)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.services.live import set_narrative

    database = open_database(target)
    try:
        with database.begin() as session:
            stored = session.get_one(GroupMeeting, meeting_id).group_narrative
            set_narrative(session, meeting_id, text, based_on=stored)
    finally:
        database.dispose()


def narrative_and_version(target: str, meeting_id: uuid.UUID) -> tuple[str, int]:
    from iop_facilitator.models import GroupMeeting

    def op(session):  # noqa: ANN001, ANN202
        meeting = session.get_one(GroupMeeting, meeting_id)
        return meeting.group_narrative, meeting.version

    return read(target, op)


MINE = "Group practised urge surfing and named two early warning signs."
THEIRS = "Group reviewed the wave metaphor; two members shared coping plans."


async def _conflict_on_the_narrative(tmp_path: Path, pilot, app: IopApp, prepared) -> tuple[NotesPane, ConflictDialog]:  # noqa: ANN001
    """Type the narrative here while another screen saves its own: the dialog opens."""
    screen = await open_notes(app, pilot, prepared)
    pane = screen.query_one(NotesPane)
    await narrative_field(pilot, pane)
    await type_text(pilot, "Group practised")
    screen.save_drafts_now()
    await settle(app, pilot)
    assert meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == "Group practised"
    write_elsewhere(prepared.clinic.target, prepared.meeting_id, THEIRS)  # the other leader, meanwhile
    await type_text(pilot, MINE.removeprefix("Group practised"))
    screen.save_drafts_now()
    await until(pilot, lambda: isinstance(app.screen, ConflictDialog) and app.screen.query("#conflict-hint"),
                "the conflict dialog")
    await pass_time(app, pilot, QUIET_SECONDS)  # the typing that went on after it opened is over: keys choose now
    return pane, app.screen


async def test_a_stale_edit_shows_both_texts_and_keep_mine_saves_mine_over_theirs(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane, dialog = await _conflict_on_the_narrative(tmp_path, pilot, app, prepared)
        # Nothing was overwritten: theirs is stored, mine is on screen and in the dialog.
        theirs_stored, version = narrative_and_version(prepared.clinic.target, prepared.meeting_id)
        assert theirs_stored == THEIRS
        assert shown(dialog.query_one("#conflict-theirs")) == THEIRS
        assert shown(dialog.query_one("#conflict-mine")) == MINE
        assert "Group narrative" in shown(dialog.query_one("#conflict-title"))
        field = pane.query_one("#notes-narrative", NoteArea)
        # The dialog waited for a pause in the typing (on a loaded machine a key may come late: it goes
        # on my text in the dialog); no letter was a choice.
        assert MINE.startswith(field.text) and "changed elsewhere" in str(field.border_title)
        assert [k.text for k in app.store.unsaved()] == [MINE]  # offered for rescue while undecided
        await pilot.press("escape")  # Esc does not drop anything: the choice stays open
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("m")
        await settle(app, pilot)
        assert narrative_and_version(prepared.clinic.target, prepared.meeting_id) == (MINE, version + 1)
        assert field.text == MINE and not field.border_title
        assert app.store.unsaved() == []


async def test_keep_theirs_asks_then_shows_theirs_and_stores_nothing(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane, dialog = await _conflict_on_the_narrative(tmp_path, pilot, app, prepared)
        before = narrative_and_version(prepared.clinic.target, prepared.meeting_id)
        await pilot.press("t")
        assert "Drop your text" in shown(dialog.query_one("#conflict-hint"))
        await pilot.press("n")  # any other key: back to the choice, nothing dropped
        assert isinstance(app.screen, ConflictDialog) and dialog.mode == "choose"
        await pilot.press("t", "y")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConflictDialog)
        assert narrative_and_version(prepared.clinic.target, prepared.meeting_id) == before  # theirs, untouched
        field = pane.query_one("#notes-narrative", NoteArea)
        assert field.text == THEIRS and not field.border_title
        # The next edit is based on theirs: no second conflict.
        field.focus()
        field.move_cursor(field.document.end)
        await type_text(pilot, " Closing round.")
        pane.flush_pending()
        await settle(app, pilot)
        assert not isinstance(app.screen, ConflictDialog)
        text, version = narrative_and_version(prepared.clinic.target, prepared.meeting_id)
        assert text == f"{THEIRS} Closing round." and version > before[1]


async def test_merge_by_editing_starts_from_both_texts_and_saves_the_merge(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane, dialog = await _conflict_on_the_narrative(tmp_path, pilot, app, prepared)
        version = narrative_and_version(prepared.clinic.target, prepared.meeting_id)[1]
        await pilot.press("e")
        merge = dialog.query_one("#conflict-merge", TextArea)
        assert merge.has_focus and merge.text == f"{THEIRS}\n\n{MINE}"
        merge.load_text(f"{THEIRS} {MINE}")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConflictDialog)
        assert narrative_and_version(prepared.clinic.target, prepared.meeting_id) == (f"{THEIRS} {MINE}", version + 1)
        assert pane.query_one("#notes-narrative", NoteArea).text == f"{THEIRS} {MINE}"


async def test_a_full_disk_keeps_the_narrative_marked_and_saves_it_when_space_is_free(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        disk, pane, area = await narrative_on_a_full_disk(pilot, app, prepared, "Group practised urge surfing")
        words = ("disk is full: your narrative is kept here and will be saved when space is free")
        assert words in app.save_trouble and words in " ".join(messages_of(app)).lower()
        assert header_text(app).strip().startswith("≡  NOT SAVED YET: ")
        assert area.text == "Group practised urge surfing" and "not saved yet" in str(area.border_title)
        await type_text(pilot, " together")  # typing goes on: the newest text waits in line too
        pane.flush_pending()
        await until(pilot, lambda: disk.refused >= 2, "a few refused tries")
        assert disk.refused >= 2 and meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == ""
        disk.on = False  # space is free again
        await until(pilot, lambda: app.save_trouble == "", "the held changes to be saved")
        await settle(app, pilot)
        assert meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == \
            "Group practised urge surfing together"
        assert not area.border_title and "NOT SAVED" not in header_text(app)
        assert any(m.startswith("Saved: everything that was waiting") for m in messages_of(app))


def stories_of(target: str, meeting_id: uuid.UUID) -> list[str]:
    from sqlmodel import select

    from iop_facilitator.models import StoryNote

    def op(session):  # noqa: ANN001, ANN202
        return [s.text for s in session.exec(select(StoryNote).where(StoryNote.meeting_id == meeting_id)
                                             .order_by(StoryNote.recorded_at))]

    return read(target, op)


async def test_enter_on_a_story_note_never_empties_the_field_before_it_is_saved(tmp_path: Path) -> None:
    """Issue 11 "What was seen" 7: the note was cleared before its save, then lost to a full disk."""
    prepared = prepare(tmp_path)
    casey = prepared.id("Casey R.")
    note = "Casey described a calm weekend with family"
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, prepared.clinic.group_id)
        await pilot.press("f3")
        await settle(app, pilot)
        pane = screen.query_one(StoriesPane)
        pane.focus_member(casey)
        await pilot.pause()
        disk = DiskFull(app.database)
        app.store.retry_delays = (0.2,)
        field = pane.query_one("#stories-input", Input)
        disk.on = True
        pane.action_write()
        await pilot.pause()
        await type_text(pilot, note)
        await pilot.press("enter")
        await until(pilot, lambda: app.save_trouble != "", "the store to hold the note")
        await until(pilot, lambda: disk.refused >= 2, "a few refused tries")
        assert field.value == note  # kept in the field...
        assert "not saved yet" in str(field.border_title)  # ...marked...
        assert "story note is kept here and will be saved when space is free" in app.save_trouble  # ...and said
        assert note not in stories_of(prepared.clinic.target, prepared.meeting_id)
        disk.on = False
        await until(pilot, lambda: field.value == "", "the field to be freed once the note is saved")
        await settle(app, pilot)
        assert stories_of(prepared.clinic.target, prepared.meeting_id).count(note) == 1
        assert not field.border_title
        assert any("the note of Casey R. is in the database now" in m for m in messages_of(app))

        # With a disk that takes it, Enter frees the field once the note is in, and letters typed
        # right after Enter start the next note.
        await type_text(pilot, "Second note")
        await pilot.press("enter")
        await settle(app, pilot)
        assert field.value == "" and "Second note" in stories_of(prepared.clinic.target, prepared.meeting_id)


async def test_quitting_with_unsaved_text_offers_a_private_rescue_file(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await narrative_on_a_full_disk(pilot, app, prepared, "Group practised urge surfing")
        await quit_dialog(pilot, app)
        dialog = app.screen
        await until(pilot, lambda: "28 characters" in shown(dialog.query_one("#unsaved-items")), "the latest text")
        assert "• Group narrative · Evening IOP" in shown(dialog.query_one("#unsaved-items"))
        await pilot.press("escape")  # back to the app: nothing lost, still waiting
        assert not isinstance(app.screen, UnsavedOnQuit) and app.is_running
        await quit_dialog(pilot, app)
        await pilot.press("r")
        await until(pilot, lambda: app.rescued_to is not None, "the rescue file")
    rescued = app.rescued_to
    assert rescued is not None and rescued.is_file()
    assert stat.S_IMODE(rescued.stat().st_mode) == 0o600 and stat.S_IMODE(rescued.parent.stat().st_mode) == 0o700
    body = rescued.read_text(encoding="utf-8")
    assert "=== 1. Group narrative · Evening IOP" in body and "\nGroup practised urge surfing\n" in body
    assert "disk is full" in body


async def test_a_held_save_that_gets_through_while_the_quit_dialog_waits_lets_the_app_quit(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        disk, _pane, _area = await narrative_on_a_full_disk(pilot, app, prepared, "Group practised")
        await quit_dialog(pilot, app)
        await pilot.press("w")
        assert "Waiting" in shown(app.screen.query_one("#unsaved-hint"))
        disk.on = False
        await until(pilot, lambda: not app.is_running, "the app to quit once everything is saved")
    assert app.rescued_to is None
    assert meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == "Group practised"


# --------------------------------------------------------------------------- how the dialog looks


class _ConflictShown(App[None]):
    """Just the conflict dialog over an empty screen, with fictional texts."""

    def on_mount(self) -> None:
        self.push_screen(ConflictDialog("Response · Avery T. (fictional)", theirs=THEIRS, mine=MINE))


def test_snapshot_of_the_conflict_dialog(snap_compare) -> None:  # noqa: ANN001
    async def shown_fully(pilot) -> None:  # noqa: ANN001
        await until(pilot, lambda: pilot.app.screen.query("#conflict-hint"), "the conflict dialog")
        await pilot.pause()

    assert snap_compare(_ConflictShown(), terminal_size=(100, 30), run_before=shown_fully)


async def test_the_conflict_dialog_waits_for_a_pause_in_the_typing(tmp_path: Path) -> None:
    """A save sent while typing meets the change: the field is marked, the dialog opens at the pause."""
    from iop_facilitator.tui.dialogs import conflict

    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        area = await narrative_field(pilot, pane)
        await type_text(pilot, "Group practised")
        screen.save_drafts_now()
        await settle(app, pilot)
        write_elsewhere(prepared.clinic.target, prepared.meeting_id, THEIRS)
        await type_text(pilot, " urge")
        pane.flush_pending()  # sent while typing: it meets their text
        await until(pilot, lambda: "changed elsewhere" in str(area.border_title), "the field's mark")
        for word in (" surfing", " and", " named", " two", " early", " warning", " signs."):
            await type_text(pilot, word)  # "m", "t" and "e" among them: typing, never a choice
            assert not isinstance(app.screen, ConflictDialog)
            await pass_time(app, pilot, conflict.QUIET_SECONDS / 3)
        assert area.text == MINE
        assert [k.text for k in app.store.unsaved()] == [MINE]  # the latest text is offered for rescue
        await until(pilot, lambda: isinstance(app.screen, ConflictDialog) and app.screen.query("#conflict-hint"),
                    "the dialog, once the typing paused")
        await pilot.pause()
        assert shown(app.screen.query_one("#conflict-mine")) == MINE
        assert narrative_and_version(prepared.clinic.target, prepared.meeting_id)[0] == THEIRS  # nothing sent


# --------------------------------------------------------------------------- the other text fields


def _set_elsewhere(target: str, meeting_id: uuid.UUID, column: str, text: str) -> None:
    """Another screen saves ``column`` of the meeting (a clean edit of what is stored)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.services import live

    setter = {"topic_notes": live.set_topic_notes, "homework": live.set_homework}[column]
    database = open_database(target)
    try:
        with database.begin() as session:
            stored = getattr(session.get_one(GroupMeeting, meeting_id), column)
            setter(session, meeting_id, text, based_on=stored)
    finally:
        database.dispose()


def _column(target: str, meeting_id: uuid.UUID, column: str) -> str:
    from iop_facilitator.models import GroupMeeting

    return read(target, lambda session: getattr(session.get_one(GroupMeeting, meeting_id), column))


@pytest.mark.parametrize(("step", "field_id", "column", "title"), [
    ("f4", "#topic-notes", "topic_notes", "Topic discussion notes"),
    ("f5", "#checkout-homework", "homework", "Homework"),
])
async def test_topic_notes_and_homework_meet_the_conflict_dialog_too(tmp_path: Path, step: str, field_id: str,
                                                                     column: str, title: str) -> None:
    prepared = prepare(tmp_path)
    target, meeting_id = prepared.clinic.target, prepared.meeting_id
    app = IopApp(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, prepared.clinic.group_id)
        await pilot.press(step)
        await settle(app, pilot)
        await until(pilot, lambda: screen.query(field_id), "the field")
        area = screen.query_one(field_id, TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        await type_text(pilot, " Mine one")
        screen.save_drafts_now()
        await settle(app, pilot)
        before = _column(target, meeting_id, column)
        assert before.endswith("Mine one")
        _set_elsewhere(target, meeting_id, column, THEIRS)
        await type_text(pilot, " two")
        screen.save_drafts_now()
        await until(pilot, lambda: isinstance(app.screen, ConflictDialog) and app.screen.query("#conflict-hint"),
                    "the conflict dialog")
        await pass_time(app, pilot, QUIET_SECONDS)
        dialog = app.screen
        assert shown(dialog.query_one("#conflict-title")).endswith(title)
        assert shown(dialog.query_one("#conflict-theirs")) == THEIRS
        assert shown(dialog.query_one("#conflict-mine")) == f"{before} two".strip()  # shown stripped
        assert _column(target, meeting_id, column) == THEIRS
        await pilot.press("m")
        await settle(app, pilot)
        assert _column(target, meeting_id, column).strip() == f"{before} two".strip()


async def test_a_story_note_deleted_elsewhere_while_edited_can_be_kept(tmp_path: Path) -> None:
    from tests.tui.test_step_notes import AVERY_STORY

    prepared = prepare(tmp_path)
    target, meeting_id = prepared.clinic.target, prepared.meeting_id
    app = IopApp(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, prepared.clinic.group_id)
        await pilot.press("f3")
        await settle(app, pilot)
        pane = screen.query_one(StoriesPane)
        pane.focus_member(prepared.id("Avery T."))
        await pilot.pause()
        await pilot.press("e")  # edit Avery's note
        field = pane.query_one("#stories-input", Input)
        await until(pilot, lambda: field.value == AVERY_STORY, "the note in the field")

        def delete_elsewhere(session) -> None:  # noqa: ANN001
            from sqlmodel import select

            from iop_facilitator.models import StoryNote
            from iop_facilitator.services.live import update_story

            story = session.exec(select(StoryNote).where(StoryNote.text == AVERY_STORY)).one()
            update_story(session, story.id, "", based_on=AVERY_STORY)

        from iop_facilitator.db.engine import open_database

        other = open_database(target)
        try:
            with other.begin() as session:
                delete_elsewhere(session)
        finally:
            other.dispose()
        await type_text(pilot, " at sunrise")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConflictDialog) and app.screen.query("#conflict-hint"),
                    "the conflict dialog")
        await pass_time(app, pilot, QUIET_SECONDS)
        dialog = app.screen
        assert shown(dialog.query_one("#conflict-theirs-label")) == "Theirs: deleted"
        assert shown(dialog.query_one("#conflict-mine")) == f"{AVERY_STORY} at sunrise"
        assert "add it again" in shown(dialog.query_one("#conflict-hint"))
        assert AVERY_STORY not in stories_of(target, meeting_id)
        await pilot.press("m")
        await settle(app, pilot)
        assert stories_of(target, meeting_id).count(f"{AVERY_STORY} at sunrise") == 1


async def test_a_services_refusal_is_said_at_once_and_never_held(tmp_path: Path) -> None:
    """Only passing storage faults are held and retried; a refusal (a chart id in use) fails at once."""
    from iop_facilitator.db.failures import STALE
    from iop_facilitator.errors import Conflict

    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_meeting(app, pilot, prepared.clinic.group_id)
        failures: list[str] = []

        def refused(_session) -> None:  # noqa: ANN001
            raise Conflict("chart id MRN-77 already belongs to member 0123abcd")

        app.store.submit(refused, failed=failures.append)
        await settle(app, pilot)
        assert failures == ["chart id MRN-77 already belongs to member 0123abcd"] and app.store.trouble == ""
        tries: list[int] = []

        def stale_once(_session) -> str:  # noqa: ANN001
            tries.append(1)
            if len(tries) == 1:
                raise Conflict(STALE)  # a write from an out-of-date snapshot: run again
            return "saved"

        done: list[str] = []
        app.store.retry_delays = (0.05,)
        app.store.submit(stale_once, done=done.append, failed=failures.append)
        await until(pilot, lambda: done == ["saved"], "the retried change")
        assert len(tries) == 2 and len(failures) == 1
