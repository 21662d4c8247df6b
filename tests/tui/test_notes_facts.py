"""Pilot tests of the notes step's facts (issue 13): one key per pick, the observation one key
away, the ✎ marker, drafts following the facts, and payer-lens warnings that jump to the field.

The meeting is the notes tests' (``tests/tui/test_step_notes.py``): Avery and Blake present,
Casey late, the group finished; the app is driven by keys only and the database is read after.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from textual.widgets import Input, OptionList

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.steps.notes import NoteArea, NotesPane
from iop_facilitator.tui.widgets.facts import FactsPanel
from tests.tui.meeting_kit import pass_time, settle
from tests.tui.test_step_notes import SIZE, list_text, open_notes, prepare, read, type_text

OBSERVATION = "Rehearsed the refusal line twice with a peer and smiled when it finally sounded like her own"


def facts_of(target: str, meeting_id: uuid.UUID) -> dict[uuid.UUID, dict]:
    """Every member's stored facts and note goals, plain."""
    from sqlmodel import select

    from iop_facilitator.models import NoteFacts, ProgressNote

    def op(session):
        goals = {n.member_id: list(n.goal_ids or []) for n in
                 session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))}
        out = {}
        for row in session.exec(select(NoteFacts).where(NoteFacts.meeting_id == meeting_id)):
            out[row.member_id] = {
                "goals": goals.get(row.member_id, []),
                "progress": {g: v.get("progress") for g, v in (row.goal_progress or {}).items()},
                "measure": {g: v.get("measure") for g, v in (row.goal_progress or {}).items()},
                "participation": row.participation and str(row.participation.value),
                "affect": list(row.affect or []),
                "presentation": row.presentation,
                "risk_screen": row.risk_screen and str(row.risk_screen.value),
                "safety_event_id": row.safety_event_id,
                "substance_use": row.substance_use and str(row.substance_use.value),
                "use_detail": row.use_detail,
                "observation": row.observation,
                "sections": {k: getattr(row, k) for k in ("behavior", "data", "assessment", "subjective", "objective")},
            }
        for member_id, picked in goals.items():
            out.setdefault(member_id, {"goals": picked})
        return out

    return read(target, op)


def notes_of(target: str, meeting_id: uuid.UUID) -> dict[uuid.UUID, dict]:
    from sqlmodel import select

    from iop_facilitator.models import ProgressNote

    def op(session):
        return {n.member_id: {"goals": list(n.goal_ids or []), "intervention": n.intervention,
                              "response": n.response, "plan": n.plan, "drafted": dict(n.drafted or {})}
                for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))}

    return read(target, op)


async def drafted_notes(tmp_path: Path, **kwargs):
    prepared = prepare(tmp_path, finish=True, **kwargs)
    return prepared


async def open_member(app: IopApp, pilot, prepared, name: str) -> NotesPane:
    """The notes step with ``name``'s note on the editor and the focus on its facts (Enter on the list)."""
    screen = await open_notes(app, pilot, prepared)
    pane = screen.query_one(NotesPane)
    await pilot.press("ctrl+g")  # draft all: goals suggested from the topic, risk prefilled
    await settle(app, pilot)
    listing = pane.query_one("#notes-list", OptionList)
    listing.focus()
    listing.highlighted = listing.get_option_index(str(prepared.id(name)))
    await settle(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)
    return pane


def panel(pane: NotesPane) -> FactsPanel:
    return pane.query_one("#notes-facts", FactsPanel)


async def test_each_fact_is_one_key_and_lands_in_the_database(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    avery = prepared.id("Avery T.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        facts = panel(pane)
        assert facts.has_focus
        goals = facts_of(prepared.clinic.target, prepared.meeting_id)[avery]["goals"]
        assert goals, "the draft ticked the goal the topic suggests"
        assert facts.current_row.name == f"progress:{goals[0]}"  # the first fact not picked yet
        await pilot.press("i")  # improved
        assert facts.current_row.name == "participation"
        await pilot.press("a")  # active
        assert facts.current_row.name == "affect"
        await pilot.press("b")  # bright
        assert facts.current_row.name == "risk"
        await pilot.press("d")  # denied
        assert facts.current_row.name == "use"
        await pilot.press("n")  # no use
        await settle(app, pilot)
        # Past the last fact: the observation, ready for the leader's own words.
        assert pane.query_one("#notes-observation", NoteArea).has_focus
        stored = facts_of(prepared.clinic.target, prepared.meeting_id)[avery]
        assert stored["progress"] == {goals[0]: "improved"}
        assert stored["participation"] == "active"
        assert stored["affect"] == ["bright"]
        assert stored["risk_screen"] == "denied"
        assert stored["substance_use"] == "none"


async def test_words_of_a_fact_and_a_second_affect(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    blake = prepared.id("Blake S.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Blake S.")
        facts = panel(pane)
        goal = facts_of(prepared.clinic.target, prepared.meeting_id)[blake]["goals"][0]
        await pilot.press("w", "enter")  # worse, then the participation row: Enter has no words there
        facts.go_to(f"progress:{goal}")
        await pilot.press("enter")  # the measurable value
        assert pane.query_one("#notes-words", Input).has_focus
        await type_text(pilot, "2 of 7 days")
        await pilot.press("enter")
        await settle(app, pilot)
        assert facts.has_focus
        facts.go_to("affect")
        await pilot.press("a")  # anxious
        await pilot.press("up", "g")  # and guarded
        facts.go_to("affect")
        await pilot.press("enter")
        await type_text(pilot, "arms crossed until the role-play")
        await pilot.press("enter")
        facts.go_to("use")
        await pilot.press("u")  # used: past the last fact, the observation takes the focus
        await settle(app, pilot)
        assert pane.query_one("#notes-observation", NoteArea).has_focus
        await pilot.press("escape")  # back to the list
        await pilot.press("f")  # the facts again
        facts.go_to("use")
        await pilot.press("enter")
        await type_text(pilot, "two beers Saturday")
        await pilot.press("enter")
        await settle(app, pilot)
        stored = facts_of(prepared.clinic.target, prepared.meeting_id)[blake]
        assert stored["progress"] == {goal: "worse"}
        assert stored["measure"] == {goal: "2 of 7 days"}
        assert stored["affect"] == ["anxious", "guarded"]
        assert stored["presentation"] == "arms crossed until the role-play"
        assert stored["substance_use"] == "used"
        assert stored["use_detail"] == "two beers Saturday"
        # The drafts followed the facts: use reported, the plan answers it; worse progress said so.
        note = notes_of(prepared.clinic.target, prepared.meeting_id)[blake]
        from iop_facilitator.services.formats import USE_RESPONSE

        assert USE_RESPONSE.search(note["plan"])
        assert "worse" in note["response"] + note["intervention"] + note["plan"]


async def test_goals_tick_with_digits_and_progress_follows(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    blake = prepared.id("Blake S.")  # two goals on file
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Blake S.")
        facts = panel(pane)
        line = pane._line(blake)
        assert len(line.goals) >= 2
        before = facts_of(prepared.clinic.target, prepared.meeting_id)[blake]["goals"]
        facts.go_to("goals")
        other = next(g for g in line.goals if g.id not in before)
        await pilot.press(str(line.goals.index(other) + 1))
        await settle(app, pilot)
        now = facts_of(prepared.clinic.target, prepared.meeting_id)[blake]["goals"]
        assert set(now) == {*before, other.id}
        assert any(row.name == f"progress:{other.id}" for row in facts.rows)  # a progress row per goal
        await pilot.press(str(line.goals.index(other) + 1))  # untick
        await settle(app, pilot)
        assert facts_of(prepared.clinic.target, prepared.meeting_id)[blake]["goals"] == before


async def test_risk_screen_prefilled_from_the_safety_event_and_endorsed_needs_one(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path, safety=True)
    avery, blake = prepared.id("Avery T."), prepared.id("Blake S.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        stored = facts_of(prepared.clinic.target, prepared.meeting_id)
        assert stored[avery]["risk_screen"] == "endorsed" and stored[avery]["safety_event_id"] is not None
        rows = {row.name: row for row in panel(pane).rows}
        assert rows["risk"].chosen == frozenset({"endorsed"})
        # Blake has no safety event: "endorsed" is refused with the way to record one.
        pane.focus_member(blake, "risk_screen")
        await settle(app, pilot)
        assert panel(pane).has_focus and panel(pane).current_row.name == "risk"
        await pilot.press("e")
        await settle(app, pilot)
        assert facts_of(prepared.clinic.target, prepared.meeting_id).get(blake, {}).get("risk_screen") is None
        assert any("f9" in str(n.message) for n in app._notifications)


async def test_observation_is_one_key_away_and_the_marker_goes(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    casey = prepared.id("Casey R.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        listing = pane.query_one("#notes-list", OptionList)
        listing.focus()
        listing.highlighted = listing.get_option_index(str(casey))
        await settle(app, pilot)
        assert list_text(pane)[str(casey)].startswith("✎ ")  # no observation of the leader's yet
        assert all(text.startswith(("✎ ", "⚑ ✎ ")) for key, text in list_text(pane).items() if key != "narrative")
        await pilot.press("o")  # one key
        assert pane.query_one("#notes-observation", NoteArea).has_focus
        await type_text(pilot, OBSERVATION)
        await pass_time(app, pilot, 2)
        assert facts_of(prepared.clinic.target, prepared.meeting_id)[casey]["observation"] == OBSERVATION
        assert not list_text(pane)[str(casey)].startswith("✎")
        # ctrl+o works from inside another field too.
        pane.query_one("#notes-plan", NoteArea).focus()
        await pilot.press("ctrl+o")
        assert pane.query_one("#notes-observation", NoteArea).has_focus


async def test_format_picker_shows_the_formats_own_sections(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    avery = prepared.id("Avery T.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        for expected in ("BIRP", "DAP", "SOAP"):
            await pilot.press("ctrl+f")
            await settle(app, pilot)
            assert pane.snapshot.note_format == expected
        shown = [f for f in ("behavior", "data", "subjective", "objective", "intervention", "response", "assessment",
                             "plan") if pane.query_one(f"#notes-field-{f}").display]
        assert shown == ["subjective", "objective", "assessment", "plan"]
        stored = facts_of(prepared.clinic.target, prepared.meeting_id)[avery]["sections"]
        assert stored["subjective"] and stored["assessment"]  # drafted in SOAP's own words
        await pilot.press("ctrl+f")
        await settle(app, pilot)
        assert pane.snapshot.note_format == "GIRP"


async def test_a_leader_edited_section_is_never_redrafted_by_a_fact(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    avery = prepared.id("Avery T.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        area = pane.query_one("#notes-plan", NoteArea)
        area.focus()
        area.load_text("")
        await type_text(pilot, "Meet with her sponsor before Friday")
        await pass_time(app, pilot, 2)
        before = notes_of(prepared.clinic.target, prepared.meeting_id)[avery]
        await pilot.press("ctrl+o", "escape")
        pane.action_facts()
        panel(pane).go_to("use")
        await pilot.press("u")
        await settle(app, pilot)
        after = notes_of(prepared.clinic.target, prepared.meeting_id)[avery]
        assert after["plan"] == "Meet with her sponsor before Friday"  # the leader's words stay
        assert after["response"] != before["response"]  # the app's draft follows the new fact


async def test_a_payer_lens_warning_jumps_to_the_member_and_field(tmp_path: Path) -> None:
    from iop_facilitator.tui.steps.review import ReviewPane

    prepared = await drafted_notes(tmp_path)
    casey = prepared.id("Casey R.")
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        await pilot.press("f7")
        await settle(app, pilot)
        review = screen.query_one(ReviewPane)
        flags = [f for f in review.shown_findings() if f.kind == "no_observation"]
        assert flags, "drafts without the leader's words are flagged"
        listing = review.query_one("#review-findings", OptionList)
        index = next(i for i, f in enumerate(review.shown_findings())
                     if f.kind == "no_observation" and f.member_id == casey)
        listing.focus()
        listing.highlighted = index
        await pilot.press("enter")
        await settle(app, pilot)
        notes = screen.query_one(NotesPane)
        assert screen.step == "notes"
        assert notes.current_member_id() == casey
        assert notes.query_one("#notes-observation", NoteArea).has_focus


async def test_a_goal_the_leader_unticked_is_not_ticked_again_by_the_drafts(tmp_path: Path) -> None:
    prepared = await drafted_notes(tmp_path)
    avery = prepared.id("Avery T.")  # one goal on file, ticked by the draft
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        facts = panel(pane)
        assert facts_of(prepared.clinic.target, prepared.meeting_id)[avery]["goals"]
        facts.go_to("goals")
        await pilot.press("1")  # untick it
        await settle(app, pilot)
        facts.go_to("participation")
        await pilot.press("m")  # a fact redrafts the app's sections, never the leader's choices
        await settle(app, pilot)
        stored = facts_of(prepared.clinic.target, prepared.meeting_id)[avery]
        assert stored["goals"] == [] and stored["participation"] == "minimal"
        assert "missing: goal" in list_text(pane)[str(avery)]


async def test_f1_lists_the_picks_of_the_fact_under_the_cursor_only(tmp_path: Path) -> None:
    from iop_facilitator.tui.screens.help import binding_rows

    prepared = await drafted_notes(tmp_path)
    app = IopApp(prepared.clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_member(app, pilot, prepared, "Avery T.")
        panel(pane).go_to("participation")
        await settle(app, pilot)
        picks = sorted(row.keys for row in binding_rows(app.screen) if row.binding_id.startswith("facts.pick_"))
        assert picks == ["a", "d", "l", "m", "p"]
