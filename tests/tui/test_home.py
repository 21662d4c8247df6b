"""Pilot tests of the app shell and the home screen.

Each test seeds a database through the services (or leaves it empty), starts
``IopApp`` headless and waits until the home screen has loaded or failed.
Tests that look at dates and ages freeze the clock on Wednesday 5 March 2025,
15:30 in Chicago (the clinic's timezone).
"""

from __future__ import annotations

import datetime as dt
import html
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Static

from iop_facilitator.tui.app import IopApp, known_binding_ids
from iop_facilitator.tui.screens.help import HelpScreen
from iop_facilitator.tui.screens.home import DEMO_MARKER, HomeScreen
from iop_facilitator.tui.widgets.header import AppHeader
from tests.tui.meeting_kit import make_clinic
from tests.tui.meeting_kit import settle as settle_store
from tests.tui.meeting_kit import idle, wait_for

EVIL_NAME = "[bold]x[/] \x1b]0;evil\x07"
NOW = dt.datetime(2025, 3, 5, 21, 30, tzinfo=dt.UTC)  # Wed 5 March 2025, 15:30 in Chicago
TODAY = dt.date(2025, 3, 5)


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def seed(target: str, *, clinic_name: str = "Riverside Recovery (fictional)", is_demo: bool = False,
         evil: bool = False) -> dict[str, object]:
    """A fictional clinic seen on Wednesday 5 March 2025 (every name is invented).

    Today: Morning Process 09:00 (finished, to sign), Wednesday Family 13:00
    (signed), Evening Recovery 18:00 (not started). Teen Skills meets on
    other days. Unsigned: Morning Process today (3 h), Evening Recovery on
    Monday (1 day) and an in-progress one from last Thursday (OVERDUE).
    Follow-ups: one overdue, one due today, one tomorrow; one next week and
    one done are not shown.
    """
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import Audience, GroupType, MeetingStatus
    from iop_facilitator.models import Group, Member
    from iop_facilitator.services import groups, live, meetings, members, settings, staff

    database = open_database(target, create=True)
    ids: dict[str, object] = {}
    try:
        with database.begin() as session:
            settings.update_settings(session, clinic_name=clinic_name, timezone="America/Chicago")
            if is_demo:
                settings.get_settings(session).is_demo = True
            lead = staff.add_staff(session, "Dana R.", "LCSW")
            evening = groups.add_group(
                session, "Evening Recovery", group_type=GroupType.relapse_prevention,
                weekdays="mon,wed,thu", start_time="18:00", facilitators=[lead],
            )
            groups.add_group(
                session, "Teen Skills", group_type=GroupType.skills, weekdays="tue,thu",
                start_time="16:00", duration_minutes=120, audience=Audience.adolescent,
            )
            morning = groups.add_group(session, "Morning Process", weekdays="mon,tue,wed,thu,fri", start_time="09:00")
            family = groups.add_group(session, "Wednesday Family", group_type=GroupType.family, weekdays="wed",
                                      start_time="13:00", duration_minutes=90)
            people = {}
            for name in ("Jordan M.", "Sam K.", "Alex P."):
                person = members.add_member(session, name)
                members.enroll(session, person, evening, dt.date(2024, 1, 8))
                people[name] = person.id
            members.enroll(session, session.get_one(Member, people["Jordan M."]), morning, dt.date(2024, 1, 8))
            for group, day, status in (
                (morning, TODAY, MeetingStatus.completed),
                (family, TODAY, MeetingStatus.signed),
                (evening, dt.date(2025, 3, 3), MeetingStatus.completed),
                (evening, dt.date(2025, 2, 27), MeetingStatus.in_progress),
            ):
                meeting = meetings.create_meeting(session, group, day)
                meeting.status = status
                ids[f"{group.name} {day}"] = meeting.id
            for name, reason, due in (
                ("Jordan M.", "Call about housing", dt.date(2025, 3, 3)),
                ("Sam K.", "Check the sleep log", TODAY),
                ("Alex P.", "Bring the workbook", TODAY + dt.timedelta(days=1)),
                ("Alex P.", "Next week's thing", TODAY + dt.timedelta(days=7)),
            ):
                item = live.add_follow_up(session, people[name], reason, due=due)
                ids[reason] = item.id
            done = live.add_follow_up(session, people["Sam K."], "Already done", due=dt.date(2025, 3, 1))
            live.complete_follow_up(session, done.id)
            if evil:  # bypass the services' own cleaning: the screen must clean too
                session.add(Group(name=EVIL_NAME, weekdays=["wed"], start_time="20:00"))
                session.get_one(Member, people["Jordan M."]).display_name = "[red]J[/] \x1b[2J"
            ids.update(evening=evening.id, morning=morning.id, family=family.id, people=people)
    finally:
        database.dispose()
    return ids


def make_empty(target: str) -> None:
    from iop_facilitator.db.engine import open_database

    open_database(target, create=True).dispose()


async def settle(pilot, timeout: float = 15.0) -> HomeScreen:
    """Wait for the database, then the home screen's load, to finish."""
    app = pilot.app

    def loaded() -> bool:  # from the database, not only the start-up preview
        state = app.home.load_state
        return state == "failed" or (state == "ready" and app.store is not None and not len(app.workers) and idle(app))

    await wait_for(pilot, loaded, "the home screen to load", timeout)
    await pilot.pause()
    return app.home


def table_rows(table: DataTable) -> list[list[str]]:
    return [[cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(i)]
            for i in range(table.row_count)]


def rows_of(app: IopApp, table_id: str) -> list[list[str]]:
    return table_rows(app.home.query_one(f"#{table_id}", DataTable))


def warnings(app: IopApp) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "warning"]


def write_config(home: Path, text: str) -> Path:
    folder = home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- what the home screen shows


async def test_today_open_meetings_and_follow_ups(db_target: str, frozen: None) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"
        assert rows_of(app, "today") == [
            ["1", "09:00–12:00", "Morning Process", "1", "to sign"],
            ["2", "13:00–14:30", "Wednesday Family", "0", "signed"],
            ["3", "18:00–21:00", "Evening Recovery", "3", "not started"],
        ]
        title = str(app.home.query_one("#today-title", Static).render())
        assert title == "Today · Wednesday, March 5, 2025 · America/Chicago"
        assert rows_of(app, "open") == [
            ["Evening Recovery", "Thu Feb 27", "in progress", "5 days · OVERDUE"],
            ["Evening Recovery", "Mon Mar 3", "to sign", "1 day"],
            ["Morning Process", "today", "to sign", "3 h"],
        ]
        assert rows_of(app, "follow-ups") == [
            ["Jordan M.", "Call about housing", "Mon Mar 3 · OVERDUE"],
            ["Sam K.", "Check the sleep log", "today"],
            ["Alex P.", "Bring the workbook", "tomorrow"],
        ]
        assert app.title == "Riverside Recovery (fictional)"
        assert "DEMO" not in str(app.home.query_one(AppHeader).render())
        assert app.focused is app.home.query_one("#today")
        assert warnings(app) == []


async def test_empty_database_shows_a_friendly_hint(db_target: str) -> None:
    from iop_facilitator.db.engine import open_database

    open_database(db_target, create=True).dispose()  # what `iop init` does; the app never creates one
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"
        hint = app.home.query_one("#today-empty", Static)
        assert hint.display and str(hint.render()) == "No groups yet: press g to open Groups and add one."
        assert not app.home.query_one("#today").display
        assert str(app.home.query_one("#open-empty", Static).render()).startswith("Nothing waiting")
        assert str(app.home.query_one("#follow-empty", Static).render()) == "No follow-ups due."


async def test_no_group_today_says_so(db_target: str) -> None:
    seed(db_target)
    with time_machine.travel(dt.datetime(2025, 3, 9, 18, 0, tzinfo=dt.UTC), tick=False):  # a Sunday
        app = IopApp(db_target=db_target)
        async with app.run_test(size=(110, 32)) as pilot:
            await settle(pilot)
            hint = app.home.query_one("#today-empty", Static)
            assert hint.display and str(hint.render()) == "No group meets today. Press g to see every group."
            await pilot.press("1")
            await pilot.pause()
            assert any("no group 1" in str(n.message) for n in app._notifications)


async def test_user_text_is_shown_literally_without_escapes(db_target: str, frozen: None) -> None:
    seed(db_target, clinic_name="[red]Clinic[/] \x1b]0;title\x07 \x1b[2J", evil=True)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        names = [row[2] for row in rows_of(app, "today")]
        assert "[bold]x[/]" in names  # literal brackets: had it been markup they would be gone
        assert rows_of(app, "follow-ups")[0][0] == "[red]J[/]"
        assert app.title == "[red]Clinic[/]"
        screen_text = app.export_screenshot()
        assert "[bold]x[/]" in screen_text and "[red]Clinic[/]" in screen_text
        assert "\x1b" not in screen_text and "\x07" not in screen_text and "evil" not in screen_text


# --------------------------------------------------------------------------- one keystroke to start


async def test_digit_starts_todays_group(tmp_path: Path) -> None:
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        assert rows_of(app, "today")[0][2:] == ["Evening IOP", "5", "not started"]
        await pilot.press("1")
        await settle_store(app, pilot)
        assert isinstance(app.screen, MeetingScreen)
        screen = app.screen
        for _ in range(50):
            if screen.snapshot is not None:
                break
            await settle_store(app, pilot)
        assert screen.snapshot is not None and screen.snapshot.group_name == "Evening IOP"
        assert screen.snapshot.facilitator == "Dana Quinn"  # this laptop's facilitator leads it
        await pilot.press("escape", "y")  # back home (Esc asks, y leaves): the meeting under way
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert rows_of(app, "today")[0][4] == "in progress"
        assert rows_of(app, "open")[0][2] == "in progress"

        await pilot.press("enter")  # Enter on the highlighted group resumes the same meeting
        await settle_store(app, pilot)
        assert isinstance(app.screen, MeetingScreen) and app.screen.meeting_id == screen.meeting_id


async def test_digit_on_a_signed_group_opens_it_and_enter_opens_an_unsigned_meeting(
    db_target: str, frozen: None
) -> None:
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    ids = seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("2")  # Wednesday Family: signed, opens read-only instead of failing
        await settle_store(app, pilot)
        assert isinstance(app.screen, MeetingScreen)
        assert app.screen.meeting_id == ids[f"Wednesday Family {TODAY}"]
        await pilot.press("f10")  # home
        await settle(pilot)

        await pilot.press("tab")  # to the unsigned meetings
        assert app.focused is app.home.query_one("#open")
        await pilot.press("down", "enter")  # Evening Recovery, Monday
        await settle_store(app, pilot)
        assert isinstance(app.screen, MeetingScreen)
        assert app.screen.meeting_id == ids["Evening Recovery 2025-03-03"]
        assert not [n for n in app._notifications if n.severity == "error"]


async def test_follow_up_marked_done(db_target: str, frozen: None) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import AuditEvent, FollowUp

    ids = seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("d")  # first: moves to the follow-ups, says what to do
        assert app.focused is app.home.query_one("#follow-ups")
        assert rows_of(app, "follow-ups")[0][1] == "Call about housing"
        await pilot.press("down", "d")  # "Check the sleep log"
        await settle_store(app, pilot)
        await settle(pilot)
        assert [row[1] for row in rows_of(app, "follow-ups")] == ["Call about housing", "Bring the workbook"]
        assert any(str(n.message) == "Follow-up marked done." for n in app._notifications)
    database = open_database(db_target)
    try:
        with database.session() as session:
            item = session.get_one(FollowUp, ids["Check the sleep log"])
            assert item.done and item.done_at is not None
            assert session.exec(
                AuditEvent.__table__.select().where(AuditEvent.action == "follow_up.done")  # type: ignore[attr-defined]
            ).all()
    finally:
        database.dispose()


async def test_command_palette_has_start_session(tmp_path: Path) -> None:
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        expected = {"Start session", "Members (roster)", "Groups", "Refresh the home screen", "Quit",
                    "Start session: today's group 1"}

        def titles() -> set[str]:
            if not isinstance(app.screen, CommandPalette):
                return set()
            commands = app.screen.query_one(CommandList)
            return {commands.get_option_at_index(i).hit.text for i in range(commands.option_count)}

        await wait_for(pilot, lambda: expected <= titles(), "the command palette's commands")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"start session", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MeetingScreen), "the meeting screen")


async def test_keys_open_roster_groups_and_settings(tmp_path: Path) -> None:
    from iop_facilitator.tui.screens.groups import GroupsScreen
    from iop_facilitator.tui.screens.roster import RosterScreen
    from iop_facilitator.tui.screens.settings import SettingsScreen

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        for key, screen_type in (("m", RosterScreen), ("g", GroupsScreen), ("s", SettingsScreen)):
            await pilot.press(key)
            await settle_store(app, pilot)
            assert isinstance(app.screen, screen_type)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, HomeScreen)


async def test_home_reloads_when_it_comes_back(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        assert rows_of(app, "follow-ups") == []
        _add_follow_up(clinic.target, clinic.member_ids["Avery T."])
        await pilot.press("m")  # away and back again
        await settle_store(app, pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert [row[1] for row in rows_of(app, "follow-ups")] == ["Ask about the new job"]


def _add_follow_up(target: str, member_id) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import live

    database = open_database(target)
    try:
        with database.begin() as session:
            live.add_follow_up(session, member_id, "Ask about the new job")
    finally:
        database.dispose()


# --------------------------------------------------------------------------- the shell


async def test_f1_lists_every_binding_of_the_screen(db_target: str, frozen: None) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = table_rows(app.screen.query_one("#help-keys", DataTable))
        by_id = {row[2]: row for row in rows if row[2]}
        assert set(by_id) == {
            "app.quit", "app.help", "app.theme", "app.commands", "app.privacy", "app.crisis",
            "home.start", *(f"home.start_{n}" for n in range(1, 10)), "home.follow_up_done",
            "home.roster", "home.groups", "home.settings", "home.refresh",
        }
        assert by_id["home.refresh"][:2] == ["r", "Refresh"]
        assert by_id["home.start_3"][0] == "3"
        assert by_id["app.quit"][:2] == ["^q", "Quit"]
        assert any(row[1] == "Cursor down" for row in rows)  # the focused table's keys too
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_refresh_picks_up_new_groups(db_target: str, frozen: None) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        _add_group(db_target, "Afternoon Process")
        await pilot.press("r")
        await settle(pilot)
        assert "Afternoon Process" in [row[2] for row in rows_of(app, "today")]


def _add_group(target: str, name: str) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups

    database = open_database(target)
    try:
        with database.begin() as session:
            groups.add_group(session, name, weekdays="wed", start_time="14:00")
    finally:
        database.dispose()


async def test_keymap_from_config_changes_keys(db_target: str, iop_home: Path, frozen: None) -> None:
    write_config(iop_home, '[keys]\n"home.refresh" = "f5"\n"app.help" = "f11"\n"home.start_1" = "ctrl+1,!"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        _add_group(db_target, "Afternoon Process")
        await pilot.press("r")  # no longer bound
        await settle(pilot)
        assert len(rows_of(app, "today")) == 3
        await pilot.press("f5")
        await settle(pilot)
        assert len(rows_of(app, "today")) == 4

        await pilot.press("f1")  # no longer bound either
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f11")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = {row[2]: row[0] for row in table_rows(app.screen.query_one("#help-keys", DataTable)) if row[2]}
        assert rows["home.refresh"] == "f5" and rows["app.help"] == "f11"
        assert warnings(app) == []


async def test_keymap_changes_the_keys_named_on_screen(db_target: str, iop_home: Path, frozen: None) -> None:
    """One key-label helper: the prose hints name the key the user's keymap gives, as the footer does."""
    from iop_facilitator.tui.keys import key_label
    from iop_facilitator.tui.steps.notes import NotesPane
    from iop_facilitator.tui.widgets.fields import PasteTooLong

    write_config(iop_home, '[keys]\n"home.groups" = "f4"\n"notes.draft" = "ctrl+e"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        hint = str(home.query_one("#today-empty", Static).content)
        assert "Press f4 to see every group" in hint
        assert key_label(home, "home.groups") == "f4"  # an active binding of the screen
        assert key_label(home, "notes.draft", NotesPane) == "^e"  # a pane not mounted: its class's binding, remapped
        assert key_label(home, "notes.draft_all", NotesPane) == "^g"  # not remapped: its own key
        assert key_label(home, "no.such.binding", default="x") == "x"
        assert key_label(home, "paste.cancel", PasteTooLong, every=True) == "n or esc"  # a binding with two keys


def test_nothing_reads_textuals_private_keymap() -> None:
    """The app keeps the user's keymap (``IopApp.keymap``); Textual's ``_keymap`` is private."""
    import iop_facilitator.tui as tui

    readers = [str(p) for p in Path(tui.__file__).parent.rglob("*.py") if "._keymap" in p.read_text(encoding="utf-8")]
    assert readers == []


async def test_unknown_keymap_id_and_clash_are_warnings(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, '[keys]\n"home.refrsh" = "f5"\n"app.help" = "r"\n"app.theme" = "ctrl+q"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        await pilot.pause()
        found = warnings(app)
        assert any("'home.refrsh'" in w for w in found)
        assert any("key 'r' to more than one action: app.help, home.refresh" in w for w in found)
        assert any("key 'r' to more than one action: app.help, roster.refresh" in w for w in found)
        assert any("key 'ctrl+q' to more than one action: app.quit, app.theme" in w for w in found)
        assert len(found) == len(set(found))  # Textual's own clash report is not repeated
        assert home.load_state == "ready"


async def test_bad_theme_file_and_config_are_notifications(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, 'theme = "no-such-theme"\nkeys = 4\n')
    user_themes = iop_home / "config" / "themes"
    user_themes.mkdir(parents=True)
    (user_themes / "broken.toml").write_text('name = "broken"\nprimary = "#zzz"\n', encoding="utf-8")
    (user_themes / "[red]markup[-].toml").write_text("= nonsense", encoding="utf-8")
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"  # still runs
        assert app.theme == "iop-dark"
        found = warnings(app)
        assert any("broken.toml" in w and "missing" in w for w in found)
        assert any("[red]markup[-].toml" in w and "not valid TOML" in w for w in found)
        assert any("'no-such-theme' is not installed" in w for w in found)
        assert any("[keys] must be a table" in w for w in found)
        assert all(not n.markup for n in app._notifications)  # file names are not markup


async def test_theme_from_config_and_user_theme(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, 'theme = "iop-high-contrast"\n')
    make_empty(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        assert app.theme == "iop-high-contrast"
        assert {"iop-dark", "iop-light", "iop-high-contrast"} <= set(app.available_themes)


async def test_database_problem_is_one_line_and_app_can_quit(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a database\n", encoding="utf-8")
    app = IopApp(db_target=str(target))
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "failed"
        status = app.home.query_one("#status", Static)
        text = str(status.render())
        assert status.display and "is not an iop-facilitator database" in text
        assert "\n" not in text and "Traceback" not in text
        assert "press r to try again, ^q to quit" in text
        assert not app.home.query_one("#today").display
        await pilot.press("1")  # nothing to start: no crash
        await pilot.press("m")  # no database: the roster does not open
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("r")  # retry: same file, same message, no crash
        home = await settle(pilot)
        assert home.load_state == "failed"
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_missing_database_without_create_is_a_message(tmp_path: Path) -> None:
    app = IopApp(db_target=str(tmp_path / "absent.db"), create=False)
    async with app.run_test(size=(110, 32)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "failed"
        assert "no database at" in str(app.home.query_one("#status", Static).render())
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("how", ["flag", "database"])
async def test_demo_marker(db_target: str, how: str) -> None:
    seed(db_target, is_demo=how == "database")
    app = IopApp(db_target=db_target, demo=how == "flag")
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        assert app.sub_title == DEMO_MARKER
        # Said once on the screen, in the header (not again in a banner), whole and reversed.
        header = app.home.query_one(AppHeader)
        line = header.render()
        assert str(line).count(DEMO_MARKER) == 1
        assert any("reverse" in str(span.style) and DEMO_MARKER in str(line)[span.start:span.end]
                   for span in line.spans)
        screen_text = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        assert screen_text.count("DEMO") == 1, screen_text
    # a long clinic name is shortened, the marker never is
    app = IopApp(db_target=db_target, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.title = "A very long clinic name that would fill the whole header line by itself (fictional)"
        await pilot.pause()
        assert DEMO_MARKER in str(app.home.query_one(AppHeader).render())


def test_every_binding_has_an_id() -> None:
    from textual.binding import Binding

    from iop_facilitator.tui.app import _screens_with_keys

    for owner in (IopApp, *_screens_with_keys()):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id, (owner, binding)
    assert {"home.refresh", "home.start", "home.start_9", "home.roster", "home.groups", "home.settings"} <= (
        known_binding_ids()
    )


def test_tui_module_does_not_import_the_database_layer() -> None:
    """The first frame must not wait for SQLAlchemy: it is imported in a worker."""
    import subprocess
    import sys

    code = (
        "import sys, iop_facilitator.tui.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- start-up preview


@pytest.fixture
def held_open(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Opening the database (SQLAlchemy) waits until the test sets the returned event."""
    import threading

    from iop_facilitator.db import engine

    gate = threading.Event()
    real_open = engine.open_database

    def slow_open(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        gate.wait(10)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(engine, "open_database", slow_open)
    yield gate
    gate.set()


async def test_home_shows_data_before_the_database_opens_and_keeps_a_start_key(
    db_target: str, frozen: None, held_open
) -> None:
    """A plain SQLite file is previewed through sqlite3; a key pressed meanwhile is not lost."""
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    if "://" in db_target:
        pytest.skip("the preview reads SQLite files only")
    ids = seed(db_target)
    gate = held_open
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        deadline = time.monotonic() + 10
        while app.home.load_state != "ready" and time.monotonic() < deadline:
            await pilot.pause(0.01)  # polling: settle() would wait for the held-up worker
        assert app.store is None  # still opening: what shows is the preview
        assert [row[2] for row in rows_of(app, "today")] == ["Morning Process", "Wednesday Family", "Evening Recovery"]
        assert app.title == "Riverside Recovery (fictional)"
        await pilot.press("3")  # Evening Recovery, not started yet
        await pilot.pause()
        assert not isinstance(app.screen, MeetingScreen)
        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, MeetingScreen), "the meeting screen")
        await settle_store(app, pilot)  # let the meeting screen finish mounting before the app closes
        from iop_facilitator.models import GroupMeeting

        with app.database.session() as session:
            meeting = session.get_one(GroupMeeting, app.screen.meeting_id)
            assert meeting.group_id == ids["evening"]


async def test_the_early_read_follows_the_home_screens_first_frame(db_target: str, frozen: None, held_open) -> None:
    """``iop`` starts reading the overview before Textual is imported (services/home_early.py):
    read by the time the app mounts, it is shown just after the first frame, the database still opening."""
    from iop_facilitator.services.home_early import read_overview_early

    if "://" in db_target:
        assert read_overview_early(db_target) is None  # only files are read early
        return
    seed(db_target)
    early = read_overview_early(db_target)
    assert early is not None and early.result(timeout=30) is not None and early.ready()
    gate = held_open
    app = IopApp(db_target=db_target, early=early)
    async with app.run_test(size=(110, 32)) as pilot:
        try:
            deadline = time.monotonic() + 10
            while app.home.load_state != "ready" and time.monotonic() < deadline:
                await pilot.pause(0.01)  # polling: settle() would wait for the held-up worker
            assert app.home.load_state == "ready" and app.store is None  # shown, the database not open yet
            assert [row[2] for row in rows_of(app, "today")] == ["Morning Process", "Wednesday Family",
                                                                "Evening Recovery"]
            assert app.title == "Riverside Recovery (fictional)"
            assert not app.home.query_one("#status", Static).display  # no "Opening the database…" line
        finally:
            gate.set()
        await wait_for(pilot, lambda: app.store is not None, "the database open")
        await settle_store(app, pilot)
        assert [row[2] for row in rows_of(app, "today")] == ["Morning Process", "Wednesday Family", "Evening Recovery"]


# --------------------------------------------------------------------------- header and footer


async def test_footer_shows_the_keys_as_remapped_and_a_click_presses_one(
    db_target: str, iop_home: Path, frozen: None
) -> None:
    from iop_facilitator.tui.screens.groups import GroupsScreen
    from iop_facilitator.tui.widgets.footer import KeyFooter

    write_config(iop_home, '[keys]\n"app.help" = "f11"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        footer = app.home.query_one(KeyFooter)
        line = footer.render().plain
        assert " f11 Keys " in line and " f1 " not in line  # the user's key, not the default
        assert line.rstrip().endswith("^p Commands")
        start = next(start for start, _end, key in footer._spans if key == "g")
        await pilot.click(KeyFooter, offset=(start + 1, 0))
        await settle_store(app, pilot)
        assert isinstance(app.screen, GroupsScreen)


async def test_header_shows_the_clinic_and_its_icon_opens_the_command_palette(db_target: str, frozen: None) -> None:
    from iop_facilitator.tui.widgets.header import AppHeader

    seed(db_target, clinic_name=EVIL_NAME)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        text = app.home.query_one(AppHeader).render().plain
        assert text.startswith(" ≡ ") and "[bold]x[/]" in text and "\x1b" not in text  # data, not markup
        await pilot.click(AppHeader, offset=(1, 0))
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
