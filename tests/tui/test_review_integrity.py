"""Pilot tests of the review step's record-integrity parts: sign-time findings, names to initials,
addenda and co-signature on a signed meeting."""

from __future__ import annotations

import uuid
from pathlib import Path

from textual.widgets import Input, OptionList, Static, TextArea

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.screens.meeting import MeetingScreen
from iop_facilitator.tui.dialogs.review import AddendumDialog, ConfirmCosign, ConfirmSign
from iop_facilitator.tui.steps.review import ReviewPane
from tests.tui.meeting_kit import settle, wait_for
from tests.tui.test_step_notes import Prepared, notes_by_member, prepare, read, type_text
from tests.tui.test_step_review import last_notification, open_review, status_line

SIZE = (120, 40)
CLONED = "Member was engaged and receptive to feedback from peers throughout the whole discussion."


def write(target: str, op) -> None:
    from iop_facilitator.db.engine import open_database

    database = open_database(target)
    try:
        with database.begin() as session:
            op(session)
    finally:
        database.dispose()


def with_flawed_notes(tmp_path: Path) -> Prepared:
    """A finished meeting whose notes share a sentence (Avery and Blake) and name a peer (Avery's)."""
    from iop_facilitator.services.notes import save_note

    prepared = prepare(tmp_path, finish=True, notes=True, narrative="Group met for the topic.")

    def op(session) -> None:
        save_note(session, prepared.meeting_id, prepared.id("Avery T."),
                  response=f"Avery spoke about the river trail and thanked Blake for the ride. {CLONED}")
        save_note(session, prepared.meeting_id, prepared.id("Blake S."),
                  response=f"Blake spoke about his bicycle. {CLONED}")

    write(prepared.clinic.target, op)
    return prepared


def signed(tmp_path: Path, *, intern: bool = False) -> Prepared:
    """A signed meeting; with ``intern`` the lead needs a co-signature and this laptop is a supervisor."""
    from iop_facilitator.config import config_path
    from iop_facilitator.enums import StaffRole
    from iop_facilitator.services import notes, staff

    prepared = prepare(tmp_path, finish=True, notes=True, narrative="Group met for the topic.")
    boss: list[uuid.UUID] = []

    def op(session) -> None:
        if intern:
            staff.update_staff(session, prepared.clinic.staff_id, requires_cosign=True)
            boss.append(staff.add_staff(session, "Riley Boss", "LCSW-S", StaffRole.supervisor).id)
        notes.sign(session, prepared.meeting_id, prepared.clinic.staff_id)

    write(prepared.clinic.target, op)
    if boss:
        config_path().write_text(f'facilitator_id = "{boss[0]}"\n', encoding="utf-8")
    return prepared


async def open_signed(app: IopApp, pilot, prepared: Prepared) -> MeetingScreen:
    await wait_for(pilot, lambda: app.store is not None, "the database to open")
    app.open_meeting(prepared.meeting_id)
    await wait_for(pilot, lambda: isinstance(app.screen, MeetingScreen) and app.screen.snapshot is not None,
                   "the meeting screen")
    screen = app.screen
    assert isinstance(screen, MeetingScreen)
    assert screen.step == "review"  # a signed meeting opens on its review
    await settle(app, pilot)
    return screen


def findings_text(pane: ReviewPane) -> str:
    """The warnings listed before signing (one option each) and the words under them."""
    listing = pane.query_one("#review-findings", OptionList)
    return "\n".join([*(str(o.prompt) for o in listing.options),
                      str(pane.query_one("#review-findings-note", Static).content)])


async def test_findings_are_shown_and_names_replaced_by_initials(tmp_path: Path) -> None:
    prepared = with_flawed_notes(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        await settle(app, pilot)
        text = findings_text(pane)
        assert pane.query_one("#review-findings").display
        assert "Avery T. and Blake S.: the response is near-identical" in text
        assert f"repeated: {CLONED}" in text
        assert "name: Blake" in text
        # The repeated sentence is highlighted (a style, not colour alone: it is also labelled).
        prompts = [o.prompt for o in pane.query_one("#review-findings", OptionList).options]
        assert any(span.style == "reverse" and rendered.plain[span.start:span.end] == CLONED
                   for rendered in prompts for span in rendered.spans)
        assert "2 warnings to review below first" in status_line(pane)

        await pilot.press("i")
        await settle(app, pilot)
        stored = notes_by_member(prepared.clinic.target, prepared.meeting_id)
        assert "thanked B.S. for the ride" in stored[prepared.id("Avery T.")]["response"]
        assert "Names replaced by initials" in last_notification(app)
        assert "name: Blake" not in findings_text(pane)
        assert "near-identical" in findings_text(pane)

        # Signing asks with the warning in the question, and audits the acknowledgement.
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmSign)
        question = str(app.screen.query_one("#review-confirm-question", Static).content)
        assert "1 sign-time warning" in question
        await pilot.press("y")
        await settle(app, pilot)
        assert pane.locked

    from sqlmodel import select

    from iop_facilitator.models import AuditEvent

    def acks(session):
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "meeting.sign_warnings_acknowledged"))
        return [e.details for e in rows]

    assert read(prepared.clinic.target, acks) == [{"warnings": 1, "kinds": ["similar"]}]


async def test_clean_notes_show_no_findings(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, finish=True, notes=True, narrative="Group met for the topic.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        await settle(app, pilot)
        assert pane.findings == []
        assert not pane.query_one("#review-findings").display
        await pilot.press("i")  # hidden and inactive without names to replace
        await settle(app, pilot)
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)  # unchanged, still there


async def test_addendum_on_a_signed_meeting(tmp_path: Path) -> None:
    prepared = signed(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_signed(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        assert "None." in str(pane.query_one("#review-addenda", Static).content)
        await pilot.press("a")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, AddendumDialog)
        await pilot.press("ctrl+s")  # nothing typed: refused inline, dialog stays
        await settle(app, pilot)
        assert app.screen is dialog
        assert "reason" in str(dialog.query_one("#review-addendum-problem", Static).content)
        dialog.query_one("#review-addendum-reason", Input).focus()
        await type_text(pilot, "Late entry")
        await pilot.press("enter")
        assert dialog.query_one("#review-addendum-text", TextArea).has_focus
        await type_text(pilot, "Avery also reported a new job.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, MeetingScreen)
        shown = str(pane.query_one("#review-addenda", Static).content)
        assert "Dana Quinn, LCSW" in shown and "Reason: Late entry" in shown
        assert "Avery also reported a new job." in shown
        assert status_line(pane).startswith("SIGNED by Dana Quinn, LCSW")

    from iop_facilitator.services.addenda import list_addenda

    rows = read(prepared.clinic.target, lambda s: list_addenda(s, prepared.meeting_id))
    assert [(a.reason, a.text, a.author_credentials) for a in rows] == [
        ("Late entry", "Avery also reported a new job.", "LCSW")
    ]


async def test_supervisor_cosigns_from_the_review_step(tmp_path: Path) -> None:
    prepared = signed(tmp_path, intern=True)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_signed(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        await settle(app, pilot)
        assert "awaiting co-signature (c co-signs)" in status_line(pane)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmCosign)
        assert "Co-sign as Riley Boss, LCSW-S?" in str(app.screen.query_one("#review-confirm-question", Static).content)
        await pilot.press("y")
        await settle(app, pilot)
        assert "co-signed by Riley Boss, LCSW-S" in status_line(pane)
        assert not screen.snapshot.awaiting_cosign


async def test_no_cosign_key_for_a_facilitator(tmp_path: Path) -> None:
    from iop_facilitator.services import staff

    from iop_facilitator.config import config_path

    # Signed by a lead who needs a co-signature (whether one is needed is frozen at signing) ...
    prepared = signed(tmp_path, intern=True)
    config_path().unlink()  # ... and this laptop is not the supervisor's
    # Changing the lead's flag after signing moves nothing: the meeting still awaits its co-signature.
    write(prepared.clinic.target, lambda s: staff.update_staff(s, prepared.clinic.staff_id, requires_cosign=False))
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_signed(app, pilot, prepared)
        pane = screen.query_one(ReviewPane)
        line = status_line(pane)
        assert "awaiting co-signature" in line and "co-signs" not in line
        assert pane.check_action("cosign", ()) is False
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, MeetingScreen)


async def test_pasted_escape_sequences_are_stripped(tmp_path: Path) -> None:
    """A bracketed paste reaches the app from the terminal driver: its text is cleaned before any widget."""
    from textual import events

    prepared = signed(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_signed(app, pilot, prepared)
        await pilot.press("a")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, AddendumDialog)
        app.post_message(events.Paste("Late\x1b]0;evil\x07 entry\x00"))
        await settle(app, pilot)
        assert dialog.query_one("#review-addendum-reason", Input).value == "Late entry"
        dialog.query_one("#review-addendum-text", TextArea).focus()
        app.post_message(events.Paste("Line one\x1b[31m red\x1b[0m\nLine two\x9b2J"))
        await settle(app, pilot)
        assert dialog.query_one("#review-addendum-text", TextArea).text == "Line one red\nLine two"


def test_new_bindings_have_ids() -> None:
    from textual.binding import Binding

    from iop_facilitator.tui.app import known_binding_ids

    known = known_binding_ids()
    for owner in (ReviewPane, AddendumDialog, ConfirmCosign):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and (binding.id or "").startswith("review.")
            assert binding.id in known


async def test_home_lists_a_meeting_awaiting_cosignature(tmp_path: Path) -> None:
    from tests.tui.test_home import rows_of
    from tests.tui.test_home import settle as home_loaded

    prepared = signed(tmp_path, intern=True)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot)
        rows = rows_of(app, "open")
        assert [row[0] for row in rows] == ["Evening IOP"]
        assert rows[0][2] == "awaiting co-signature"
