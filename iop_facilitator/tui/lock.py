"""Unlocking an encrypted database and the automatic (idle) lock, mixed into the app.

* :class:`LockState` holds the idle clock (``clock.monotonic`` unless a test injects
  another), the idle limit (``ProgramSettings.idle_lock_minutes``, read when the
  database opens and when Settings change it) and the failed unlock attempts.
* :class:`LockMixin` gives :class:`~iop_facilitator.tui.app.IopApp` its lock: every key
  press, click, scroll or paste restarts the idle clock; a timer checks it; locking first
  saves every draft, then covers the whole app with the
  :class:`~iop_facilitator.tui.screens.unlock.UnlockScreen`. Unlocking pops that screen,
  so the facilitator is back on the same screen, same field, same text.
* Failed attempts are counted with their times; after :data:`FREE_ATTEMPTS` failures each
  attempt waits longer (up to :data:`MAX_DELAY_S`). Once the database is open (the audit
  log lives in it), one ``unlock.failed`` audit event records the count and times.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import events, work

from iop_facilitator import clock as clock_module

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database

FREE_ATTEMPTS = 5
MAX_DELAY_S = 30.0
IDLE_CHECK_S = 5.0
DEFAULT_IDLE_MINUTES = 10
WRONG = "Wrong passphrase (or not an iop-facilitator database). Try again."


class LockState:
    def __init__(self, clock: Callable[[], float] = clock_module.monotonic) -> None:
        self.clock = clock
        self.last_input = clock()
        self.idle_limit_s = DEFAULT_IDLE_MINUTES * 60.0
        self.failures: list[dt.datetime] = []
        self.locked = False  # the idle lock is on screen
        self.opening = False  # the start-up unlock screen is on screen

    def touch(self) -> None:
        self.last_input = self.clock()

    def idle_expired(self) -> bool:
        return self.clock() - self.last_input >= self.idle_limit_s

    def set_minutes(self, minutes: int) -> None:
        self.idle_limit_s = max(1, int(minutes)) * 60.0

    def failed(self) -> None:
        self.failures.append(clock_module.utcnow())

    def delay(self) -> float:
        """Seconds to wait before checking the next attempt: none for the first few, then doubling."""
        extra = len(self.failures) - FREE_ATTEMPTS
        return 0.0 if extra < 0 else min(MAX_DELAY_S, float(2**extra))

    def take_failures(self) -> list[dt.datetime]:
        taken, self.failures = self.failures, []
        return taken


_INPUT_EVENTS = (events.Key, events.MouseDown, events.MouseUp, events.MouseScrollDown, events.MouseScrollUp,
                 events.Paste)


class LockMixin:
    """The lock half of the app (see the module docstring). Expects ``self.lock_state``."""

    lock_state: LockState
    database: Database | None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, _INPUT_EVENTS):
            self.lock_state.touch()
        await super().on_event(event)  # type: ignore[misc]

    # -- the idle lock ---------------------------------------------------------------
    def start_idle_watch(self) -> None:
        self.lock_state.touch()
        self.set_interval(IDLE_CHECK_S, self.check_idle_lock, name="idle-lock")  # type: ignore[attr-defined]

    def check_idle_lock(self) -> None:
        state = self.lock_state
        if state.locked or state.opening or self.database is None:
            return
        if state.idle_expired():
            self.lock_now()

    def lock_now(self) -> None:
        """Save every draft, then hide everything behind the unlock screen."""
        from iop_facilitator.tui.screens.unlock import RELOCK, UnlockScreen

        state = self.lock_state
        if state.locked or state.opening or self.database is None:
            return
        state.locked = True
        saved = self.save_everything(3.0)  # type: ignore[attr-defined]
        self.clear_notifications()  # type: ignore[attr-defined]
        problem = "" if saved else "Some changes were still being saved; they will finish in the background."
        self.push_screen(UnlockScreen(mode=RELOCK, encrypted=self.database.encrypted, problem=problem))  # type: ignore[attr-defined]

    def unlock_plain(self) -> None:
        if self.lock_state.locked and self.database is not None and not self.database.encrypted:
            self._relock_done()

    def _relock_done(self) -> None:
        from iop_facilitator.tui.screens.unlock import UnlockScreen

        state = self.lock_state
        state.locked = False
        state.touch()
        if isinstance(self.screen, UnlockScreen):  # type: ignore[attr-defined]
            self.pop_screen()  # type: ignore[attr-defined]
        self.audit_failed_unlocks()

    def set_idle_minutes(self, minutes: int) -> None:
        self.lock_state.set_minutes(minutes)

    def read_idle_minutes(self) -> None:
        store = getattr(self, "store", None)
        if store is None:
            return

        def read(session: Any) -> int:
            from iop_facilitator.services.settings import get_settings

            return int(get_settings(session).idle_lock_minutes)

        store.read(read, self.set_idle_minutes, lambda _problem: None)

    # -- the passphrase ----------------------------------------------------------------
    def need_passphrase(self, problem: str = "") -> None:
        """The database is encrypted and not yet open: show the unlock screen (once)."""
        from iop_facilitator.tui.screens.unlock import OPENING, UnlockScreen

        state = self.lock_state
        if state.opening:
            screen = self.screen  # type: ignore[attr-defined]
            if isinstance(screen, UnlockScreen):
                screen.attempt_failed(problem)
            return
        state.opening = True
        self.push_screen(UnlockScreen(mode=OPENING, encrypted=True, problem=problem))  # type: ignore[attr-defined]

    def try_unlock(self, passphrase: str, mode: str) -> None:
        self._check_passphrase(passphrase, mode, self.lock_state.delay())

    @work(thread=True, exclusive=True, group="unlock", exit_on_error=False)
    def _check_passphrase(self, passphrase: str, mode: str, delay: float) -> None:
        """Key derivation (~70 ms) and any back-off delay run here, off the UI thread."""
        from iop_facilitator.errors import WrongPassphrase
        from iop_facilitator.tui import messages
        from iop_facilitator.tui.screens.unlock import OPENING

        if delay:
            time.sleep(delay)
        if mode == OPENING:
            try:
                from iop_facilitator.db.engine import open_database

                database = open_database(
                    self.db_target, create=self.create, passphrase=passphrase  # type: ignore[attr-defined]
                )
            except WrongPassphrase:
                self.call_from_thread(self._attempt_failed)  # type: ignore[attr-defined]
                return
            except Exception as exc:  # noqa: BLE001 - any other problem: shown on the home screen
                self.call_from_thread(self._opening_failed, messages.describe_problem(exc))  # type: ignore[attr-defined]
                return
            self.post_message(messages.DatabaseReady(database))  # type: ignore[attr-defined]
            return
        database = self.database
        if database is not None and database.passphrase_matches(passphrase):
            self.call_from_thread(self._relock_done)  # type: ignore[attr-defined]
        else:
            self.call_from_thread(self._attempt_failed)  # type: ignore[attr-defined]

    def _attempt_failed(self) -> None:
        from iop_facilitator.tui.screens.unlock import UnlockScreen

        self.lock_state.failed()
        wait = self.lock_state.delay()
        text = WRONG if not wait else f"{WRONG} The next try waits {wait:g} seconds."
        screen = self.screen  # type: ignore[attr-defined]
        if isinstance(screen, UnlockScreen):
            screen.attempt_failed(text)

    def _opening_failed(self, problem: str) -> None:
        self.unlocked_for_opening()
        self.home.problem = problem  # type: ignore[attr-defined]

    def unlocked_for_opening(self) -> None:
        """The database opened (or failed otherwise): take the start-up unlock screen away."""
        from iop_facilitator.tui.screens.unlock import UnlockScreen

        state = self.lock_state
        if not state.opening:
            return
        state.opening = False
        state.touch()
        if isinstance(self.screen, UnlockScreen):  # type: ignore[attr-defined]
            self.pop_screen()  # type: ignore[attr-defined]

    def audit_failed_unlocks(self) -> None:
        """One ``unlock.failed`` audit event for the failures before this unlock (the database is open now)."""
        store = getattr(self, "store", None)
        failures = self.lock_state.take_failures()
        if not failures or store is None:
            if failures:
                self.lock_state.failures = failures + self.lock_state.failures
            return
        encrypted = bool(self.database is not None and self.database.encrypted)

        def record(session: Any) -> None:
            from iop_facilitator.services import audit

            audit.record(
                session,
                "unlock.failed",
                record_type="database",
                count=len(failures),
                times=[moment.isoformat() for moment in failures],
                encrypted=encrypted,
            )

        store.submit(record)
