"""Pilot tests of the unlock screen (encrypted databases) and the automatic idle lock.

The idle clock is injected (``app.lock_state = LockState(clock)``): the tests move
a fake monotonic clock instead of waiting minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from iop_facilitator.tui.app import IopApp
from iop_facilitator.tui.lock import FREE_ATTEMPTS, LockState
from iop_facilitator.tui.screens.unlock import UnlockScreen
from tests.tui.meeting_kit import MEMBERS, make_clinic, settle
from tests.tui.test_step_notes import SIZE, notes_by_member, open_notes, prepare, type_text

PASSPHRASE = "correct horse battery staple"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


def unlock_shown(app: IopApp) -> bool:
    return isinstance(app.screen, UnlockScreen) and bool(app.screen.query("#unlock-status"))


def encrypt(target: str) -> None:
    from iop_facilitator.db.encryption import encrypt_file

    encrypt_file(Path(target), PASSPHRASE)


def audit_events(target: str, action: str) -> list[dict]:
    from sqlmodel import select

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.models import AuditEvent

    database = open_database(target, passphrase=PASSPHRASE)
    try:
        with database.session() as session:
            rows = session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()
            return [dict(r.details or {}) for r in rows]
    finally:
        database.dispose()


def screen_text(app: IopApp) -> str:
    return app.export_screenshot(title="screen").replace("&#160;", " ")


async def submit(pilot, text: str) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: unlock_shown(app) and app.screen.query_one("#unlock-passphrase").has_focus)
    await pilot.press(*["space" if ch == " " else ch for ch in text])
    await pilot.press("enter")


async def test_encrypted_database_opens_on_unlock_screen_and_audits_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOP_PASSPHRASE", raising=False)
    clinic = make_clinic(tmp_path)
    encrypt(clinic.target)
    app = IopApp(clinic.target, create=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: unlock_shown(app))
        assert app.database is None
        field = app.screen.query_one("#unlock-passphrase", Input)
        assert field.password
        await wait_until(pilot, lambda: field.has_focus)
        text = screen_text(app)
        assert "Test Clinic" not in text and not any(name.split()[0] in text for name in MEMBERS)

        await submit(pilot, "not the passphrase")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        assert "Wrong passphrase" in str(app.screen.query_one("#unlock-status").render())
        assert app.screen.query_one("#unlock-passphrase", Input).value == ""

        await submit(pilot, PASSPHRASE)
        await wait_until(pilot, lambda: app.store is not None and not isinstance(app.screen, UnlockScreen))
        assert app.database is not None and app.database.encrypted
        await settle(app, pilot)
    [event] = audit_events(clinic.target, "unlock.failed")
    assert event["count"] == 1 and len(event["times"]) == 1


async def test_repeated_failures_wait_longer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = LockState()
    for _ in range(FREE_ATTEMPTS):
        assert state.delay() == 0
        state.failed()
    delays = []
    for _ in range(8):
        delays.append(state.delay())
        state.failed()
    assert delays[0] >= 1 and delays == sorted(delays) and delays[-1] <= 30


async def test_wrong_environment_passphrase_falls_back_to_the_unlock_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = make_clinic(tmp_path)
    encrypt(clinic.target)
    monkeypatch.setenv("IOP_PASSPHRASE", "this is not it at all")
    app = IopApp(clinic.target, create=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: unlock_shown(app))
        assert "IOP_PASSPHRASE did not open" in str(app.screen.query_one("#unlock-status").render())
        await submit(pilot, PASSPHRASE)
        await wait_until(pilot, lambda: app.store is not None and not isinstance(app.screen, UnlockScreen))
        await settle(app, pilot)
    [event] = audit_events(clinic.target, "unlock.failed")
    assert event["count"] == 1


async def test_idle_lock_hides_everything_and_returns_to_the_same_draft(tmp_path: Path) -> None:
    """Plain database: the idle lock is a screen lock; Enter returns to the same field and text."""
    from iop_facilitator.tui.steps.notes import NoteArea, NotesPane

    prepared = prepare(tmp_path)
    avery = prepared.id("Avery T.")
    clock = FakeClock()
    app = IopApp(prepared.clinic.target)
    app.lock_state = LockState(clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_notes(app, pilot, prepared)
        pane = screen.query_one(NotesPane)
        pane.focus_member(avery)
        await pilot.pause()
        area = pane.query_one("#notes-plan", NoteArea)
        area.focus()
        await type_text(pilot, "Call sponsor tonight")

        # Input keeps the lock away; only a quiet spell past the limit locks.
        clock.now += 9 * 60
        await pilot.press("space")
        clock.now += 2 * 60
        app.check_idle_lock()
        await pilot.pause()
        assert app.screen is screen

        clock.now += 10 * 60 + 1
        app.check_idle_lock()
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        text = screen_text(app)
        for name in MEMBERS:
            assert name.split()[0] not in text
        assert "Call sponsor" not in text and "Test Clinic" not in text and "Evening IOP" not in text
        # The draft was saved before the screen locked.
        assert notes_by_member(prepared.clinic.target, prepared.meeting_id)[avery]["plan"] == "Call sponsor tonight "

        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert area.has_focus and area.text == "Call sponsor tonight "
        await type_text(pilot, "x")
        assert area.text.endswith("tonight x")


async def test_idle_lock_of_an_encrypted_database_needs_the_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = make_clinic(tmp_path)
    encrypt(clinic.target)
    monkeypatch.setenv("IOP_PASSPHRASE", PASSPHRASE)  # scripts and kiosks: no unlock screen at start
    clock = FakeClock()
    app = IopApp(clinic.target, create=False)
    app.lock_state = LockState(clock)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.store is not None)
        await settle(app, pilot)
        home = app.screen
        assert not isinstance(home, UnlockScreen)
        clock.now += 11 * 60
        app.check_idle_lock()
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen) and app.screen.encrypted
        await pilot.press("enter")  # Enter alone does not unlock an encrypted database
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await submit(pilot, "wrong wrong wrong")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await submit(pilot, PASSPHRASE)
        await wait_until(pilot, lambda: app.screen is home)
        await settle(app, pilot)
    [event] = audit_events(clinic.target, "unlock.failed")
    assert event["count"] == 1


async def test_idle_minutes_come_from_the_program_settings(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services.settings import update_settings

    clinic = make_clinic(tmp_path)
    database = open_database(clinic.target)
    with database.begin() as session:
        update_settings(session, idle_lock_minutes=2)
    database.dispose()
    clock = FakeClock()
    app = IopApp(clinic.target)
    app.lock_state = LockState(clock)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.store is not None)
        await settle(app, pilot)
        assert app.lock_state.idle_limit_s == 120
        clock.now += 121
        app.check_idle_lock()
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen) and not app.screen.encrypted
