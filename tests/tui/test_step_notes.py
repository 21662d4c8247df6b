"""Pilot tests of the Notes step (F6): individualized drafts, typing that persists, goals, narrative.

The meeting is set up through ``services.live`` before the app opens: five
members, three attended (Avery and Blake present with their own story notes,
Casey late), two absent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from textual.widgets import OptionList

from iop_facilitator.services.notes import draft_narrative
from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.steps.base import DEBOUNCE_SECONDS
from iop_facilitator.tui.steps.notes import NoteArea, NotesPane
from tests.tui.meeting_kit import (
    MEMBERS,
    Clinic,
    make_clinic,
    open_meeting,
    pass_time,
    settle,
    wait_for_library,
)

SIZE = (120, 36)
TOPIC_ID = "cravings-and-urges"
AVERY_STORY = "Avery described walking the river trail at dawn instead of stopping at the liquor store"
BLAKE_STORY = "Blake talked about repairing an old bicycle with a neighbor to fill Friday evenings"
AVERY_FEELING = "hopeful"
OBSERVATIONS = {
    "Avery T.": "Leaned forward during the urge-surfing practice and timed her own wave on the wall clock.",
    "Blake S.": "Kept his arms crossed until the role-play, then volunteered twice to play the friend.",
    "Casey R.": "Came in quietly, caught up from a peer's summary and wrote the homework down at once.",
}
BLAKE_FEELING = "restless"


@dataclass
class Prepared:
    clinic: Clinic
    meeting_id: uuid.UUID

    def id(self, name: str) -> uuid.UUID:
        return self.clinic.member_ids[name]


def prepare(
    folder: Path,
    *,
    topic: bool = True,
    finish: bool = False,
    safety: bool = False,
    notes: bool = False,
    narrative: str = "",
    start_at: dt.datetime | None = None,
    end_at: dt.datetime | None = None,
) -> Prepared:
    """Today's meeting, started, with roll call, check-ins and story notes recorded."""
    from iop_facilitator.clock import local_today
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import AttendanceStatus
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import Group, Staff
    from iop_facilitator.services import live, live_read
    from iop_facilitator.services.note_facts import prefill, save_facts
    from iop_facilitator.services.notes import draft_note, save_note
    from iop_facilitator.services.safety import record_event
    from iop_facilitator.services.settings import get_settings

    clinic = make_clinic(folder)
    ids = clinic.member_ids
    avery, blake, casey, drew, eli = (ids[name] for name in MEMBERS)
    database = open_database(clinic.target)
    try:
        with database.begin() as session:
            group = session.get_one(Group, clinic.group_id)
            lead = session.get_one(Staff, clinic.staff_id)
            today = local_today(get_settings(session).timezone)
            meeting_id = live.start_meeting(session, group, today, facilitator=lead, now=start_at).id
            live.mark(session, meeting_id, avery, AttendanceStatus.present)
            live.mark(session, meeting_id, blake, AttendanceStatus.present)
            live.mark(session, meeting_id, casey, AttendanceStatus.late)
            live.mark(session, meeting_id, drew, AttendanceStatus.absent_excused)
            live.mark(session, meeting_id, eli, AttendanceStatus.absent_unexcused)
            live.set_checkin(session, meeting_id, avery, mood=6, urge=2, feeling=AVERY_FEELING)
            live.set_checkin(session, meeting_id, blake, mood=4, urge=5, feeling=BLAKE_FEELING)
            live.add_story(session, meeting_id, avery, AVERY_STORY)
            live.add_story(session, meeting_id, blake, BLAKE_STORY)
            loaded = load_library().get(TOPIC_ID) if topic else None
            if loaded is not None:
                live.choose_topic(session, meeting_id, loaded)
            if safety:
                record_event(session, meeting_id, avery, "passive thoughts of not being here")
            if finish:
                live.finish_meeting(session, meeting_id, at=end_at)
            if narrative:
                live.set_narrative(session, meeting_id, narrative)
            if notes:
                prefill(session, meeting_id)  # risk screens from the safety events, as drafting does
                snapshot = live_read.load_snapshot(session, meeting_id)
                for line in snapshot.attended:
                    draft = draft_note(line, snapshot, loaded)
                    save_note(session, meeting_id, line.member_id, goal_ids=list(draft.goal_ids),
                              intervention=draft.intervention, response=draft.response, plan=draft.plan)
                    # The leader's own sentence about each member (issue 13): a completed note has one.
                    save_facts(session, meeting_id, line.member_id, observation=OBSERVATIONS[line.display_name])
    finally:
        database.dispose()
    return Prepared(clinic, meeting_id)


def read(target: str, op):
    """Run ``op(session)`` against the database file, outside the app."""
    from iop_facilitator.db.engine import open_database

    database = open_database(target)
    try:
        with database.session() as session:
            return op(session)
    finally:
        database.dispose()


def notes_by_member(target: str, meeting_id: uuid.UUID) -> dict[uuid.UUID, dict]:
    from sqlmodel import select

    from iop_facilitator.models import ProgressNote

    def op(session):
        rows = session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))
        return {
            n.member_id: {"goal_ids": list(n.goal_ids or []), "intervention": n.intervention,
                          "response": n.response, "plan": n.plan}
            for n in rows
        }

    return read(target, op)


def meeting_row(target: str, meeting_id: uuid.UUID) -> dict:
    from iop_facilitator.models import GroupMeeting

    def op(session):
        m = session.get_one(GroupMeeting, meeting_id)
        return {"status": m.status, "narrative": m.group_narrative, "signed_by_id": m.signed_by_id,
                "signed_at": m.signed_at, "signer_credentials": m.signer_credentials,
                "actual_start": m.actual_start, "actual_end": m.actual_end}

    return read(target, op)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


async def open_notes(app: IopApp, pilot, prepared: Prepared):
    screen = await open_meeting(app, pilot, prepared.clinic.group_id)
    await pilot.press("f6")
    await settle(app, pilot)
    await wait_for_library(app, pilot)
    await settle(app, pilot)
    assert screen.step == "notes"
    return screen


def list_text(pane: NotesPane) -> dict[str, str]:
    listing = pane.query_one("#notes-list", OptionList)
    return {o.id: str(o.prompt) for o in listing.options}


async def select_entry(pilot, pane: NotesPane, key: str) -> None:
    pane.focus_member(key) if key != "narrative" else pane._highlight("narrative")
    await pilot.pause()


# --------------------------------------------------------------------------- drafts


async def test_draft_all_uses_only_each_members_own_data(tmp_path: Path) -> None:
    from iop_facilitator.services.live import finish_meeting

    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        before = list_text(pane)
        assert set(before) == {"narrative", *(str(prepared.id(n)) for n in MEMBERS[:3])}  # absent: no note
        assert "missing: goal, intervention, response, plan" in before[str(prepared.id("Avery T."))]
        assert "missing: narrative" in before["narrative"]

        # Seen (issue 9): drafts were offered before the group finished and froze early. Not any more:
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id) == {}
        assert any("once the group is finished" in str(n.message) for n in app._notifications)
        assert "after the group is finished" in str(pane.query_one("#notes-hint").render())

        screen.save(lambda session: finish_meeting(session, prepared.meeting_id))
        await settle(app, pilot)
        await pilot.press("ctrl+g")
        await settle(app, pilot)

        notes = notes_by_member(prepared.clinic.target, prepared.meeting_id)
        avery, blake, casey = (notes[prepared.id(n)] for n in MEMBERS[:3])
        assert set(notes) == {prepared.id(n) for n in MEMBERS[:3]}
        assert AVERY_FEELING in avery["response"] and BLAKE_FEELING in blake["response"]
        # Story notes are referenced by time, never pasted (issue 13).
        assert "in-session note at" in avery["response"] and "in-session note at" in blake["response"]
        for note in (avery, blake, casey):
            assert AVERY_STORY not in note["response"] and BLAKE_STORY not in note["response"]
        for other in (BLAKE_STORY, BLAKE_FEELING, "Blake"):
            assert other not in avery["response"] and other not in avery["plan"]
        for other in (AVERY_STORY, AVERY_FEELING, "Avery"):
            assert other not in blake["response"] and other not in blake["plan"]
        for story in (AVERY_STORY, BLAKE_STORY):
            assert story not in casey["response"]
        assert "Arrived late" in casey["response"]
        assert "Cravings and Urges" not in avery["intervention"]  # the group's method: in the narrative
        for note in (avery, blake, casey):
            assert note["goal_ids"] and note["plan"]

        narrative = meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"]
        assert "Cravings and Urges: Riding Out the Wave" in narrative
        assert "3 of 5 members attended" in narrative
        for name in MEMBERS:
            assert name.split()[0] not in narrative

        after = list_text(pane)
        # Every section drafted: what is left is the leader's own observation (marked ✎).
        assert all(after[str(prepared.id(n))].endswith("missing: your observation") and "✎" in after[str(prepared.id(n))]
                   for n in MEMBERS[:3])
        assert "✓ written" in after["narrative"]
        # The open editor shows the drafted text.
        assert pane.query_one("#notes-narrative", NoteArea).text == narrative


async def test_draft_one_member_fills_only_empty_fields(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, finish=True)
    blake = prepared.id("Blake S.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        pane.focus_member(blake)
        await pilot.pause()
        pane.query_one("#notes-response", NoteArea).focus()
        await type_text(pilot, "Blake named two supports")
        await pilot.press("ctrl+r")  # drafts right away: the typing is saved first, then kept
        await settle(app, pilot)

        notes = notes_by_member(prepared.clinic.target, prepared.meeting_id)
        assert set(notes) == {blake}  # only the selected member
        note = notes[blake]
        assert note["response"] == "Blake named two supports"
        assert note["intervention"] and note["plan"] and note["goal_ids"]
        assert pane.query_one("#notes-response", NoteArea).text == "Blake named two supports"
        assert pane.query_one("#notes-plan", NoteArea).text == note["plan"]

        # Re-drafting changes nothing: every field has text now.
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[blake] == note


async def test_later_check_out_ratings_reach_the_drafts_but_never_edited_text(tmp_path: Path) -> None:
    """Seen: check-out ratings given after drafting never reached the draft ("Nothing to draft")."""
    prepared = prepare(tmp_path, finish=True)
    avery, blake = prepared.id("Avery T."), prepared.id("Blake S.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        pane.focus_member(blake)
        await pilot.pause()
        pane.query_one("#notes-response", NoteArea).focus()
        await type_text(pilot, "Blake named two supports. ")  # the leader edits the draft
        await pilot.press("f5")  # to check-out: typing is saved on the way
        await settle(app, pilot)
        assert screen.step == "checkout"
        await pilot.press("8", "down", "3")  # Avery 8, Blake 3
        await settle(app, pilot)
        notes = notes_by_member(prepared.clinic.target, prepared.meeting_id)
        assert "closing rating 8/10" in notes[avery]["response"]
        assert notes[blake]["response"].startswith("Blake named two supports. ")
        assert "closing rating" not in notes[blake]["response"]  # edited by the leader: never redrafted
        assert any("Redrafted" in str(n.message) for n in app._notifications)
        await pilot.press("f6")
        await settle(app, pilot)
        pane.focus_member(avery)
        await pilot.pause()
        assert "closing rating 8/10" in pane.query_one("#notes-response", NoteArea).text


def test_narrative_draft_has_counts_and_no_names(tmp_path: Path) -> None:
    from iop_facilitator.library.load import load_library
    from iop_facilitator.services.live_read import load_snapshot

    prepared = prepare(tmp_path, finish=True, safety=True)
    snapshot = read(prepared.clinic.target, lambda s: load_snapshot(s, prepared.meeting_id))
    text = draft_narrative(snapshot, load_library().get(TOPIC_ID))
    assert text.startswith("IOP process group met in person for \"Cravings and Urges: Riding Out the Wave\";")
    assert "3 of 5 members attended (1 arrived late, 2 absent)." in text
    assert "1 safety concern was addressed" in text
    assert "Group ran " in text
    for name in MEMBERS:
        assert name.split()[0] not in text


# --------------------------------------------------------------------------- typing


async def test_typing_persists_after_debounce_and_on_save_now(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    avery = prepared.id("Avery T.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        pane.focus_member(avery)
        await pilot.pause()
        pane.query_one("#notes-plan", NoteArea).focus()
        await type_text(pilot, "Call sponsor tonight")
        await pass_time(app, pilot, DEBOUNCE_SECONDS)  # past the debounce
        await settle(app, pilot)
        assert not pane.has_pending
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[avery]["plan"] == "Call sponsor tonight"
        assert "missing: goal, intervention, response" in list_text(pane)[str(avery)]

        # The narrative, saved at once without waiting for the debounce (terminal closing).
        await select_entry(pilot, pane, "narrative")
        pane.query_one("#notes-narrative", NoteArea).focus()
        await type_text(pilot, "Group practised urge surfing")
        assert screen.save_drafts_now()
        assert meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == "Group practised urge surfing"


async def test_refresh_never_overwrites_focused_or_pending_typing(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    avery = prepared.id("Avery T.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        pane.focus_member(avery)
        await pilot.pause()
        area = pane.query_one("#notes-response", NoteArea)
        area.focus()
        await type_text(pilot, "Still typing")
        screen.reload()  # a fresh snapshot arrives (older than the typing)
        await settle(app, pilot)  # no time passes: the typing is still waiting for its debounce
        assert area.text == "Still typing"
        await pass_time(app, pilot, DEBOUNCE_SECONDS)
        await settle(app, pilot)
        # Leaving the member and coming back shows what was typed, saved.
        await pilot.press("ctrl+down")
        await pilot.press("ctrl+up")
        await pilot.pause()
        assert pane.query_one("#notes-response", NoteArea).text == "Still typing"
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[avery]["response"] == "Still typing"


async def test_step_keys_work_from_a_text_field(tmp_path: Path) -> None:
    prepared = prepare(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        await select_entry(pilot, pane, "narrative")
        pane.query_one("#notes-narrative", NoteArea).focus()
        await type_text(pilot, "Draft text")
        await pilot.press("f7")  # TextArea's own F7 (select all) gives way to the step key
        await settle(app, pilot)
        assert screen.step == "review"
        assert meeting_row(prepared.clinic.target, prepared.meeting_id)["narrative"] == "Draft text"


# --------------------------------------------------------------------------- goals


async def test_goal_selection_persists(tmp_path: Path) -> None:
    from iop_facilitator.tui.widgets.facts import FactsPanel

    prepared = prepare(tmp_path)
    blake = prepared.id("Blake S.")  # two goals in the kit's plan
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        pane.focus_member(blake)  # no goal picked yet: the cursor lands on the goals, on the facts
        await pilot.pause()
        facts = pane.query_one("#notes-facts", FactsPanel)
        assert facts.has_focus and facts.current_row.name == "goals"
        assert [c.label for c in facts.current_row.choices] == ["1. Sleep seven hours a night", "2. Call my sponsor daily"]
        await pilot.press("2")
        await settle(app, pilot)
        snapshot = screen.snapshot
        second = snapshot.member(blake).goals[1].id
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[blake]["goal_ids"] == [second]
        await pilot.press("1")
        await settle(app, pilot)
        first = snapshot.member(blake).goals[0].id
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[blake]["goal_ids"] == [first, second]
        assert "missing: intervention, response, plan" in list_text(pane)[str(blake)]
        # Survives switching members (and a fresh snapshot).
        await pilot.press("ctrl+up", "ctrl+down")
        await settle(app, pilot)
        assert facts.rows[0].chosen == frozenset({first, second})


async def test_soap_format_shows_its_own_sections(tmp_path: Path) -> None:
    from iop_facilitator.enums import NoteFormat
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.tui.widgets.facts import FactsPanel

    prepared = prepare(tmp_path)

    def soap(session):
        session.get_one(GroupMeeting, prepared.meeting_id).note_format = NoteFormat.SOAP
        session.commit()

    read(prepared.clinic.target, soap)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        avery = prepared.id("Avery T.")
        assert "missing: goal, subjective, objective, assessment, plan, your observation" in list_text(pane)[str(avery)]
        pane.focus_member(avery)
        await pilot.pause()
        assert pane.query_one("#notes-facts", FactsPanel).has_focus  # the facts come first
        box = pane.query_one("#notes-member-box")
        order = [c.id for c in box.children if c.id and c.id.startswith("notes-field-") and c.display]
        assert order == ["notes-field-observation", "notes-field-subjective", "notes-field-objective",
                         "notes-field-assessment", "notes-field-plan"]
        assert "S · Subjective" in str(pane.query_one("#notes-label-subjective").content)
        assert "Objective" in str(pane.query_one("#notes-label-observation").content)  # where it is shown
