"""Helpers for the live-meeting TUI tests: a small fictional clinic and a started meeting.

Usage in a test::

    from tests.tui.meeting_kit import make_clinic, open_meeting, settle

    async def test_something(tmp_path):
        clinic = make_clinic(tmp_path)
        app = IopApp(clinic.target)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_meeting(app, pilot, clinic.group_id)
            ...
            await settle(app, pilot)      # every change committed, the fresh snapshot shown
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

MEMBERS = ("Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.")
GOALS = ("Sleep seven hours a night", "Call my sponsor daily", "Stay sober one day at a time")


@dataclass
class Clinic:
    target: str
    group_id: uuid.UUID
    staff_id: uuid.UUID
    member_ids: dict[str, uuid.UUID]


def make_clinic(folder: Path, *, members: tuple[str, ...] = MEMBERS, timezone: str = "America/Chicago",
                target: str | None = None) -> Clinic:
    """A clinic (SQLite in ``folder``, or ``target``, e.g. an empty PostgreSQL database): one lead (LCSW)
    set as this laptop's facilitator, one daily group, enrolled members."""
    from iop_facilitator.config import config_path
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups, members as member_service, settings, staff

    target = target or str(folder / "clinic.db")
    database = open_database(target, create=True)
    try:
        with database.begin() as session:
            settings.update_settings(session, timezone=timezone, clinic_name="Test Clinic (fictional)")
            lead = staff.add_staff(session, "Dana Quinn", "LCSW")
            group = groups.add_group(
                session, "Evening IOP", weekdays="mon,tue,wed,thu,fri,sat,sun", start_time="09:00", facilitators=[lead]
            )
            ids = {}
            for index, name in enumerate(members):
                person = member_service.add_member(session, name, goals=list(GOALS[: 1 + index % 3]))
                member_service.enroll(session, person, group, dt.date(2020, 1, 1))
                ids[name] = person.id
            group_id, staff_id = group.id, lead.id
    finally:
        database.dispose()
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'facilitator_id = "{staff_id}"\n', encoding="utf-8")
    return Clinic(target, group_id, staff_id, ids)


async def settle(app, pilot, pause: float = 0.05) -> None:  # noqa: ANN001
    """Wait until the writer has committed everything and the UI has processed the callbacks."""
    for _ in range(3):
        if app.store is not None:
            app.store.flush(10.0)
        await pilot.pause(pause)
        await app.workers.wait_for_complete()


async def open_meeting(app, pilot, group_id: uuid.UUID):  # noqa: ANN001
    """Wait for the database, start today's meeting of ``group_id`` and return its MeetingScreen."""
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    for _ in range(200):
        if app.store is not None:
            break
        await pilot.pause(0.02)
    await settle(app, pilot)
    if not isinstance(app.screen, MeetingScreen):
        app.start_meeting(group_id)
    for _ in range(200):
        await settle(app, pilot, 0.02)
        if isinstance(app.screen, MeetingScreen) and app.screen.snapshot is not None:
            return app.screen
    raise AssertionError("the meeting screen did not open")
