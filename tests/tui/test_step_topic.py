"""Pilot tests of the Topic step: the picker, the guide, the segment timer, prompts and notes.

The database is checked through the services in a separate connection, never
through what the screen shows. The snapshot test freezes the wall clock with
``time_machine`` (Textual's own monotonic clock is left alone).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import time_machine
from textual.widgets import Markdown, OptionList, Static, TextArea

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.steps.base import DEBOUNCE_SECONDS
from iop_facilitator.tui.widgets.clock import MeetingClock
from tests.tui.meeting_kit import make_clinic, open_meeting, pass_time, settle, wait_for_library

SIZE = (120, 36)
TOPIC = "handling-stress"
FROZEN = dt.datetime(2025, 3, 5, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6)))  # 09:30 in Chicago


# --------------------------------------------------------------------------- helpers


def meeting_row(target: str, meeting_id: uuid.UUID):
    """The meeting as stored (a fresh connection: what a restart would see)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import GroupMeeting

    database = open_database(target)
    try:
        with database.session() as session:
            return session.get_one(GroupMeeting, meeting_id)
    finally:
        database.dispose()


def library():
    from iop_facilitator.library.load import load_library

    return load_library()


def add_past_meeting(target: str, group_id: uuid.UUID, topic_id: str, day: dt.date) -> None:
    """A finished meeting of the group on ``day`` that covered ``topic_id``."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import MeetingStatus
    from iop_facilitator.models import Group
    from iop_facilitator.services.meetings import create_meeting
    from iop_facilitator.services.topics import use_topic

    database = open_database(target)
    try:
        with database.begin() as session:
            group = session.get_one(Group, group_id)
            meeting = create_meeting(session, group, day)
            meeting.status = MeetingStatus.completed
            use_topic(session, meeting, library().get(topic_id))
    finally:
        database.dispose()


def plain(value: object) -> str:
    return getattr(value, "plain", None) or str(value)


def clock_text(app: IopApp) -> str:
    return plain(app.screen.query_one(MeetingClock).render())


async def open_topic(app: IopApp, pilot, group_id: uuid.UUID, *, choose: str | None = TOPIC):
    """Open today's meeting, go to the Topic step (F4) and, if asked, choose a topic in the picker."""
    screen = await open_meeting(app, pilot, group_id)
    await wait_for_library(app, pilot)
    await settle(app, pilot)
    await pilot.press("f4")
    await settle(app, pilot)
    pane = screen.query_one("#topic")
    if choose is not None:
        options = pane.query_one("#topic-options", OptionList)
        ids = [option.id for option in options.options]
        options.highlighted = ids.index(choose)
        assert app.focused is options
        await pilot.press("enter")
        await settle(app, pilot)
    return screen, pane


# --------------------------------------------------------------------------- the picker


async def test_picker_lists_suggestions_first_and_choosing_records_the_topic(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meeting(app, pilot, clinic.group_id)
        # yesterday's meeting covered "handling-stress": the rotation puts it last
        add_past_meeting(clinic.target, clinic.group_id, TOPIC, screen.snapshot.local_date - dt.timedelta(days=1))
        screen, pane = await open_topic(app, pilot, clinic.group_id, choose=None)
        assert pane.query_one("#topic-picker").display
        assert not pane.query_one("#topic-chosen").display

        from iop_facilitator.db.engine import open_database
        from iop_facilitator.models import Group
        from iop_facilitator.services.topics import suggest

        database = open_database(clinic.target)
        try:
            with database.session() as session:
                expected = suggest(session, session.get_one(Group, clinic.group_id), library(),
                                   screen.snapshot.local_date)
        finally:
            database.dispose()
        options = pane.query_one("#topic-options", OptionList)
        ids = [option.id for option in options.options]
        assert ids == [s.topic.topic.id for s in expected]  # every topic, the best suggestions first
        assert len(ids) == len(library().topics)
        assert ids[-1] == TOPIC
        first = plain(options.get_option_at_index(0).prompt)
        assert first.startswith(expected[0].topic.topic.title)
        assert f"Suggested: {expected[0].reason}" in first
        last = plain(options.get_option_at_index(len(ids) - 1).prompt)
        assert "covered recently" in last and "Suggested" not in last

        # choose the second suggestion with Enter
        await pilot.press("down", "enter")
        await settle(app, pilot)
        chosen = library().get(ids[1])
        row = meeting_row(clinic.target, screen.meeting_id)
        assert (row.topic_id, row.topic_version, row.topic_hash) == (
            chosen.topic.id, chosen.topic.version, chosen.content_hash,
        )
        # the guide is shown, with title, version and id
        assert not pane.query_one("#topic-picker").display
        assert pane.query_one("#topic-chosen").display
        heading = plain(pane.query_one("#topic-heading", Static).render())
        assert chosen.topic.title in heading
        assert f"version {chosen.topic.version}" in heading and f"id {chosen.topic.id}" in heading
        guide = pane.query_one("#topic-guide", Markdown)
        assert guide.source.startswith("# " + chosen.topic.title) or chosen.topic.title in guide.source
        assert len(guide.children) > 5  # rendered blocks
        segment = plain(pane.query_one("#segment-timer", Static).render())
        first_segment = chosen.topic.segments[0]
        assert f"Segment 1 of {len(chosen.topic.segments)}" in segment
        assert first_segment.title in segment and "not started" in segment


async def test_change_topic_asks_first_when_prompts_are_ticked(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_topic(app, pilot, clinic.group_id)
        await pilot.press("p", "enter")
        await settle(app, pilot)
        assert meeting_row(clinic.target, screen.meeting_id).prompts_done == [0]

        await pilot.press("ctrl+o")
        await pilot.pause()
        assert type(app.screen).__name__ == "Confirm"
        await pilot.press("escape")  # not now: nothing changes
        await settle(app, pilot)
        assert app.screen is screen and not pane.query_one("#topic-picker").display

        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert pane.query_one("#topic-picker").display
        await pilot.press("escape")  # Escape keeps the current topic (and stays in the meeting)
        await settle(app, pilot)
        assert app.screen is screen and not pane.query_one("#topic-picker").display
        assert meeting_row(clinic.target, screen.meeting_id).prompts_done == [0]

        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert pane.query_one("#topic-picker").display
        options = pane.query_one("#topic-options", OptionList)
        assert app.focused is options
        other = "anger-awareness"
        options.highlighted = [o.id for o in options.options].index(other)
        await pilot.press("enter")
        await settle(app, pilot)
        row = meeting_row(clinic.target, screen.meeting_id)
        assert row.topic_id == other and row.prompts_done == []
        assert "Anger" in plain(pane.query_one("#topic-heading", Static).render())


# --------------------------------------------------------------------------- the segment timer


async def test_timer_walks_the_segments_on_an_injected_monotonic_clock(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        _screen, pane = await open_topic(app, pilot, clinic.group_id)
        segments = library().get(TOPIC).topic.segments  # Opening 5, Didactic 15, ...
        now = [1000.0]
        pane.clock = lambda: now[0]
        assert "left" not in clock_text(app)  # no segment before the timer starts

        await pilot.press("ctrl+s")  # start
        await pilot.pause()
        assert "Opening 05:00 left" in clock_text(app)
        now[0] += 65
        pane.tick()
        await pilot.pause()
        assert "Opening 03:55 left" in clock_text(app)
        assert "03:55 left · running" in plain(pane.query_one("#segment-timer", Static).render())

        await pilot.press("ctrl+f")  # next segment starts from its full time
        await pilot.pause()
        assert "Didactic 15:00 left" in clock_text(app)
        now[0] += 7 * 60 + 48
        pane.tick()
        await pilot.pause()
        assert "Didactic 07:12 left" in clock_text(app)
        timer_text = plain(pane.query_one("#segment-timer", Static).render())
        assert segments[1].title in timer_text and "Segment 2 of" in timer_text
        assert segments[1].script.split()[0] in plain(pane.query_one("#segment-script", Static).render())

        # the pane's own one-second interval posts SegmentChanged while the timer runs
        now[0] += 10 * 60
        await pass_time(app, pilot, 1.0)
        assert "Didactic 02:48 over" in clock_text(app)
        assert "OVER" in plain(pane.query_one("#segment-timer", Static).render())

        await pilot.press("ctrl+s")  # pause: time stands still
        await pilot.pause()
        now[0] += 300
        pane.tick()
        await pilot.pause()
        assert "Didactic (paused) 02:48 over" in clock_text(app)

        await pilot.press("ctrl+r")  # restart the segment
        await pilot.pause()
        assert "Didactic (paused) 15:00 left" in clock_text(app)
        await pilot.press("ctrl+b")  # previous segment: it kept its own elapsed time (65 s)
        await pilot.pause()
        assert "Opening (paused) 03:55 left" in clock_text(app)
        assert pane.timer.index == 0
        await pilot.press("ctrl+f")  # and the restarted Didactic is still at zero
        await pilot.pause()
        assert "Didactic (paused) 15:00 left" in clock_text(app)


# --------------------------------------------------------------------------- prompts and notes


async def test_ticking_prompts_persists_and_shows_x(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_topic(app, pilot, clinic.group_id)
        prompts = pane.query_one("#topic-prompts", OptionList)
        await pilot.press("p")
        assert app.focused is prompts
        assert plain(prompts.get_option_at_index(0).prompt).startswith("[ ] ")
        await pilot.press("enter", "down", "x")
        await settle(app, pilot)
        assert meeting_row(clinic.target, screen.meeting_id).prompts_done == [0, 1]
        assert plain(prompts.get_option_at_index(0).prompt).startswith("[x] ")
        assert plain(prompts.get_option_at_index(1).prompt).startswith("[x] ")
        assert plain(prompts.get_option_at_index(2).prompt).startswith("[ ] ")
        assert "2 of 6 used" in plain(pane.query_one("#topic-prompts-label", Static).render())
        await pilot.press("up", "space")  # untick the first
        await settle(app, pilot)
        assert meeting_row(clinic.target, screen.meeting_id).prompts_done == [1]
        assert plain(prompts.get_option_at_index(0).prompt).startswith("[ ] ")


async def test_notes_are_saved_after_the_pause_and_on_save_drafts_now(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_topic(app, pilot, clinic.group_id)
        notes = pane.query_one("#topic-notes", TextArea)
        await pilot.press("n")
        assert app.focused is notes
        await pilot.press(*"Backpack image helped")
        # a fresh snapshot (another change) arrives while typing is pending: the field keeps the typing
        pane.toggle_prompt(0)
        await settle(app, pilot)
        assert notes.text == "Backpack image helped"
        # Nothing, or (non-stop typing is saved at least every second) a prefix of what was typed.
        assert "Backpack image helped".startswith(meeting_row(clinic.target, screen.meeting_id).topic_notes)

        await pass_time(app, pilot, DEBOUNCE_SECONDS)  # the debounce
        await settle(app, pilot)
        assert meeting_row(clinic.target, screen.meeting_id).topic_notes == "Backpack image helped"

        await pilot.press(*". Quiet members shared")
        assert screen.save_drafts_now()  # e.g. the terminal is closing: no waiting for the pause
        assert meeting_row(clinic.target, screen.meeting_id).topic_notes == (
            "Backpack image helped. Quiet members shared"
        )
        await settle(app, pilot)
        await pilot.press("escape")  # leave the field; the step stays
        assert app.screen is screen and app.focused is pane.query_one("#topic-prompts")
        assert notes.text == "Backpack image helped. Quiet members shared"


async def test_f6_leaves_the_notes_field_for_the_notes_step(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, _pane = await open_topic(app, pilot, clinic.group_id)
        await pilot.press("n", *"abc", "f6")  # TextArea binds F6 itself; the notes field lets it through
        await settle(app, pilot)
        assert screen.step == "notes"
        assert meeting_row(clinic.target, screen.meeting_id).topic_notes == "abc"  # flushed on the step change


async def test_a_signed_meeting_refuses_edits_calmly(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        screen, pane = await open_topic(app, pilot, clinic.group_id)
        from iop_facilitator.enums import MeetingStatus
        from iop_facilitator.models import GroupMeeting

        def sign(session) -> None:
            meeting = session.get_one(GroupMeeting, screen.meeting_id)
            meeting.status = MeetingStatus.signed
            session.add(meeting)

        screen.save(sign)
        await settle(app, pilot)
        app.clear_notifications()
        await pilot.press("p", "enter")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("signed and locked" in m for m in messages)
        assert not any(n.severity == "error" for n in app._notifications)
        assert meeting_row(clinic.target, screen.meeting_id).prompts_done == []
        assert pane.query_one("#topic-notes", TextArea).read_only


# --------------------------------------------------------------------------- snapshot


def test_topic_step_snapshot(snap_compare, tmp_path: Path) -> None:
    with time_machine.travel(FROZEN, tick=False):
        clinic = make_clinic(tmp_path, timezone="America/Chicago")

        async def run_before(pilot) -> None:
            app = pilot.app
            await open_topic(app, pilot, clinic.group_id)
            await settle(app, pilot)
            await app.workers.wait_for_complete()
            assert app.store.flush(10.0)
            app.clear_notifications()
            await pilot.pause()

        assert snap_compare(IopApp(clinic.target), terminal_size=SIZE, run_before=run_before)

