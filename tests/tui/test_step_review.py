"""Pilot and snapshot tests of the Review and sign step (F7): checklist, safety dispositions, times, signing.

Regenerate the SVG after an intended visual change with
``pytest tests/tui/test_step_review.py --snapshot-update`` and review it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest
import time_machine
from textual.widgets import Input, OptionList, Static, TextArea

from iop_facilitator.enums import MeetingStatus
from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.dialogs.review import ConfirmSign, DispositionDialog, TimesDialog
from iop_facilitator.tui.steps.base import DEBOUNCE_SECONDS
from iop_facilitator.tui.steps.notes import NoteArea, NotesPane
from iop_facilitator.tui.steps.review import ReviewPane
from iop_facilitator.tui.widgets.facts import FactsPanel
from tests.tui.meeting_kit import open_meeting, pass_time, settle, wait_for_library
from tests.tui.test_step_notes import (
    Prepared,
    meeting_row,
    notes_by_member,
    prepare,
    read,
    type_text,
)

SIZE = (120, 36)
FROZEN_NOW = pendulum.datetime(2025, 3, 5, 11, 55, tz="America/Chicago")


async def open_review(app: IopApp, pilot, prepared: Prepared):
    screen = await open_meeting(app, pilot, prepared.clinic.group_id)
    await wait_for_library(app, pilot)
    await pilot.press("f7")
    await settle(app, pilot)
    assert screen.step == "review"
    return screen


def checklist_lines(pane: ReviewPane) -> list[str]:
    return [str(o.prompt) for o in pane.query_one("#review-checklist", OptionList).options]


def status_line(pane: ReviewPane) -> str:
    return str(pane.query_one("#review-status", Static).content)


def safety_rows(target: str, meeting_id) -> list[dict]:
    from sqlmodel import select

    from iop_facilitator.models import SafetyEvent

    def op(session):
        rows = session.exec(select(SafetyEvent).where(SafetyEvent.meeting_id == meeting_id))
        return [{"risk": e.risk_level.value, "disposition": e.disposition} for e in rows]

    return read(target, op)


def last_notification(app: IopApp) -> str:
    notes = list(app._notifications)
    return notes[-1].message if notes else ""


# --------------------------------------------------------------------------- checklist


async def test_checklist_and_first_missing_jump(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, finish=True)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        lines = checklist_lines(pane)
        assert lines[:6] == [
            "[✓] Start time recorded",
            "[✓] Stop time recorded (finish the group)",
            "[✓] Attendance for every enrolled member (3 present)",
            "[✓] Topic (curriculum) recorded",
            "[✓] Facilitator with credentials",
            "[ ] Group narrative written",
        ]
        assert lines[6:] == [
            f"[ ] Individualized note for {name} (goal, intervention, response, plan)"
            for name in ("Avery T.", "Blake S.", "Casey R.")
        ]
        assert status_line(pane).startswith("Not ready to sign: 4 items missing (first: Group narrative written)")
        summary = str(pane.query_one("#review-summary", Static).content)
        assert "Dana Quinn, LCSW" in summary
        assert "Cravings and Urges: Riding Out the Wave" in summary
        assert "cravings-and-urges v1.0" in summary
        assert "3 of 5 members (1 late) · 2 absent" in summary
        assert "In person" in summary

        await pilot.press("m")  # first missing: the narrative, on the Notes step
        await settle(app, pilot)
        assert screen.step == "notes"
        notes = screen.query_one(NotesPane)
        assert notes.query_one("#notes-list", OptionList).highlighted_option.id == "narrative"
        notes.query_one("#notes-narrative", NoteArea).focus()
        await type_text(pilot, "Group practised urge surfing")

        await pilot.press("f7")
        await settle(app, pilot)
        assert checklist_lines(pane)[5] == "[✓] Group narrative written"  # saved on the way and shown
        await pilot.press("m")  # next: Avery's note, the cursor on its facts (the goals first)
        await settle(app, pilot)
        assert screen.step == "notes"
        avery = str(prepared.id("Avery T."))
        assert notes.query_one("#notes-list", OptionList).highlighted_option.id == avery
        assert notes.query_one("#notes-facts", FactsPanel).has_focus
        assert notes.query_one("#notes-facts", FactsPanel).current_row.name == "goals"

        await pilot.press("ctrl+g")  # draft the rest
        await settle(app, pilot)
        await pilot.press("f7")
        await settle(app, pilot)
        assert all(line.startswith("[✓]") for line in checklist_lines(pane))
        assert status_line(pane).startswith("Ready to sign")
        await pilot.press("m")
        await settle(app, pilot)
        assert screen.step == "review"
        assert "Nothing is missing" in last_notification(app)


async def test_enter_on_a_checklist_item_goes_there(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, finish=True, narrative="Group met.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        checklist = pane.query_one("#review-checklist", OptionList)
        assert checklist.has_focus
        blake = str(prepared.id("Blake S."))
        checklist.highlighted = checklist.get_option_index(f"note:{blake}")
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.step == "notes"
        assert screen.query_one(NotesPane).query_one("#notes-list", OptionList).highlighted_option.id == blake


# --------------------------------------------------------------------------- safety, times, finishing


async def test_safety_disposition_is_required_before_signing(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, finish=True, safety=True, notes=True, narrative="Group met for the topic.")
    target = prepared.clinic.target
    app = IopApp(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        assert checklist_lines(pane)[-1] == "[ ] Disposition of the safety event for Avery T."
        events = [str(o.prompt) for o in pane.query_one("#review-events", OptionList).options]
        assert len(events) == 1
        assert "Avery T.: passive thoughts of not being here" in events[0]
        assert "[ ] disposition needed" in events[0]

        await pilot.press("s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmSign)
        assert "cannot sign yet: 1 item(s) missing, first: Disposition of the safety event for Avery T." in (
            last_notification(app)
        )
        assert meeting_row(target, prepared.meeting_id)["status"] != MeetingStatus.signed

        await pilot.press("m")  # the first missing item is here: the event gets the cursor
        await settle(app, pilot)
        assert pane.query_one("#review-events", OptionList).has_focus

        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DispositionDialog)
        await pilot.press("ctrl+s")  # nothing written yet: refused in the dialog
        await pilot.pause()
        assert isinstance(app.screen, DispositionDialog)
        assert "Write the disposition" in str(app.screen.query_one("#review-dialog-problem", Static).content)
        assert app.screen.query_one("#review-disposition-text", TextArea).has_focus  # sent to what is missing
        app.screen.query_one("#review-risk").focus()
        await pilot.press("down", "down", "space")  # risk: moderate
        app.screen.query_one("#review-disposition-text", TextArea).focus()
        await type_text(pilot, "Screened privately; safety plan reviewed; clinician to call tomorrow")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, type(screen))
        assert safety_rows(target, prepared.meeting_id) == [
            {"risk": "moderate", "disposition": "Screened privately; safety plan reviewed; clinician to call tomorrow"}
        ]
        assert checklist_lines(pane)[-1] == "[✓] Disposition of the safety event for Avery T."
        assert "risk: Moderate" in str(pane.query_one("#review-events", OptionList).options[0].prompt)

        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmSign)
        question = str(app.screen.query_one("#review-confirm-question", Static).content)
        assert question == "Sign as Dana Quinn, LCSW? Signing locks the meeting."
        await pilot.press("n")  # changed my mind
        await settle(app, pilot)
        assert meeting_row(target, prepared.meeting_id)["status"] != MeetingStatus.signed
        await pilot.press("s")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert meeting_row(target, prepared.meeting_id)["status"] == MeetingStatus.signed


async def test_correct_times_and_finish(tmp_path: Path) -> None:
    from iop_facilitator.clock import to_local

    prepared = prepare(tmp_path)  # not finished yet
    target = prepared.clinic.target
    app = IopApp(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        assert "[ ] Stop time recorded (finish the group)" in checklist_lines(pane)
        await pilot.press("m")  # the first missing item belongs to the check-out step
        await settle(app, pilot)
        assert screen.step == "checkout"
        await pilot.press("f7")
        await settle(app, pilot)
        assert pane.query_one("#review-checklist", OptionList).has_focus
        await pilot.press("f")
        await settle(app, pilot)
        row = meeting_row(target, prepared.meeting_id)
        assert row["status"] == MeetingStatus.completed and row["actual_end"] is not None
        assert "[✓] Stop time recorded (finish the group)" in checklist_lines(pane)

        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimesDialog)
        start = app.screen.query_one("#review-start", Input)
        stop = app.screen.query_one("#review-stop", Input)
        start.value, stop.value = "9:75", "12:00"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TimesDialog)  # not a time: stays open and says so
        assert "not a time" in str(app.screen.query_one("#review-times-problem", Static).content)
        start.value = "09:05"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        row = meeting_row(target, prepared.meeting_id)
        tz = screen.snapshot.timezone
        assert to_local(row["actual_start"], tz).format("HH:mm") == "09:05"
        assert to_local(row["actual_end"], tz).format("HH:mm") == "12:00"
        assert to_local(row["actual_start"], tz).date() == screen.snapshot.local_date
        assert "09:05 – 12:00" in str(pane.query_one("#review-summary", Static).content)
        assert "(175 min)" in str(pane.query_one("#review-summary", Static).content)

        await pilot.press("f")  # already finished: says so, changes nothing
        await settle(app, pilot)
        assert "already finished at 12:00" in last_notification(app)


# --------------------------------------------------------------------------- signing


async def test_signing_locks_the_meeting(tmp_path: Path) -> None:
    from iop_facilitator.errors import Conflict
    from iop_facilitator.services.live import set_narrative

    prepared = prepare(tmp_path, finish=True, notes=True, narrative="Group met for the topic.")
    target = prepared.clinic.target
    app = IopApp(target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        assert status_line(pane).startswith("Ready to sign")
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmSign)
        await pilot.press("y")
        await settle(app, pilot)

        row = meeting_row(target, prepared.meeting_id)
        assert row["status"] == MeetingStatus.signed
        assert row["signed_by_id"] == prepared.clinic.staff_id
        assert row["signer_credentials"] == "LCSW"
        assert row["signed_at"] is not None
        signed_at = to_local_text(row["signed_at"], screen.snapshot.timezone)
        assert status_line(pane) == (
            f"SIGNED by Dana Quinn, LCSW at {signed_at} · locked"
        )

        # Every change is refused now: review keys...
        for key in ("d", "t", "f", "s"):
            await pilot.press(key)
            await settle(app, pilot)
            assert isinstance(app.screen, type(screen))
            assert "signed and locked" in last_notification(app)

        # ...the notes: read-only fields, no drafting, typing changes nothing.
        before = notes_by_member(target, prepared.meeting_id)
        await pilot.press("f6")
        await settle(app, pilot)
        notes = screen.query_one(NotesPane)
        assert "SIGNED (read only)" in str(notes.query_one("#notes-heading", Static).content)
        assert all(area.read_only for area in notes.query(NoteArea))
        assert notes.query_one("#notes-facts", FactsPanel).disabled
        notes.focus_member(prepared.id("Avery T."))
        await pilot.pause()
        notes.query_one("#notes-plan", NoteArea).focus()
        await type_text(pilot, "late edit")
        await pilot.press("ctrl+r")
        await pass_time(app, pilot, DEBOUNCE_SECONDS)
        await settle(app, pilot)
        assert "signed and locked" in last_notification(app)
        assert notes_by_member(target, prepared.meeting_id) == before
        assert not notes.has_pending

    from iop_facilitator.db.engine import open_database

    database = open_database(target)
    try:
        with pytest.raises(Conflict), database.begin() as session:
            set_narrative(session, prepared.meeting_id, "changed after signing")
    finally:
        database.dispose()


def to_local_text(value: dt.datetime, tz: str) -> str:
    from iop_facilitator.clock import to_local

    return to_local(value, tz).format("YYYY-MM-DD HH:mm zz")


# --------------------------------------------------------------------------- snapshot


def test_review_step_snapshot(snap_compare, tmp_path: Path) -> None:
    """The review step of a finished meeting with one safety event waiting for its disposition."""
    with time_machine.travel(FROZEN_NOW, tick=False):
        prepared = prepare(
            tmp_path, finish=True, safety=True, notes=True, narrative="Group met for the topic.",
            start_at=FROZEN_NOW.subtract(hours=2, minutes=55).in_tz("UTC"), end_at=FROZEN_NOW.in_tz("UTC"),
        )

        async def run_before(pilot) -> None:
            app = pilot.app
            await open_review(app, pilot, prepared)
            for _ in range(3):
                await app.workers.wait_for_complete()
                app.store.flush(10.0)
                await pilot.pause()
            app.clear_notifications()
            await pilot.pause()

        assert snap_compare(IopApp(prepared.clinic.target), terminal_size=SIZE, run_before=run_before)


# --------------------------------------------------------------------------- keys


def test_every_binding_has_a_step_id() -> None:
    from textual.binding import Binding

    from iop_facilitator.tui.app import known_binding_ids

    known = known_binding_ids()
    for pane, prefix in ((NotesPane, "notes."), (ReviewPane, "review.")):
        for binding in pane.BINDINGS:
            assert isinstance(binding, Binding) and binding.id and binding.id.startswith(prefix)
            assert binding.id in known
    for dialog in (DispositionDialog, TimesDialog, ConfirmSign):
        assert all(isinstance(b, Binding) and (b.id or "").startswith("review.") for b in dialog.BINDINGS)


async def test_remapped_key_is_shown_and_works(tmp_path: Path) -> None:
    from iop_facilitator.config import config_path

    prepared = prepare(tmp_path, finish=True)
    path = config_path()
    path.write_text(path.read_text(encoding="utf-8") + '\n[keys]\n"review.first_missing" = "g"\n', encoding="utf-8")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        assert str(pane.query_one("#review-hint", Static).content).startswith("g first missing")
        assert status_line(pane).endswith("g goes there.")
        await pilot.press("g")
        await settle(app, pilot)
        assert screen.step == "notes"
