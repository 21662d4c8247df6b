"""Snapshot tests of the home screen (SVG files in ``tests/tui/__snapshots__``).

Regenerate after an intended visual change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs
(open ``snapshot_report.html`` on failure) before committing them.

Stability: fixed terminal size, a frozen clock (``time_machine``, not ticking:
"today", the enrolled counts and the ages of unsigned meetings depend on
it), a fixed fictional data set in a temporary database, a temporary config
folder (the ``iop_home`` fixture), no paths on screen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine

from iop_facilitator.tui.app import IopApp

SIZE = (110, 32)
FROZEN_NOW = dt.datetime(2025, 3, 5, 21, 30, tzinfo=dt.UTC)  # Wednesday 15:30 in America/Chicago
TODAY = dt.date(2025, 3, 5)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(FROZEN_NOW, tick=False):
        yield


def build(target: str, *, groups: bool = True, is_demo: bool = False) -> None:
    """A small fictional clinic. Every name here is invented."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import Audience, GroupStatus, GroupType, LevelOfCare, MeetingStatus
    from iop_facilitator.services import groups as group_service
    from iop_facilitator.services import live, meetings, members, settings, staff

    database = open_database(target, create=True)
    try:
        with database.begin() as session:
            settings.update_settings(session, clinic_name="Lakeside Outpatient (fictional)", timezone="America/Chicago")
            settings.get_settings(session).is_demo = is_demo
            if not groups:
                return
            lead = staff.add_staff(session, "Robin T.", "LPC")
            evening = group_service.add_group(
                session, "Evening Recovery", group_type=GroupType.relapse_prevention,
                weekdays="mon,wed,thu", start_time="18:00", facilitators=[lead],
            )
            teens = group_service.add_group(
                session, "Teen Coping Skills", group_type=GroupType.skills, weekdays="tue,thu",
                start_time="16:00", duration_minutes=120, audience=Audience.adolescent,
            )
            morning = group_service.add_group(
                session, "Morning PHP Process", group_type=GroupType.process, weekdays="mon,tue,wed,thu,fri",
                start_time="09:00", duration_minutes=300, level_of_care=LevelOfCare.PHP, capacity=12,
            )
            family = group_service.add_group(session, "Wednesday Family Group", group_type=GroupType.family,
                                             weekdays="wed", start_time="13:00", duration_minutes=90)
            finished = group_service.add_group(session, "Winter Family Group", group_type=GroupType.family,
                                               weekdays="wed", start_time="10:00", duration_minutes=90)
            finished.status = GroupStatus.finished  # not listed: finished groups do not meet
            people = {}
            for index, name in enumerate(("Jordan M.", "Sam K.", "Alex P.", "Riley B.", "Casey W.")):
                member = members.add_member(session, name)
                members.enroll(session, member, teens if index == 4 else evening, dt.date(2025, 1, 6))
                people[name] = member.id
            members.enroll(session, members.add_member(session, "Morgan L."), evening, dt.date(2025, 3, 10))  # later
            for group, day, status in (
                (morning, TODAY, MeetingStatus.completed),
                (family, TODAY, MeetingStatus.signed),
                (evening, dt.date(2025, 3, 3), MeetingStatus.completed),
                (teens, dt.date(2025, 2, 27), MeetingStatus.in_progress),
            ):
                meetings.create_meeting(session, group, day).status = status
            for name, reason, due in (
                ("Jordan M.", "Call about housing referral", dt.date(2025, 3, 3)),
                ("Sam K.", "Check the sleep log", TODAY),
                ("Casey W.", "Bring the workbook", dt.date(2025, 3, 6)),
            ):
                live.add_follow_up(session, people[name], reason, due=due)
    finally:
        database.dispose()


async def loaded(pilot) -> None:
    """``snap_compare`` does not wait for workers: open the database and load the home screen first."""
    app = pilot.app
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        await app.workers.wait_for_complete()
        if app.store is not None:
            app.store.flush(10.0)
        await pilot.pause()
        if app.home.load_state in ("ready", "failed") and not len(app.workers):
            break
    app.clear_notifications()
    await pilot.pause()


def write_config(home: Path, text: str) -> None:
    folder = home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_home_with_groups(snap_compare, tmp_path: Path) -> None:
    target = str(tmp_path / "clinic.db")
    build(target)
    assert snap_compare(IopApp(db_target=target), terminal_size=SIZE, run_before=loaded)


def test_home_empty_database(snap_compare, tmp_path: Path) -> None:
    target = str(tmp_path / "clinic.db")
    build(target, groups=False)
    assert snap_compare(IopApp(db_target=target), terminal_size=SIZE, run_before=loaded)


def test_home_demo_light_theme(snap_compare, tmp_path: Path, iop_home: Path) -> None:
    write_config(iop_home, 'theme = "iop-light"\n')
    target = str(tmp_path / "demo.db")
    build(target, is_demo=True)
    assert snap_compare(IopApp(db_target=target, demo=True), terminal_size=SIZE, run_before=loaded)


def test_home_high_contrast_theme(snap_compare, tmp_path: Path, iop_home: Path) -> None:
    write_config(iop_home, 'theme = "iop-high-contrast"\n')
    target = str(tmp_path / "clinic.db")
    build(target)
    assert snap_compare(IopApp(db_target=target), terminal_size=SIZE, run_before=loaded)
