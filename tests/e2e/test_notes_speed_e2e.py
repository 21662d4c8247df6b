"""Speed is measured (issue 13, point 5): a leader writes the notes of a finished 10-member group in a
real terminal, and the keys are counted.

The meeting (prepared through the services, fictional) is over: ten members present with
check-ins, the day's topic, one safety event raised at check-in and dispositioned, the group
finished. In tmux, keys go one at a time 50-150 ms apart (a seeded rhythm), and each member's
note is written as a leader would: ``ctrl+g`` drafts every note once (the topic's goal ticked,
the risk screen prefilled from the safety event), then per member the facts are picked, one key
each (progress on the suggested goal, participation, affect, the risk screen, substance use),
the observation field takes the focus after the last fact, the leader types one sentence of
about 15 words of their own, and ``ctrl+down`` goes to the next note. Some members take more:
a measurable value on the goal, use reported with its detail. Every key is counted as
navigation and picking, or as a typed character.

Asserted: at most 10 navigation and picking keys per member note, and the whole run, typed at
5 characters a second with every other key counted the same, under 10 minutes (counted, not
timed). Then the database must hold what the leader meant: each member's facts and words,
drafts that answer the facts (a plan that answers reported use), and the payer lens finds
nothing to flag. The figures are printed (``-s``) and written in the README.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.test_tmux import Tmux, app_env, tmux, wait_until  # noqa: F401  (fixture)
from tests.tui.meeting_kit import make_clinic

# A group of its own (not "tmux"): about 1,000 characters at human pace take two minutes, so it
# runs beside the other terminal tests instead of after them (its keys wait on the app, never
# on a clock, so a busy neighbour slows it and changes nothing it counts).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("tmux-notes")]

MEMBERS = ("Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.", "Frankie O.", "Gale M.", "Harper L.",
           "Indigo V.", "Jules K.")
SAFETY = "Gale M."  # raised a concern at check-in; the safety event was recorded and dispositioned
CHARS_PER_SECOND = 5
LIMIT_KEYS_PER_NOTE = 10
LIMIT_MINUTES = 10


@dataclass(frozen=True)
class Plan:
    """What the leader means for one member, and the keys that say it."""

    progress: str  # i / n / w
    participation: str  # a p m l d
    affect: str  # e b a d i f t g l y
    use: str  # n u d
    observation: str
    measure: str = ""  # typed on the progress row (Enter, words, Enter)
    use_detail: str = ""  # typed on the use row


PLANS = {
    "Avery T.": Plan("i", "a", "b", "n", "Described her new morning walk in detail and timed her breathing against the wall clock twice"),
    "Blake S.": Plan("n", "p", "g", "n", "Kept his jacket on and answered only direct questions, but stayed for the whole role play"),
    "Casey R.": Plan("i", "a", "e", "u", "Named the exact corner store that triggers her and rehearsed a new route home aloud to a peer",
                     use_detail="one drink Friday night"),
    "Drew P.": Plan("w", "m", "t", "n", "Cried when the topic turned to family and later asked to stay after group to talk",
                    measure="slept 4 of 7 nights"),
    "Eli N.": Plan("i", "a", "e", "n", "Brought a written urge log with eleven entries and walked the group through the worst one"),
    "Frankie O.": Plan("n", "l", "f", "d", "Sat near the door, listened with eyes down and nodded when others described night cravings"),
    "Gale M.": Plan("w", "p", "a", "n", "Spoke slowly, said the weekend felt long and agreed to call the crisis line tonight if needed"),
    "Harper L.": Plan("i", "a", "b", "n", "Led the closing round unprompted and offered her bus schedule to a new member after group"),
    "Indigo V.": Plan("i", "p", "i", "u", "Interrupted twice early on, then apologised and gave a careful account of Saturday's lapse",
                      use_detail="cannabis Saturday"),
    "Jules K.": Plan("n", "m", "y", "n", "Yawned through the didactic part yet wrote down all three coping cards before leaving today"),
}
PROGRESS = {"i": "improved", "n": "no_change", "w": "worse"}
PARTICIPATION = {"a": "active", "p": "engaged_when_prompted", "m": "minimal", "l": "listened", "d": "disruptive"}
AFFECT = {"e": "euthymic", "b": "bright", "a": "anxious", "d": "depressed", "i": "irritable", "f": "flat",
          "t": "tearful", "g": "guarded", "l": "labile", "y": "tired"}
USE = {"n": "none", "u": "used", "d": "declined"}


@dataclass
class Counted:
    """Keys sent to the terminal, by kind, at a human pace (50-150 ms apart, seeded)."""

    tmux: Tmux
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    keys: int = 0  # navigation and picking keys
    typed: int = 0  # characters typed
    per_note: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def key(self, *keys: str) -> None:
        for key in keys:
            self.tmux.keys(key)
            self.keys += 1
            if self.note:
                self.per_note[self.note] = self.per_note.get(self.note, 0) + 1
            time.sleep(self.rng.uniform(0.05, 0.15))  # not a wait: a leader's pace between keys

    def type(self, text: str) -> None:
        for char in text:
            self.tmux.keys("-l", char)
            self.typed += 1
            time.sleep(self.rng.uniform(0.05, 0.15))  # not a wait: a leader's pace between keys

    @property
    def minutes(self) -> float:
        return (self.typed + self.keys) / CHARS_PER_SECOND / 60


def finished_meeting(tmp_path: Path):
    """Ten members present with check-ins, the topic, a dispositioned safety event, the group finished; on Notes."""
    from iop_facilitator.clock import local_today
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.enums import AttendanceStatus, FlowStep, RiskLevel
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import Group, Staff
    from iop_facilitator.services import live
    from iop_facilitator.services.safety import record_event, set_disposition
    from iop_facilitator.services.settings import get_settings

    clinic = make_clinic(tmp_path, members=MEMBERS)
    database = open_database(clinic.target)
    try:
        with database.begin() as session:
            group = session.get_one(Group, clinic.group_id)
            lead = session.get_one(Staff, clinic.staff_id)
            meeting_id = live.start_meeting(session, group, local_today(get_settings(session).timezone),
                                            facilitator=lead).id
            for index, name in enumerate(MEMBERS):
                member = clinic.member_ids[name]
                live.mark(session, meeting_id, member, AttendanceStatus.present)
                live.set_checkin(session, meeting_id, member, mood=3 + index % 6, urge=index % 5,
                                 feeling=("hopeful", "tired", "restless", "calm", "flat")[index % 5],
                                 safety_concern=name == SAFETY)
            event = record_event(session, meeting_id, clinic.member_ids[SAFETY], "passive thoughts over the weekend")
            set_disposition(session, event.id, risk_level=RiskLevel.low,
                            disposition="Safety plan reviewed; crisis line given; call tomorrow")
            live.choose_topic(session, meeting_id, load_library().get("cravings-and-urges"))
            live.finish_meeting(session, meeting_id)
            live.set_step(session, meeting_id, FlowStep.notes)
    finally:
        database.dispose()
    return clinic, meeting_id


def launch(tmux: Tmux, target: str, env: dict[str, str]) -> None:  # noqa: F811
    command = ["env", "-u", "COLUMNS", "-u", "LINES", sys.executable, "-m", "iop_facilitator", "--db", target]
    tmux.start(command, env, 120, 36)
    wait_until(lambda: "Evening IOP" in tmux.screen(), "today's group on the home screen", tmux)


def rows(target: str, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(target) as conn:
        return conn.execute(sql, args).fetchall()


def test_ten_notes_in_a_few_keys_each(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    env = app_env(tmp_path / "home")
    os.environ["IOP_HOME"] = env["IOP_HOME"]  # make_clinic writes this laptop's config there
    clinic, meeting_id = finished_meeting(tmp_path)
    target = clinic.target
    ids = {name: clinic.member_ids[name].hex for name in MEMBERS}
    launch(tmux, target, env)
    leader = Counted(tmux)

    def observation(name: str) -> str:
        found = rows(target, "SELECT observation FROM note_facts WHERE member_id = ?", ids[name])
        return found[0][0] if found else ""

    leader.key("1")  # today's group: the meeting opens where it was, on Notes
    wait_until(lambda: "Group narrative" in tmux.screen() and "✎" in tmux.screen(), "the notes step", tmux, 30)
    leader.key("C-g")  # draft every note once: goals from the topic, risk screens from the safety event
    wait_until(lambda: rows(target, "SELECT count(*) FROM progress_note WHERE plan != ''")[0][0] == len(MEMBERS),
               "every note drafted", tmux, 30)
    for index, name in enumerate(MEMBERS):
        plan = PLANS[name]
        leader.note = name
        if index == 0:
            leader.key("Down", "Enter")  # from the narrative to the first member's facts
        else:
            leader.key("C-Down")  # the next note: the cursor on its first fact not picked yet
        wait_until(lambda name=name: f"{name} · GIRP note" in tmux.screen(), f"{name}'s note", tmux)
        if plan.measure:
            leader.key("Enter")  # the progress row's words: the measurable value
            leader.type(plan.measure)
            leader.key("Enter")
        leader.key(plan.progress, plan.participation, plan.affect)
        if name != SAFETY:  # Gale's screen was prefilled from the safety event: the cursor skips it
            leader.key("d")  # risk screen: denied
        if plan.use_detail:
            leader.key("Enter")  # the use row's words first: what was used, as reported
            leader.type(plan.use_detail)
            leader.key("Enter")
        leader.key(plan.use)  # the last fact: the observation takes the focus
        leader.type(plan.observation)
        wait_until(lambda name=name, plan=plan: observation(name) == plan.observation, f"{name}'s observation saved",
                   tmux, 30)
    leader.note = ""
    leader.key("F7")
    wait_until(lambda: "Ready to sign" in " ".join(tmux.screen().split()), "a complete checklist", tmux, 30)
    screen = tmux.screen()
    assert "Before signing" not in screen, screen  # the payer lens has nothing to say about these notes

    per_note = leader.per_note
    print(f"\nkeys per member note (navigation and picking): {per_note}")
    print(f"keys {leader.keys}, typed characters {leader.typed}, at {CHARS_PER_SECOND}/s: {leader.minutes:.1f} min")
    assert max(per_note.values()) <= LIMIT_KEYS_PER_NOTE, per_note
    assert leader.minutes < LIMIT_MINUTES

    # The database holds what the leader meant.
    facts = {uuid.UUID(hex=r[0]): r[1:] for r in rows(
        target, "SELECT member_id, goal_progress, participation, affect, risk_screen, safety_event_id, substance_use, "
                "use_detail, observation FROM note_facts WHERE meeting_id = ?", meeting_id.hex)}
    notes = {uuid.UUID(hex=r[0]): r[1:] for r in rows(
        target, "SELECT member_id, goal_ids, plan FROM progress_note WHERE meeting_id = ?", meeting_id.hex)}
    import json

    from iop_facilitator.services.formats import USE_RESPONSE

    for name, plan in PLANS.items():
        member = clinic.member_ids[name]
        progress, participation, affect, risk, event, use, detail, words = facts[member]
        goals, plan_text = json.loads(notes[member][0]), notes[member][1]
        assert len(goals) == 1, name  # the topic's suggestion, as drafted
        assert json.loads(progress) == {goals[0]: {"progress": PROGRESS[plan.progress],
                                                   **({"measure": plan.measure} if plan.measure else {})}}, name
        assert participation == PARTICIPATION[plan.participation], name
        assert json.loads(affect) == [AFFECT[plan.affect]], name
        assert (risk, event is not None) == (("endorsed", True) if name == SAFETY else ("denied", False)), name
        assert use == USE[plan.use] and detail == plan.use_detail, name
        assert words == plan.observation, name
        if plan.use == "u":
            assert USE_RESPONSE.search(plan_text), name  # the drafted plan answers the reported use
    tmux.keys("C-q")
    wait_until(lambda: tmux.pane()[0], "the program to exit", tmux, timeout=10)
