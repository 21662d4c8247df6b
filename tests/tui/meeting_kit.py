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
            await pass_time(app, pilot, DEBOUNCE_SECONDS)  # typing saved by the debounce alone

Time in these tests comes from a ManualClock (``tests/tui/conftest.py``): debounced saves
and timer ticks happen when a test moves it on with ``pass_time``, never by waiting.
"""

from __future__ import annotations

import datetime as dt
import time
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


async def wait_for(pilot, condition, what: str = "the condition", timeout: float = 30.0) -> None:  # noqa: ANN001
    """Let the app run until ``condition()`` holds (checked after each turn of its message loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await settle(pilot.app, pilot)
        if not condition():
            await pilot.pause(0.01)  # something outside the app (a thread, a file) may still be on its way


def idle(app) -> bool:  # noqa: ANN001
    """Nothing left to do: every typed key handled (``tui/keys.py``), the writer has run every job and
    no worker is running."""
    store_idle = app.store is None or app.store.flush(0)
    return store_idle and not app.keys_waiting() and not any(worker.is_running for worker in app.workers)


async def settle(app, pilot) -> None:  # noqa: ANN001
    """Wait until every change is committed and the UI has handled what followed (fresh snapshots too).

    Rounds of: wait for the writer and the workers, then for the screen to handle every
    message queued until then; done after two rounds in a row that found nothing to do
    (a callback may have started more work). No fixed pause.
    """
    quiet = 0
    deadline = time.monotonic() + 30.0
    while quiet < 2:
        if app.store is not None:
            app.store.flush(10.0)
        await app.workers.wait_for_complete()
        await pilot.pause(0)  # every queued message handled, callbacks from the writer included
        quiet = quiet + 1 if idle(app) else 0
        if time.monotonic() > deadline:
            raise AssertionError("the app did not settle in 30 s")


async def pass_time(app, pilot, seconds: float) -> None:  # noqa: ANN001
    """Move the test clock (``tests/tui/conftest.py``) on by ``seconds``: due debounced saves and
    timer ticks run; then settle."""
    from iop_facilitator import clock

    await settle(app, pilot)
    clock.current().advance(seconds)
    await settle(app, pilot)


async def wait_for_library(app, pilot) -> None:  # noqa: ANN001
    """The topic library is read in a worker after the database opens."""
    await wait_for(pilot, lambda: app.library is not None, "the topic library")


async def open_meeting(app, pilot, group_id: uuid.UUID):  # noqa: ANN001
    """Wait for the database, start today's meeting of ``group_id`` and return its MeetingScreen."""
    from iop_facilitator.tui.screens.meeting import MeetingScreen

    await wait_for(pilot, lambda: app.store is not None, "the database to open")
    if not isinstance(app.screen, MeetingScreen):
        app.start_meeting(group_id)
    await wait_for(
        pilot, lambda: isinstance(app.screen, MeetingScreen) and app.screen.snapshot is not None, "the meeting screen"
    )
    if app.opened_by_itself():
        # Today's meeting was in progress and came back by itself: the leader looks at it before
        # typing (a key typed sooner was meant for the home screen, tui/keys.py).
        from iop_facilitator import clock
        from iop_facilitator.tui.keys import SEEN_AFTER_S

        await settle(app, pilot)
        now = clock.current()
        if isinstance(now, clock.ManualClock):
            now.advance(SEEN_AFTER_S)
        else:  # the torture tests run on the system clock: the glance takes real time
            await wait_for(
                pilot,
                lambda: app._iop_drawn_at is not None and clock.monotonic() >= app._iop_drawn_at + SEEN_AFTER_S,
                "the resumed meeting to have been seen",
            )
    return app.screen
