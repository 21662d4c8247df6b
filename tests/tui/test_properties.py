"""Property tests of the live meeting's panes: any keys, any speed, the record is what was meant.

A hypothesis ``RuleBasedStateMachine`` drives the real app with Pilot key presses on
the Check-in, Stories and Check-out panes and keeps a small model of what the leader
typed, for the member that was highlighted when each key was pressed. Keys are pressed
in bursts without waiting for the database; the ``check`` rule (and the end of every
run) waits until everything is committed and compares the database with the model.

Pilot is async and hypothesis's state machines are not: each run makes its own event
loop, enters ``app.run_test()`` with it, presses each rule's keys with
``run_until_complete`` and leaves the app in ``teardown``. Every step runs as a task in
one ``contextvars`` context, so Textual's context variables (the active app) set when
entering ``run_test`` are there for every later key. Each run starts from a copy of
one small fictional clinic (the topic library is parsed once). The settings are modest
and derandomized, with no example database, so the suite stays fast and deterministic:
4 runs of up to 30 steps per pane with every ``pytest`` (derandomized: the first one or
two are empty or short), 25 in the torture suite's full form
(``--torture-full`` or ``IOP_TORTURE_FULL=1``); ``IOP_PROPERTY_EXAMPLES`` asks for any
number (e.g. 200 for a long local search).

Speed: Pilot waits after every key until the process has used no CPU for 20 ms, which
the database writer thread makes slow. Here each key waits instead until the app, the
screen and the focused widget's ancestors have empty message queues for a few turns of
the event loop: every key has been handled (and any focus change made) before the next
one is sent, about as fast as the app can take them.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from iop_facilitator.enums import AttendanceStatus
from iop_facilitator.tui.app import IopApp
from tests.conftest import full_form
from tests.tui.conftest import pilots_own_screen_waits
from tests.tui.meeting_kit import MEMBERS, Clinic, make_clinic

EXAMPLES, FULL_EXAMPLES = 4, 25  # runs per pane: every pytest; --torture-full


def examples(config: pytest.Config) -> int:
    wanted = os.environ.get("IOP_PROPERTY_EXAMPLES", "").strip()
    return int(wanted) if wanted else FULL_EXAMPLES if full_form(config) else EXAMPLES


SETTINGS = settings(
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SIZE = (100, 30)
NOT_HERE = (AttendanceStatus.absent_unexcused, AttendanceStatus.absent_excused)
STATUS_KEYS = {"p": AttendanceStatus.present, "l": AttendanceStatus.late,
               "a": AttendanceStatus.absent_unexcused, "e": AttendanceStatus.absent_excused}
WORDS = st.text(alphabet=string.ascii_lowercase + " ", min_size=1, max_size=8)


def rows(target: str, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(target) as conn:
        return conn.execute(sql).fetchall()


class Quiet:
    """A stand-in for Textual's ``wait_for_idle``: waits until the app's queues are empty and no typed key
    waits its turn (``tui/keys.py`` hands keys out one at a time)."""

    app: IopApp | None = None

    async def __call__(self, *_args: Any, **_kwargs: Any) -> None:
        quiet = 0
        for _ in range(2000):
            await asyncio.sleep(0)
            app = self.app
            if app is None:
                return
            pumps = [app, app.screen, *(app.focused.ancestors_with_self if app.focused is not None else ())]
            busy = app.keys_waiting() or any(pump.message_queue_size for pump in pumps)
            quiet = 0 if busy else quiet + 1
            if quiet >= 4:
                return


QUIET = Quiet()


@pytest.fixture(scope="module")
def topic_library() -> Any:
    from iop_facilitator.library.load import load_library

    return load_library()


class PilotMachine(RuleBasedStateMachine):
    """Runs the app on a fresh copy of ``template`` for each hypothesis run."""

    template: ClassVar[Clinic]
    folder: ClassVar[Path]
    library: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        target = self.folder / f"run-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(self.template.target, target)
        self.target = str(target)
        self.ids = [self.template.member_ids[name] for name in MEMBERS]
        self.loop = asyncio.new_event_loop()
        self.context = contextvars.copy_context()
        self.app = IopApp(self.target)
        self.app.library, self.app._library_requested = self.library, True  # parsed once per module
        QUIET.app = self.app
        self._context = self.app.run_test(size=SIZE)
        self.pilot = self.run(self._context.__aenter__())
        self.screen = self.run(self.open())
        self.run(self.start())

    async def open(self) -> Any:
        from iop_facilitator.tui.screens.meeting import MeetingScreen

        app = self.app
        for _ in range(500):
            if app.store is not None:
                break
            await asyncio.sleep(0.01)
        app.start_meeting(self.template.group_id)
        for _ in range(500):
            await self.quiet()
            if isinstance(app.screen, MeetingScreen) and app.screen.snapshot is not None:
                return app.screen
            await asyncio.sleep(0.01)
        raise AssertionError("the meeting screen did not open")

    async def quiet(self) -> None:
        """Everything submitted is committed and every callback and message handled."""
        for _ in range(3):
            if self.app.store is not None:
                self.app.store.flush(10.0)
            await QUIET()

    async def start(self) -> None:
        """Go to the pane under test (override)."""

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(self.loop.create_task(coroutine, context=self.context))

    def press(self, *keys: str) -> None:
        self.run(self.pilot.press(*keys))

    def settle(self) -> None:
        self.run(self.quiet())

    def compare(self) -> None:
        """Wait until everything typed is committed, then the database must equal the model."""

    def screen_is_fresh(self, table_id: str) -> None:
        """What the keys left on screen (the snapshot kept up to date key by key, the step's
        list) equals what a fresh, full read of the database shows, rebuilt from scratch."""
        from iop_facilitator.services.live_read import load_snapshot
        from iop_facilitator.tui.steps.base import StepPane

        with self.app.store.database.session() as session:
            fresh = load_snapshot(session, self.screen.meeting_id)
        assert self.screen.snapshot == fresh
        pane = self.screen.current_pane()
        assert pane.snapshot == fresh
        table = self.screen.query_one(table_id)
        shown = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
        rebuilt = type(pane)(id="rebuilt")  # a pane of the same step, drawn from the fresh read only
        assert isinstance(rebuilt, StepPane)
        self.run(self._rebuilt_rows(rebuilt, fresh, table_id, shown))

    async def _rebuilt_rows(self, rebuilt: Any, fresh: Any, table_id: str, shown: list[list[str]]) -> None:
        from textual.widgets import ContentSwitcher

        switcher = self.screen.query_one("#steps", ContentSwitcher)
        await switcher.mount(rebuilt)
        try:
            rebuilt.fit(*self.app.size)
            rebuilt.snapshot = fresh
            await QUIET()
            table = rebuilt.query_one(table_id)
            assert [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)] == shown
        finally:
            await rebuilt.remove()

    @rule()
    def check(self) -> None:
        self.compare()

    def teardown(self) -> None:
        try:
            self.compare()
        finally:
            self.run(self._context.__aexit__(None, None, None))
            self.loop.close()
            QUIET.app = None


# --------------------------------------------------------------------------- check-in


@dataclass
class Person:
    status: AttendanceStatus | None = None
    mood: int | None = None
    urge: int | None = None
    feeling: str = ""
    safety: bool = False

    def row(self) -> tuple[Any, ...]:
        return (self.status.value if self.status else None, self.mood, self.urge, self.feeling, self.safety)


class CheckinMachine(PilotMachine):
    def __init__(self) -> None:
        super().__init__()
        self.people = [Person() for _ in self.ids]
        self.cursor = 0
        self.armed: int | None = None  # u was pressed on this row

    def move(self, row: int) -> None:
        row = max(0, min(len(self.ids) - 1, row))
        if row != self.cursor:
            self.armed = None
        self.cursor = row

    def here_or_unmarked(self) -> bool:
        return self.people[self.cursor].status not in NOT_HERE

    def rate(self, what: str, value: Any) -> None:
        """A check-in value for the highlighted member: refused if absent, else kept (implying present)."""
        person = self.people[self.cursor]
        if person.status in NOT_HERE:
            return
        if value is None and getattr(person, what) is None:
            return  # nothing to clear
        setattr(person, what, value)
        if person.status is None:
            person.status = AttendanceStatus.present

    @rule(key=st.sampled_from(sorted(STATUS_KEYS)))
    def status(self, key: str) -> None:
        self.press(key)
        self.armed = None
        self.people[self.cursor].status = STATUS_KEYS[key]

    @rule(key=st.sampled_from([*string.digits, "x", "minus"]))
    def rating(self, key: str) -> None:
        self.press(key)
        which = "urge" if self.armed is not None else "mood"
        self.armed = None
        value = None if key == "minus" else 10 if key == "x" else int(key)
        self.rate(which, value)

    @rule()
    def urge(self) -> None:
        self.press("u")
        if self.here_or_unmarked():
            self.armed = self.cursor

    @rule()
    def safety(self) -> None:
        self.press("exclamation_mark")
        self.armed = None
        self.rate("safety", not self.people[self.cursor].safety)

    @rule(word=WORDS, close=st.sampled_from(["enter", "escape"]))
    def feeling(self, word: str, close: str) -> None:
        self.armed = None
        if not self.here_or_unmarked():
            self.press("f")  # refused: no field opens, so the word is not typed
            return
        self.press("f", "ctrl+u", *["space" if c == " " else c for c in word], close)
        cleaned = " ".join(word.split())
        if cleaned != self.people[self.cursor].feeling:
            self.rate("feeling", cleaned)

    @rule(key=st.sampled_from(["enter", "down", "up", "home", "end"]))
    def move_key(self, key: str) -> None:
        self.press(key)
        if key == "enter":
            self.armed = None
        last = len(self.ids) - 1
        self.move({"enter": self.cursor + 1, "down": self.cursor + 1, "up": self.cursor - 1,
                   "home": 0, "end": last}[key])

    def compare(self) -> None:
        self.settle()
        stored = {
            uuid.UUID(hex=member): row[1:]
            for member, *row in (
                (r[0], None, *r[1:]) for r in rows(
                    self.target,
                    "SELECT member_id, status, checkin_mood, checkin_urge, checkin_feeling, safety_concern "
                    "FROM attendance",
                )
            )
        }
        for member_id, person in zip(self.ids, self.people):
            got = stored.get(member_id)
            if got is None:
                got = (None, None, None, "", False)
            got = (got[0], got[1], got[2], got[3], bool(got[4]))
            assert got == person.row(), (MEMBERS[self.ids.index(member_id)], got, person.row())
        assert self.screen.query_one("#checkin-table").cursor_row == self.cursor
        self.screen_is_fresh("#checkin-table")


# --------------------------------------------------------------------------- stories


@dataclass
class StoryModel:
    cursor: int = 0
    in_field: bool = False
    text: str = ""
    draft: int | None = None  # the member the note being typed belongs to
    notes: dict[int, list[str]] = field(default_factory=dict)

    def finish(self) -> None:
        if self.draft is not None and self.text.strip():
            self.notes.setdefault(self.draft, []).append(self.text.strip())
        self.draft, self.text = None, ""

    def expected(self) -> dict[int, list[str]]:
        out = {k: list(v) for k, v in self.notes.items()}
        if self.draft is not None and self.text.strip():
            out.setdefault(self.draft, []).append(self.text.strip())
        return out


class StoriesMachine(PilotMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = StoryModel()

    async def start(self) -> None:
        await self.pilot.press("f3")
        await self.quiet()

    def choose(self, row: int) -> None:
        if row != self.model.cursor:
            self.model.finish()  # leaving a member keeps what was typed as their note
            self.model.cursor = row

    @precondition(lambda self: not self.model.in_field)
    @rule(number=st.integers(min_value=0, max_value=9))
    def member_number(self, number: int) -> None:
        self.press(str(number))
        if 1 <= number <= len(self.ids):
            self.choose(number - 1)

    @precondition(lambda self: not self.model.in_field)
    @rule(key=st.sampled_from(["up", "down"]))
    def move_key(self, key: str) -> None:
        self.press(key)
        self.choose(max(0, min(len(self.ids) - 1, self.model.cursor + (1 if key == "down" else -1))))

    @precondition(lambda self: not self.model.in_field)
    @rule(key=st.sampled_from(["n", "enter"]))
    def write(self, key: str) -> None:
        self.press(key)
        self.model.in_field = True

    @precondition(lambda self: self.model.in_field)
    @rule(word=WORDS)
    def type_text(self, word: str) -> None:
        self.press(*["space" if c == " " else c for c in word])
        self.model.text += word
        if self.model.draft is None and self.model.text.strip():
            self.model.draft = self.model.cursor

    @precondition(lambda self: self.model.in_field)
    @rule()
    def add_note(self) -> None:
        self.press("enter")
        self.model.finish()

    @precondition(lambda self: self.model.in_field)
    @rule()
    def back_to_list(self) -> None:
        self.press("escape")  # the text stays in the field, saved as the member's note
        self.model.in_field = False

    def compare(self) -> None:
        self.settle()
        self.screen.save_drafts_now(10.0)  # what quitting or a closed terminal does with typing
        self.settle()
        stored: dict[int, list[str]] = {}
        for member, text in rows(self.target, "SELECT member_id, text FROM story_note ORDER BY recorded_at, created_at"):
            stored.setdefault(self.ids.index(uuid.UUID(hex=member)), []).append(text)
        assert {k: sorted(v) for k, v in stored.items()} == {k: sorted(v) for k, v in self.model.expected().items()}


# --------------------------------------------------------------------------- check-out


class CheckoutMachine(PilotMachine):
    """All five members attended; ratings (1 then 0 quickly is 10) and takeaways on the list."""

    def __init__(self) -> None:
        self.now = [1000.0]
        super().__init__()
        self.cursor = 0
        self.ratings: list[int | None] = [None] * len(self.ids)
        self.takeaways = [""] * len(self.ids)
        self.last: tuple[int, int, float] | None = None

    async def start(self) -> None:
        for _ in self.ids:
            await self.pilot.press("p", "enter")
        await self.pilot.press("f5")
        await self.quiet()
        self.screen.query_one("#checkout").clock = lambda: self.now[0]

    @rule(seconds=st.sampled_from([0.1, 0.5, 2.0]))
    def time_passes(self, seconds: float) -> None:
        self.now[0] += seconds

    @rule(digit=st.integers(min_value=0, max_value=9))
    def rate(self, digit: int) -> None:
        self.press(str(digit))
        value = digit
        last = self.last
        if digit == 0 and last is not None and last[0] == self.cursor and last[1] == 1 and self.now[0] - last[2] <= 1.2:
            value = 10
        self.last = (self.cursor, digit, self.now[0])
        self.ratings[self.cursor] = value

    @rule()
    def clear(self) -> None:
        self.press("backspace")
        self.last = None
        self.ratings[self.cursor] = None

    @rule(key=st.sampled_from(["up", "down"]))
    def move_key(self, key: str) -> None:
        self.press(key)
        self.cursor = max(0, min(len(self.ids) - 1, self.cursor + (1 if key == "down" else -1)))

    @rule(word=WORDS, close=st.sampled_from(["enter", "escape"]))
    def takeaway(self, word: str, close: str) -> None:
        self.press("t", "ctrl+u", *["space" if c == " " else c for c in word], close)
        self.takeaways[self.cursor] = word.strip()
        if close == "enter":  # Enter keeps the takeaway and moves to the next member
            self.cursor = min(len(self.ids) - 1, self.cursor + 1)

    def compare(self) -> None:
        self.settle()
        self.screen.save_drafts_now(10.0)
        self.settle()
        stored = {uuid.UUID(hex=m): (mood, takeaway) for m, mood, takeaway in rows(
            self.target, "SELECT member_id, checkout_mood, checkout_takeaway FROM attendance")}
        assert [stored[m] for m in self.ids] == list(zip(self.ratings, self.takeaways))
        assert self.screen.query_one("#checkout-table").cursor_row == self.cursor
        self.screen_is_fresh("#checkout-table")


# --------------------------------------------------------------------------- the tests


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return make_clinic(tmp_path)


@pytest.mark.parametrize("machine", [CheckinMachine, StoriesMachine, CheckoutMachine],
                         ids=["checkin", "stories", "checkout"])
def test_any_keys_leave_the_record_the_leader_meant(machine: type[PilotMachine], clinic: Clinic, tmp_path: Path,
                                                    topic_library: Any, monkeypatch: pytest.MonkeyPatch,
                                                    request: pytest.FixtureRequest) -> None:
    import textual.app

    monkeypatch.setattr(textual.app, "wait_for_idle", QUIET)
    pilots_own_screen_waits(monkeypatch)
    machine.template = clinic
    machine.folder = tmp_path
    machine.library = topic_library
    run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=examples(request.config)))
