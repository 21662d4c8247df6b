"""Property test of the notes step's facts: any keys on the facts of any member, the record is what was meant.

A hypothesis state machine (the pattern and the machinery of ``tests/tui/test_properties.py``)
drives the real app on the Notes step with Pilot keys: choose a member on the list (Esc back
to the list, ↑/↓, ``f`` for the facts), press any of the pick keys, ↑/↓ between the facts,
and type an observation when the facts hand the focus over. A small model keeps what each
key meant for the member and the fact under the cursor (the cursor too: it starts on the
first fact not picked yet, a pick moves it on, past the last fact the observation takes the
focus); the ``check`` rule and the end of every run wait until everything is committed and
compare the database (``note_facts``, the note's goals) with the model.
"""

from __future__ import annotations

import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from iop_facilitator.tui.steps.notes import (
    AFFECT,
    PARTICIPATION,
    PROGRESS,
    RISK,
    USE,
    NoteArea,
    NotesPane,
)
from iop_facilitator.tui.widgets.facts import FactsPanel
from tests.tui.meeting_kit import Clinic, make_clinic
from tests.tui.conftest import pilots_own_screen_waits
from tests.tui.test_properties import QUIET, SETTINGS, PilotMachine, examples, rows

PICKS = {
    "participation": {c.key: c.value for c in PARTICIPATION},
    "affect": {c.key: c.value for c in AFFECT},
    "risk": {c.key: c.value for c in RISK},
    "use": {c.key: c.value for c in USE},
    "progress": {c.key: c.value for c in PROGRESS},
}
KEYS = sorted({*string.digits[1:4], *(k for picks in PICKS.values() for k in picks)})
WORDS = st.text(alphabet=string.ascii_lowercase + " ", min_size=1, max_size=12).filter(lambda w: w.strip())


@dataclass
class Facts:
    goals: list[str] = field(default_factory=list)  # goal ids addressed, in plan order
    progress: dict[str, str] = field(default_factory=dict)
    participation: str | None = None
    affect: list[str] = field(default_factory=list)
    risk: str | None = None
    use: str | None = None
    observation: str = ""


class NotesFactsMachine(PilotMachine):
    """Five members present (the meeting is not finished: no drafts, only what the keys set)."""

    def __init__(self) -> None:
        super().__init__()
        self.pane = self.screen.query_one(NotesPane)
        listing = self.pane.query_one("#notes-list")
        self.members = [uuid.UUID(o.id) for o in listing.options if o.id != "narrative"]
        self.plans = {m: [g.id for g in self.pane._line(m).goals] for m in self.members}
        self.model = {m: Facts() for m in self.members}
        self.row = 0  # the list's highlighted row (0: the narrative)
        self.current: uuid.UUID | None = None
        self.cursor = 0
        self.where = "list"  # list, facts or observation: where the keys go

    async def start(self) -> None:
        for _ in self.ids:
            await self.pilot.press("p", "enter")
        await self.pilot.press("f6")
        await self.quiet()

    # -- the model's facts rows, as the panel lays them out
    def fact_rows(self, member: uuid.UUID) -> list[tuple[str, bool]]:
        """(row name, still wanted) in the panel's order."""
        f = self.model[member]
        out = [("goals", not f.goals and bool(self.plans[member]))]
        out += [(f"progress:{g}", g not in f.progress) for g in f.goals]
        out += [("participation", f.participation is None), ("affect", not f.affect), ("risk", f.risk is None),
                ("use", f.use is None)]
        return out

    def first_wanted(self, member: uuid.UUID) -> int:
        names = self.fact_rows(member)
        return next((i for i, (_n, wanted) in enumerate(names) if wanted), len(names) - 1)

    # -- rules
    @rule(row=st.integers(min_value=0, max_value=4))
    def choose_member(self, row: int) -> None:
        """Back to the list (Esc), to the member's row (↑/↓), and ``f`` for their facts."""
        for _ in range(3):
            if self.where == "list":
                break
            self.press("escape")
            self.where = "facts" if self.where == "words" else "list"
        assert self.where == "list"
        target = row + 1
        while self.row != target:
            key = "down" if target > self.row else "up"
            self.press(key)
            self.row += 1 if key == "down" else -1
        self.current = self.members[row]
        self.press("f")
        self.where = "facts"
        self.cursor = self.first_wanted(self.current)

    @precondition(lambda self: self.where == "facts")
    @rule(key=st.sampled_from(["up", "down"]))
    def move(self, key: str) -> None:
        self.press(key)
        assert self.current is not None
        if key == "up":
            self.cursor = max(0, self.cursor - 1)
        elif self.cursor + 1 >= len(self.fact_rows(self.current)):
            self.where = "observation"
        else:
            self.cursor += 1

    @precondition(lambda self: self.where == "facts")
    @rule(key=st.sampled_from(KEYS))
    def pick(self, key: str) -> None:
        self.press(key)
        member = self.current
        assert member is not None
        facts = self.model[member]
        names = self.fact_rows(member)
        name = names[self.cursor][0]
        kind = name.split(":", 1)[0]
        if kind == "goals":
            plan = self.plans[member]
            if key.isdigit() and int(key) <= len(plan):
                goal = plan[int(key) - 1]
                picked = set(facts.goals) ^ {goal}
                facts.goals = [g for g in plan if g in picked]
                facts.progress = {g: p for g, p in facts.progress.items() if g in picked}
            elif key == "f":  # not a pick here: the pane's key for the facts (cursor to the first wanted)
                self.cursor = self.first_wanted(member)
            return
        value = PICKS[kind].get(key)
        if value is None:
            if key == "f":
                self.cursor = self.first_wanted(member)
            return
        if kind == "progress":
            facts.progress[name.split(":", 1)[1]] = value
        elif kind == "participation":
            facts.participation = value
        elif kind == "affect":
            facts.affect = [a for a in facts.affect if a != value] if value in facts.affect else [*facts.affect, value]
        elif kind == "risk":
            if value == "denied":
                facts.risk = value  # "endorsed" is refused: no safety event in this meeting
        elif kind == "use":
            facts.use = value
        # On to the next fact not picked yet (as the rows were before this pick); none: the observation.
        following = [i for i, (_n, wanted) in enumerate(names) if wanted and i > self.cursor]
        if following:
            self.cursor = following[0]
        else:
            self.where = "observation"

    @precondition(lambda self: self.where == "observation" and self.current is not None
                  and not self.model[self.current].observation)
    @rule(words=WORDS)
    def observe(self, words: str) -> None:
        self.press(*["space" if c == " " else c for c in words])
        assert self.current is not None
        self.model[self.current].observation = words.strip()

    def compare(self) -> None:
        self.settle()
        self.screen.save_drafts_now(10.0)
        self.settle()
        goals = {uuid.UUID(hex=m): g for m, g in rows(self.target, "SELECT member_id, goal_ids FROM progress_note")}
        stored = {uuid.UUID(hex=r[0]): r[1:] for r in rows(
            self.target, "SELECT member_id, goal_progress, participation, affect, risk_screen, substance_use, "
                         "observation FROM note_facts")}
        import json

        for member in self.members:
            want = self.model[member]
            got_goals = json.loads(goals[member]) if goals.get(member) else []
            assert got_goals == want.goals, "goals"
            progress, participation, affect, risk, use, observation = stored.get(member, ("{}", None, "[]", None, None,
                                                                                           ""))
            got_progress = {g: v.get("progress") for g, v in json.loads(progress or "{}").items() if v.get("progress")}
            assert got_progress == want.progress, "progress"
            assert participation == want.participation
            assert json.loads(affect or "[]") == want.affect
            assert risk == want.risk
            assert use == want.use
            assert (observation or "").strip() == want.observation
        if self.where == "facts":
            panel = self.pane.query_one("#notes-facts", FactsPanel)
            assert panel.has_focus
            assert panel.cursor == self.cursor
        if self.where == "observation":
            assert self.pane.query_one("#notes-observation", NoteArea).has_focus


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return make_clinic(tmp_path)


def test_any_fact_keys_leave_the_record_the_leader_meant(clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         request: pytest.FixtureRequest) -> None:
    import textual.app

    from iop_facilitator.library.load import load_library

    monkeypatch.setattr(textual.app, "wait_for_idle", QUIET)
    pilots_own_screen_waits(monkeypatch)
    NotesFactsMachine.template = clinic
    NotesFactsMachine.folder = tmp_path
    NotesFactsMachine.library = load_library()
    run_state_machine_as_test(NotesFactsMachine, settings=settings(SETTINGS, max_examples=examples(request.config)))


