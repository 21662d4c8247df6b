"""Pilot tests of the roster, groups and settings screens and their forms.

Every change goes through the app's background store; the tests check what
the screen shows and what the database (and config.toml) hold afterwards.
"""

from __future__ import annotations

import datetime as dt
import stat
import time
import tomllib
from pathlib import Path

from rich.text import Text
from sqlmodel import select
from textual.widgets import DataTable, Input, OptionList, Select, Static

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.dialogs.form import FormScreen
from iop_facilitator.tui.screens.groups import GroupsScreen
from iop_facilitator.tui.screens.home import HomeScreen
from iop_facilitator.tui.screens.roster import RosterScreen
from iop_facilitator.tui.screens.settings import SettingsScreen
from tests.tui.meeting_kit import Clinic, make_clinic, settle

SIZE = (110, 32)


async def open_screen(app: IopApp, pilot, key: str) -> None:
    deadline = time.monotonic() + 15
    while app.home.load_state != "ready" and time.monotonic() < deadline:
        await settle(app, pilot)
    assert app.home.load_state == "ready"
    await pilot.press(key)
    await settle(app, pilot)


def rows(app: IopApp, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [[c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def form(app: IopApp) -> FormScreen:
    assert isinstance(app.screen, FormScreen), type(app.screen)
    return app.screen


async def fill(app: IopApp, pilot, **values: object) -> None:
    screen = form(app)
    for name, value in values.items():
        widget = screen.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = str(value)
    await pilot.pause()


async def save(app: IopApp, pilot) -> None:
    await pilot.press("ctrl+s")
    await settle(app, pilot)


def problem(app: IopApp) -> str:
    error = form(app).query_one("#form-error", Static)
    return str(error.render()) if error.display else ""


def database(clinic: Clinic):
    from iop_facilitator.db.engine import open_database

    return open_database(clinic.target)


def select_row(app: IopApp, table_id: str, first_cell: str) -> None:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    for index in range(table.row_count):
        cell = table.get_row_at(index)[0]
        if (cell.plain if isinstance(cell, Text) else str(cell)).split("\n")[0] == first_cell:
            table.move_cursor(row=index)
            return
    raise AssertionError(f"no row {first_cell!r}")


# --------------------------------------------------------------------------- roster


async def test_roster_lists_members(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "m")
        assert isinstance(app.screen, RosterScreen)
        assert rows(app, "members")[:2] == [
            ["Avery T.", "—", "active", "Evening IOP", "1 of 3", "0"],
            ["Blake S.", "—", "active", "Evening IOP", "2 of 3", "0"],
        ]
        detail = str(app.screen.query_one("#member-detail", Static).render())
        assert detail == "Avery T. · goals:\n  1. Sleep seven hours a night"
        await pilot.press("down")
        detail = str(app.screen.query_one("#member-detail", Static).render())
        assert detail.startswith("Blake S. · goals:") and "2. Call my sponsor daily" in detail
        await pilot.press("enter")  # Enter edits the highlighted member
        await pilot.pause()
        assert form(app).values() == {"name": "Blake S.", "chart": ""}
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RosterScreen)


async def test_roster_add_member_shows_the_display_name_rule_inline(tmp_path: Path) -> None:
    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "m")
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"Jordan Miller")
        await pilot.pause()
        check = form(app).query_one("#check-name", Static)
        assert check.display and "last initial only, e.g. Jordan M." in str(check.render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Not saved: use the preferred first name and last initial only" in problem(app)
        await fill(app, pilot, name="Jordan m", chart="MRN-77")
        assert not form(app).query_one("#check-name", Static).display
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RosterScreen)
        assert ["Jordan M.", "MRN-77", "active", "none", "0 of 3", "0"] in rows(app, "members")
        table = app.screen.query_one("#members", DataTable)
        assert rows(app, "members")[table.cursor_row][0] == "Jordan M."  # the new member is highlighted

        await pilot.press("a")  # the same chart id again: a service error, shown in the form
        await pilot.pause()
        await fill(app, pilot, name="Sam K.", chart="MRN-77")
        await save(app, pilot)
        assert "chart id MRN-77 already belongs" in problem(app)
        assert "Traceback" not in problem(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RosterScreen)
        assert "Sam K." not in [row[0] for row in rows(app, "members")]


async def test_roster_edit_enroll_exit_goals_and_discharge(tmp_path: Path) -> None:
    from iop_facilitator.enums import ExitReason, MemberStatus
    from iop_facilitator.models import GroupEnrollment, Member
    from iop_facilitator.services import groups
    from iop_facilitator.services import members as member_service

    clinic = make_clinic(tmp_path)
    db = database(clinic)
    with db.begin() as session:
        second = groups.add_group(session, "Morning Skills", weekdays="tue", start_time="10:00").id
    db.dispose()
    avery = clinic.member_ids["Avery T."]
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "m")

        await pilot.press("e")  # edit name and chart id
        await pilot.pause()
        assert form(app).values() == {"name": "Avery T.", "chart": ""}
        await fill(app, pilot, name="Avery B.", chart="A-1")
        await save(app, pilot)
        assert rows(app, "members")[0][:2] == ["Avery B.", "A-1"]

        await pilot.press("n")  # enroll in the other group
        await pilot.pause()
        assert form(app).values()["group"] == second  # the only group Avery is not in yet
        await fill(app, pilot, start="2020-02-03")
        await save(app, pilot)
        assert rows(app, "members")[0][3] == "Evening IOP, Morning Skills"

        await pilot.press("x")  # leave one group
        await pilot.pause()
        await fill(app, pilot, which=second, reason=ExitReason.stepped_down.value, date="2020-01-01")
        await save(app, pilot)
        assert "before the enrollment began" in problem(app)  # the service's rule, inline
        await fill(app, pilot, date="2020-03-02", note="Moved to OP")
        await save(app, pilot)
        assert rows(app, "members")[0][3] == "Evening IOP"

        await pilot.press("t")  # goals
        await pilot.pause()
        assert form(app).values() == {"goal1": "Sleep seven hours a night", "goal2": "", "goal3": ""}
        await fill(app, pilot, goal1="", goal2="", goal3="")
        await save(app, pilot)
        assert "one to 3 treatment-plan goals" in problem(app)
        await fill(app, pilot, goal1="Walk daily", goal2="Call a peer twice a week")
        await save(app, pilot)
        assert rows(app, "members")[0][4] == "2 of 3"

        await pilot.press("x")  # discharge from the program
        await pilot.pause()
        await fill(app, pilot, which="__discharge__", reason=ExitReason.completed.value, date="2020-04-01")
        await save(app, pilot)
        assert "Avery B." not in [row[0] for row in rows(app, "members")]
        await pilot.press("f")  # show the discharged too
        await settle(app, pilot)
        assert rows(app, "members")[0][:4] == ["Avery B.", "A-1", "discharged", "none"]
        select_row(app, "members", "Avery B.")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RosterScreen)  # no form for a discharged member
        assert any("discharged" in str(n.message) for n in app._notifications)

    db = database(clinic)
    try:
        with db.session() as session:
            member = session.get_one(Member, avery)
            assert (member.display_name, member.external_chart_id, member.status) == (
                "Avery B.", "A-1", MemberStatus.discharged,
            )
            ended = {
                (e.group_id, e.exit_date, e.exit_reason)
                for e in session.exec(select(GroupEnrollment).where(GroupEnrollment.member_id == avery))
            }
            assert (second, dt.date(2020, 3, 2), ExitReason.stepped_down) in ended
            assert (clinic.group_id, dt.date(2020, 4, 1), ExitReason.completed) in ended
            assert [g.text for g in member_service.goals_of(session, member)] == [
                "Walk daily", "Call a peer twice a week",
            ]
    finally:
        db.dispose()


# --------------------------------------------------------------------------- groups


async def test_groups_add_and_edit(tmp_path: Path) -> None:
    from iop_facilitator.enums import GroupStatus, LevelOfCare
    from iop_facilitator.models import Group
    from iop_facilitator.services import groups as group_service

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "g")
        assert isinstance(app.screen, GroupsScreen)
        assert rows(app, "group-list") == [
            ["Evening IOP\nprocess · IOP · adult", "every day\n09:00 · 180 min", "open", "5/15", "Dana Quinn", "active"],
        ]

        await pilot.press("a")
        await pilot.pause()
        assert "status" not in form(app).values()  # new groups start active
        await fill(app, pilot, name="Teen Coping Skills", weekdays="tue,thu", start="16:00", minutes="120",
                   type="skills", audience="adolescent", capacity="8", lead=clinic.staff_id)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, GroupsScreen)
        assert ["Teen Coping Skills\nskills · IOP · adolescent", "tue,thu\n16:00 · 120 min", "open", "0/8",
                "Dana Quinn", "active"] in rows(app, "group-list")

        select_row(app, "group-list", "Evening IOP")
        await pilot.press("enter")  # Enter edits too
        await pilot.pause()
        values = form(app).values()
        assert (values["name"], values["weekdays"], values["capacity"], values["lead"], values["status"]) == (
            "Evening IOP", "mon,tue,wed,thu,fri,sat,sun", "15", clinic.staff_id, "active",
        )
        await fill(app, pilot, start="25:00")
        assert "not HH:MM" in str(form(app).query_one("#check-start", Static).render())
        await save(app, pilot)
        assert "start time '25:00' is not HH:MM" in problem(app)
        await fill(app, pilot, start="17:30", capacity="3")
        await save(app, pilot)
        assert "5 members enrolled; the capacity cannot be lower" in problem(app)
        await fill(app, pilot, capacity="12", level=LevelOfCare.PHP.value, weekdays="mon,wed",
                   status=GroupStatus.finished.value)
        await save(app, pilot)
        assert isinstance(app.screen, GroupsScreen)
        assert ["Evening IOP\nprocess · PHP · adult", "mon,wed\n17:30 · 180 min", "open", "5/12", "Dana Quinn",
                "finished"] in rows(app, "group-list")

    db = database(clinic)
    try:
        with db.session() as session:
            group = session.get_one(Group, clinic.group_id)
            assert (group.start_time, group.capacity, group.weekdays, group.status) == (
                "17:30", 12, ["mon", "wed"], GroupStatus.finished,
            )
            assert [p.id for p in group_service.facilitators_of(session, group)] == [clinic.staff_id]
    finally:
        db.dispose()


# --------------------------------------------------------------------------- settings


async def test_settings_theme_is_applied_and_saved(tmp_path: Path, iop_home: Path) -> None:
    clinic = make_clinic(tmp_path)
    config_file = iop_home / "config" / "config.toml"
    config_file.write_text(
        config_file.read_text(encoding="utf-8") + '[keys]\n"home.refresh" = "f5"\n', encoding="utf-8"
    )
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "s")
        assert isinstance(app.screen, SettingsScreen)
        themes = app.screen.query_one("#themes", OptionList)
        assert app.focused is themes
        labels = [str(themes.get_option_at_index(i).prompt) for i in range(themes.option_count)]
        assert labels[:3] == ["iop-dark  (in use)", "iop-high-contrast", "iop-light"]
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert app.theme == "iop-high-contrast"
        assert str(themes.get_option_at_index(1).prompt) == "iop-high-contrast  (in use)"
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert data == {"theme": "iop-high-contrast", "facilitator_id": str(clinic.staff_id),
                    "keys": {"home.refresh": "f5"}}
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600

    again = IopApp(clinic.target)  # the next start uses it
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "iop-high-contrast"


async def test_settings_facilitator_identity(tmp_path: Path, iop_home: Path) -> None:
    from iop_facilitator.models import Staff

    clinic = make_clinic(tmp_path)
    config_file = iop_home / "config" / "config.toml"
    config_file.write_text("", encoding="utf-8")  # nobody chosen yet
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "s")
        me = app.screen.query_one("#me", Static)
        assert str(me.render()).startswith("Nobody chosen yet")
        await pilot.press("c")  # nobody to edit yet
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)

        await pilot.press("tab")  # to the staff list
        assert app.focused is app.screen.query_one("#staff", OptionList)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.facilitator_id() == clinic.staff_id
        assert str(me.render()) == "This laptop: Dana Quinn, LCSW."
        assert tomllib.loads(config_file.read_text(encoding="utf-8"))["facilitator_id"] == str(clinic.staff_id)

        await pilot.press("c")  # credentials of this laptop's facilitator
        await pilot.pause()
        assert form(app).values() == {"name": "Dana Quinn", "credentials": "LCSW"}
        await fill(app, pilot, credentials="LCSW, LADC")
        await save(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert str(me.render()) == "This laptop: Dana Quinn, LCSW, LADC."

        await pilot.press("a")  # a new colleague who uses this laptop from now on
        await pilot.pause()
        await fill(app, pilot, name="", credentials="LPC")
        await save(app, pilot)
        assert "needs a name" in problem(app)
        await fill(app, pilot, name="Rae Lopez", me=True)
        await save(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        staff_list = app.screen.query_one("#staff", OptionList)
        labels = [str(staff_list.get_option_at_index(i).prompt) for i in range(staff_list.option_count)]
        assert labels == ["Dana Quinn, LCSW, LADC (facilitator)", "Rae Lopez, LPC (facilitator)  · this laptop"]

    db = database(clinic)
    try:
        with db.session() as session:
            rae = session.exec(select(Staff).where(Staff.name == "Rae Lopez")).one()
            assert session.get_one(Staff, clinic.staff_id).credentials == "LCSW, LADC"
    finally:
        db.dispose()
    assert tomllib.loads(config_file.read_text(encoding="utf-8"))["facilitator_id"] == str(rae.id)


async def test_settings_program_name_and_timezone(tmp_path: Path) -> None:
    from iop_facilitator.services.settings import get_settings

    clinic = make_clinic(tmp_path)
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "s")
        await pilot.press("p")
        await pilot.pause()
        assert form(app).values() == {"clinic": "Test Clinic (fictional)", "timezone": "America/Chicago", "idle": "10"}
        await fill(app, pilot, timezone="Mars/Olympus")
        assert "unknown timezone" in str(form(app).query_one("#check-timezone", Static).render())
        await save(app, pilot)
        assert "unknown timezone 'Mars/Olympus'" in problem(app)
        await fill(app, pilot, clinic="North Shore IOP (fictional)", timezone="America/Denver", idle="0")
        await save(app, pilot)
        assert "1 to 240" in problem(app)  # the idle lock (minutes) has a range
        await fill(app, pilot, idle="5")
        await save(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert app.lock_state.idle_limit_s == 5 * 60
        assert "locks after 5 min idle" in str(app.screen.query_one("#program", Static).render())
        assert app.title == "North Shore IOP (fictional)"
        assert "timezone: America/Denver" in str(app.screen.query_one("#program", Static).render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        assert "America/Denver" in str(app.home.query_one("#today-title", Static).render())
    db = database(clinic)
    try:
        with db.session() as session:
            program = get_settings(session)
            assert (program.clinic_name, program.timezone) == ("North Shore IOP (fictional)", "America/Denver")
            assert program.idle_lock_minutes == 5
    finally:
        db.dispose()


async def test_user_text_in_admin_screens_is_not_markup(tmp_path: Path) -> None:
    from iop_facilitator.models import Member, Staff

    clinic = make_clinic(tmp_path)
    db = database(clinic)
    with db.begin() as session:  # bypass the services' cleaning: the screens must clean too
        session.get_one(Member, clinic.member_ids["Avery T."]).display_name = "[b]A[/b] \x1b]0;evil\x07"
        session.get_one(Staff, clinic.staff_id).name = "[red]Dana[/]"
    db.dispose()
    app = IopApp(clinic.target)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "m")
        assert "[b]A[/b]" in [row[0] for row in rows(app, "members")]
        await pilot.press("escape", "g")
        await settle(app, pilot)
        assert rows(app, "group-list")[0][4] == "[red]Dana[/]"
        await pilot.press("e")
        await pilot.pause()
        screen_text = app.export_screenshot()
        assert "[red]Dana[/]" in screen_text and "\x1b]0" not in screen_text
