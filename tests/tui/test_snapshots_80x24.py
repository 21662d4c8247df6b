"""Each of the six meeting steps at 80x24, the smallest common terminal (SVGs in ``__snapshots__``).

One fictional meeting, built through the services with the wall clock frozen
(``time_machine``, not ticking): eight members (one drop-in), two near or over the
program's absence limit, one safety concern, check-in ratings, story notes, a topic,
check-out ratings and takeaways. Each test opens the meeting and shows one step in
the state a leader would have it mid-group: the safety flags, absence warnings and
the field being typed in must be on screen.

Regenerate after an intended visual change with
``pytest tests/tui/test_snapshots_80x24.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import time_machine

from iop_facilitator.tui.app import IopApp
from tests.tui.meeting_kit import make_clinic, open_meeting, settle

SIZE = (80, 24)
FROZEN = dt.datetime(2025, 3, 5, 9, 40, tzinfo=dt.timezone(dt.timedelta(hours=-6)))  # 09:40 in Chicago (CST)
TODAY = dt.date(2025, 3, 5)
START = dt.datetime(2025, 3, 5, 15, 2, tzinfo=dt.UTC)  # 09:02 CST
MEMBERS = ("Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.", "Frankie O.", "Gray M.")
TOPIC = "handling-stress"


@dataclass
class Meeting:
    target: str
    group_id: uuid.UUID
    meeting_id: uuid.UUID
    ids: dict[str, uuid.UUID]


def build(folder: Path, *, finish: bool = False, drafts: bool = False, observed: bool = False) -> Meeting:
    """The fictional meeting, as far as the step needs (every name is invented)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import AttendanceStatus as S
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import Group, Staff
    from iop_facilitator.services import live, members, note_facts, notes
    from tests.tui.test_step_checkin import past_absences

    clinic = make_clinic(folder, members=MEMBERS)
    ids = dict(clinic.member_ids)
    past_absences(clinic.target, clinic.group_id, {ids["Drew P."]: 4, ids["Gray M."]: 7}, today=TODAY)
    topic = load_library().get(TOPIC)
    database = open_database(clinic.target)
    try:
        with database.begin() as s:
            group = s.get_one(Group, clinic.group_id)
            lead = s.get_one(Staff, clinic.staff_id)
            meeting = live.start_meeting(s, group, TODAY, facilitator=lead, now=START)
            m = meeting.id
            morgan = members.add_member(s, "Morgan L.")
            ids["Morgan L."] = morgan.id
            for name, status, mood, urge, feeling in (
                ("Avery T.", S.present, 7, 2, "hopeful"),
                ("Blake S.", S.late, 4, 6, "tired"),
                ("Casey R.", S.present, 10, 0, "grateful"),
                ("Drew P.", S.absent_unexcused, None, None, ""),
                ("Eli N.", S.absent_excused, None, None, ""),
                ("Frankie O.", S.present, 5, 3, "restless"),
            ):
                live.mark(s, m, ids[name], status, at=START, by=lead.id)
                if mood is not None:
                    live.set_checkin(s, m, ids[name], mood=mood, urge=urge, feeling=feeling, by=lead.id)
            live.set_checkin(s, m, ids["Blake S."], safety_concern=True)
            live.add_drop_in(s, m, morgan.id, at=START + dt.timedelta(minutes=4))
            live.add_story(s, m, ids["Avery T."], "Walked the river trail instead of stopping at the store.",
                           at=START + dt.timedelta(minutes=12), author_id=lead.id)
            live.add_story(s, m, ids["Blake S."], "Sleep has been short since the new shift started.",
                           at=START + dt.timedelta(minutes=18), author_id=lead.id)
            live.add_story(s, m, ids["Blake S."], "Called a sponsor twice this week.",
                           at=START + dt.timedelta(minutes=21), author_id=lead.id)
            live.choose_topic(s, m, topic)
            live.set_topic_notes(s, m, "Stress signals the group named: tight chest, short temper.")
            for name, rating, takeaway in (("Avery T.", 8, "Breathe before answering"),
                                           ("Casey R.", 9, "Ask for help sooner")):
                live.set_checkout(s, m, ids[name], mood=rating, takeaway=takeaway, by=lead.id)
            if finish:
                live.finish_meeting(s, m, at=START + dt.timedelta(minutes=38))
            if drafts:
                notes.draft_notes(s, m, topic)
            if observed:  # the leader's own words on Avery's note (the list drops its ✎)
                note_facts.save_facts(s, m, ids["Avery T."], participation="active", affect=["bright"],
                                      risk_screen="denied", substance_use="none",
                                      observation="Timed her breathing on the wall clock during the practice.")
    finally:
        database.dispose()
    return Meeting(clinic.target, clinic.group_id, m, ids)


async def show(pilot, meeting: Meeting, step_key: str, *keys: str) -> None:  # noqa: ANN001
    app = pilot.app
    screen = await open_meeting(app, pilot, meeting.group_id)
    for _ in range(200):
        if app.library is not None:
            break
        await pilot.pause(0.02)
    await settle(app, pilot)
    await pilot.press(step_key)
    await settle(app, pilot)
    if keys:
        await pilot.press(*keys)
    # What was typed is saved and shown now, not whenever the typing pause happens to end.
    screen.flush_drafts()
    screen.reload()
    for _ in range(3):
        await settle(app, pilot)
        await app.workers.wait_for_complete()
    assert screen.query_one(f"#{screen.step}") is not None
    from textual.widgets import Input, TextArea

    for field in [*screen.query(Input), *screen.query(TextArea)]:
        field.cursor_blink = False  # a blinking cursor would make the picture depend on the moment
    app.clear_notifications()
    await pilot.pause()


def test_checkin_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path)

        async def run_before(pilot) -> None:  # noqa: ANN001
            # Grey M. (over the limit) gets a mood: it implies present; the cursor stays on the row.
            await show(pilot, meeting, "f2", "end", "up", "6")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_stories_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path)

        async def run_before(pilot) -> None:  # noqa: ANN001
            await show(pilot, meeting, "f3", "2", "n", *"Named two people to call")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_topic_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path)

        async def run_before(pilot) -> None:  # noqa: ANN001
            # typed into the discussion notes, then Esc back to the prompts (no blinking cursor to catch)
            await show(pilot, meeting, "f4", "n", "end", "space", *"cold water helps", "escape")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_checkout_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path)

        async def run_before(pilot) -> None:  # noqa: ANN001
            await show(pilot, meeting, "f5", "down", "6", "t", *"Go to bed earlier")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_notes_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path, finish=True, drafts=True, observed=True)

        async def run_before(pilot) -> None:  # noqa: ANN001
            # Blake's facts: progress improved, participation when prompted, affect tired; the cursor
            # is on the risk screen, with the check-in's concern and how to record its safety event.
            await show(pilot, meeting, "f6", "enter", "i", "p", "y")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_review_at_80x24(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path, finish=True, drafts=True)

        async def run_before(pilot) -> None:  # noqa: ANN001
            await show(pilot, meeting, "f7")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)


def test_crisis_panel_at_80x24(snap_compare, tmp_path: Path) -> None:
    """F9 with the cursor on Blake S. (a safety concern): Blake is chosen; 988 and 911 stay on
    screen above the member list, who is chosen and the keys below it."""
    with time_machine.travel(FROZEN, tick=False):
        meeting = build(tmp_path)

        async def run_before(pilot) -> None:  # noqa: ANN001
            await show(pilot, meeting, "f2", "home", "down", "f9")

        assert snap_compare(IopApp(meeting.target), terminal_size=SIZE, run_before=run_before)
