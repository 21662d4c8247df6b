"""Pilot tests of the app shell and the home screen.

Each test seeds a database through the services (or leaves it empty), starts
``IopApp`` headless and waits until the home screen has loaded or failed.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Static

from iop_facilitator.tui.app import IopApp, known_binding_ids
from iop_facilitator.tui.screens.help import HelpScreen
from iop_facilitator.tui.screens.home import DEMO_MARKER, EMPTY_HINT, HomeScreen

EVIL_NAME = "[bold]x[/] \x1b]0;evil\x07"


def seed(target: str, *, clinic_name: str = "Riverside Recovery (fictional)", is_demo: bool = False,
         evil: bool = False) -> None:
    """Two groups, three members in one of them, one meeting waiting for signature, one in progress."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import Audience, GroupType, MeetingStatus
    from iop_facilitator.models import Group
    from iop_facilitator.services import groups, meetings, members, settings, staff

    database = open_database(target, create=True)
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
            for name in ("Jordan M.", "Sam K.", "Alex P."):
                members.enroll(session, members.add_member(session, name), evening, dt.date(2024, 1, 8))
            waiting = meetings.create_meeting(session, evening, dt.date(2024, 3, 4))
            waiting.status = MeetingStatus.completed
            live = meetings.create_meeting(session, evening, dt.date(2024, 3, 6))
            live.status = MeetingStatus.in_progress
            if evil:  # bypass the services' own cleaning: the screen must clean too
                session.add(Group(name=EVIL_NAME, weekdays=["fri"]))
    finally:
        database.dispose()


def make_empty(target: str) -> None:
    from iop_facilitator.db.engine import open_database

    open_database(target, create=True).dispose()


async def settle(pilot, timeout: float = 15.0) -> HomeScreen:
    """Wait for the database worker, then the home screen's load worker, to finish."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await app.workers.wait_for_complete()
        await pilot.pause()
        home = app.home
        if home.load_state in ("ready", "failed") and not len(app.workers):
            await pilot.pause()
            return home
        await pilot.pause(0.05)
    raise AssertionError(f"home screen did not load (state {app.home.load_state!r})")


def table_rows(table: DataTable) -> list[list[str]]:
    return [[cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(i)]
            for i in range(table.row_count)]


def warnings(app: IopApp) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "warning"]


def write_config(home: Path, text: str) -> Path:
    folder = home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_groups_appear_from_the_database(db_target: str) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"
        rows = table_rows(app.screen.query_one("#groups", DataTable))
        assert rows == [
            ["Evening Recovery\nrelapse prevention · IOP · adult", "mon,wed,thu 18:00 (180 min)", "3/15", "active"],
            ["Teen Skills\nskills · IOP · adolescent", "tue,thu 16:00 (120 min)", "0/15", "active"],
        ]
        assert app.title == "Riverside Recovery (fictional)"
        assert not app.screen.query_one("#empty-hint").display
        waiting = app.screen.query_one("#open-meetings", Static)
        assert str(waiting.render()) == "1 waiting for signature · 1 in progress"
        assert not app.screen.query_one("#demo-banner").display
        assert warnings(app) == []


async def test_empty_database_shows_a_friendly_hint(db_target: str) -> None:
    app = IopApp(db_target=db_target)  # does not exist yet: created on open
    async with app.run_test(size=(100, 30)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "ready"
        hint = app.screen.query_one("#empty-hint", Static)
        assert hint.display and str(hint.render()) == EMPTY_HINT
        assert not app.screen.query_one("#groups").display
        assert str(app.screen.query_one("#open-meetings", Static).render()).startswith("Nothing waiting")
        assert any("new, empty database" in str(n.message) for n in app._notifications)


async def test_user_text_is_shown_literally_without_escapes(db_target: str) -> None:
    seed(db_target, clinic_name="[red]Clinic[/] \x1b]0;title\x07 \x1b[2J", evil=True)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#groups", DataTable)
        names = [table.get_row_at(i)[0] for i in range(table.row_count)]
        evil = [cell for cell in names if "bold" in cell.plain]
        assert len(evil) == 1
        # Literal brackets: had the name been read as markup they would be gone.
        assert evil[0].plain == "[bold]x[/]\nprocess · IOP · adult"
        assert app.title == "[red]Clinic[/]"
        screen_text = app.export_screenshot()
        assert "[bold]x[/]" in screen_text and "[red]Clinic[/]" in screen_text
        assert "\x1b" not in screen_text and "\x07" not in screen_text and "evil" not in screen_text


async def test_f1_lists_every_binding_of_the_screen(db_target: str) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = table_rows(app.screen.query_one("#help-keys", DataTable))
        by_id = {row[2]: row for row in rows if row[2]}
        assert set(by_id) == {"app.quit", "app.help", "app.theme", "app.commands", "app.privacy", "app.crisis", "home.refresh"}
        assert by_id["home.refresh"][:2] == ["r", "Refresh"]
        assert by_id["app.quit"][:2] == ["^q", "Quit"]
        assert any(row[1] == "Cursor down" for row in rows)  # the focused table's keys too
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_command_palette_lists_the_apps_actions(db_target: str) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        commands = app.screen.query_one(CommandList)
        titles = {commands.get_option_at_index(i).hit.text for i in range(commands.option_count)}
        assert titles == {"Refresh groups", "Show keys (help)", "Switch theme", "Quit"}
        await pilot.press(*"keys", "enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HelpScreen)


async def test_refresh_picks_up_new_groups(db_target: str) -> None:
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        _add_group(db_target, "Morning Process")
        await pilot.press("r")
        await settle(pilot)
        names = [row[0].split("\n")[0] for row in table_rows(app.screen.query_one("#groups", DataTable))]
        assert "Morning Process" in names


def _add_group(target: str, name: str) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups

    database = open_database(target)
    try:
        with database.begin() as session:
            groups.add_group(session, name, weekdays="fri")
    finally:
        database.dispose()


async def test_keymap_from_config_changes_keys(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, '[keys]\n"home.refresh" = "f5"\n"app.help" = "f2"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        _add_group(db_target, "Morning Process")
        await pilot.press("r")  # no longer bound
        await settle(pilot)
        assert len(table_rows(app.screen.query_one("#groups", DataTable))) == 2
        await pilot.press("f5")
        await settle(pilot)
        assert len(table_rows(app.screen.query_one("#groups", DataTable))) == 3

        await pilot.press("f1")  # no longer bound either
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = {row[2]: row[0] for row in table_rows(app.screen.query_one("#help-keys", DataTable)) if row[2]}
        assert rows["home.refresh"] == "f5" and rows["app.help"] == "f2"
        assert warnings(app) == []


async def test_unknown_keymap_id_and_clash_are_warnings(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, '[keys]\n"home.refrsh" = "f5"\n"app.help" = "r"\n"app.theme" = "ctrl+q"\n')
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
        home = await settle(pilot)
        await pilot.pause()
        found = warnings(app)
        assert any("'home.refrsh'" in w for w in found)
        assert any("key 'r' to more than one action: app.help, home.refresh" in w for w in found)
        assert any("key 'ctrl+q' to more than one action: app.quit, app.theme" in w for w in found)
        assert len(found) == 3  # Textual's own clash report is not repeated
        assert home.load_state == "ready"


async def test_bad_theme_file_and_config_are_notifications(db_target: str, iop_home: Path) -> None:
    write_config(iop_home, 'theme = "no-such-theme"\nkeys = 4\n')
    user_themes = iop_home / "config" / "themes"
    user_themes.mkdir(parents=True)
    (user_themes / "broken.toml").write_text('name = "broken"\nprimary = "#zzz"\n', encoding="utf-8")
    (user_themes / "[red]markup[-].toml").write_text("= nonsense", encoding="utf-8")
    seed(db_target)
    app = IopApp(db_target=db_target)
    async with app.run_test(size=(100, 30)) as pilot:
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
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.theme == "iop-high-contrast"
        assert {"iop-dark", "iop-light", "iop-high-contrast"} <= set(app.available_themes)


async def test_database_problem_is_one_line_and_app_can_quit(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a database\n", encoding="utf-8")
    app = IopApp(db_target=str(target))
    async with app.run_test(size=(100, 30)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "failed"
        status = app.screen.query_one("#status", Static)
        text = str(status.render())
        assert status.display and "is not an iop-facilitator database" in text
        assert "\n" not in text and "Traceback" not in text
        assert "press r to try again, ^q to quit" in text
        assert not app.screen.query_one("#groups").display
        await pilot.press("r")  # retry: same file, same message, no crash
        home = await settle(pilot)
        assert home.load_state == "failed"
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_missing_database_without_create_is_a_message(tmp_path: Path) -> None:
    app = IopApp(db_target=str(tmp_path / "absent.db"), create=False)
    async with app.run_test(size=(100, 30)) as pilot:
        home = await settle(pilot)
        assert home.load_state == "failed"
        assert "no database at" in str(app.screen.query_one("#status", Static).render())
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("how", ["flag", "database"])
async def test_demo_marker(db_target: str, how: str) -> None:
    seed(db_target, is_demo=how == "database")
    app = IopApp(db_target=db_target, demo=how == "flag")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#demo-banner", Static)
        assert banner.display and str(banner.render()) == DEMO_MARKER
        assert app.sub_title == DEMO_MARKER


def test_every_binding_has_an_id() -> None:
    from textual.binding import Binding

    for owner in (IopApp, HomeScreen, HelpScreen):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id, (owner, binding)
    assert "home.refresh" in known_binding_ids()


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
