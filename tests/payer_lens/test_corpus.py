"""The payer lens against a crafted corpus: every cloned or questionable note caught, every control clean.

``corpus/clones.json`` holds at least 30 crafted cases (cloned observations, sections and plans,
near-identical text with names, pronouns or numbers swapped, a member repeating last week, notes
with nothing of the leader's, plans unchanged while use or worse progress was reported, goals stuck
at "no change", other members' names, unscreened safety concerns), each with the flags it must
raise (kind, member, field). ``corpus/clean.json`` holds notes that must raise none. Fictional.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from iop_facilitator.services import payer_lens

CORPUS = Path(__file__).parent / "corpus"
NARRATIVE = ("IOP process group met in person for \"Coping with stress\". Group discussed healthy ways of coping "
             "with stress. Homework: write down three stressors.")
DEFAULT_SECTIONS = {
    "intervention": "Linked the day's group work to goal 1 (a goal).",
    "response": "At check-in reported mood 5/10. Participated actively, volunteering and responding to peers.",
    "plan": "Continue work on goal 1 at the next group.",
}


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))["cases"]


def note(name: str, ident: uuid.UUID, spec: dict[str, Any], day: dt.date, meeting_id: uuid.UUID) -> payer_lens.NoteInput:
    progress = tuple((g, p) for g, p in spec.get("progress", ()))
    return payer_lens.NoteInput(
        member_id=ident,
        display_name=name,
        sections=dict(spec.get("sections", DEFAULT_SECTIONS)),
        observation=spec.get("observation", ""),
        goal_progress=progress,
        goal_labels={g: f"goal {g[1:]}" for g, _p in progress},
        substance_use=spec.get("use"),
        risk_screen=spec.get("risk"),
        safety_flagged=bool(spec.get("safety")),
        stories=tuple(spec.get("stories", ())),
        meeting_id=meeting_id,
        local_date=day,
    )


def run(case: dict[str, Any]) -> tuple[list[payer_lens.Flag], dict[str, uuid.UUID]]:
    ids = {name: uuid.uuid4() for name in case["members"]}
    day = dt.date(2026, 11, 23)
    meeting_id = uuid.uuid4()
    meeting = payer_lens.MeetingNotes(
        meeting_id, day, "Evening IOP", case.get("narrative", NARRATIVE), "write down three stressors.",
        tuple(note(n, ids[n], spec, day, meeting_id) for n, spec in case["members"].items()),
        tuple((i, n) for n, i in ids.items()),
    )
    previous = {}
    for name, notes in case.get("previous", {}).items():
        previous[ids[name]] = [
            note(name, ids[name], spec, day - dt.timedelta(days=2 * (k + 1)), uuid.uuid4()) for k, spec in enumerate(notes)
        ]
    flags = payer_lens.review(meeting, previous, no_change_limit=case.get("no_change_limit", 3))
    return flags, ids


def test_the_corpus_is_big_enough() -> None:
    clones = load("clones.json")
    assert len(clones) >= 30
    assert len({c["id"] for c in clones}) == len(clones)
    kinds = {e["kind"] for c in clones for e in c["expect"]}
    assert kinds == {"similar", "repeat", "no_observation", "plan_unchanged", "stuck_goal", "name", "risk_unscreened"}


@pytest.mark.parametrize("case", load("clones.json"), ids=lambda c: c["id"])
def test_every_crafted_clone_is_caught(case: dict[str, Any]) -> None:
    flags, ids = run(case)
    found = {(f.kind, f.member_id, f.field) for f in flags}
    for expected in case["expect"]:
        key = (expected["kind"], ids[expected["member"]], expected["field"])
        assert key in found, (case["why"], [(f.kind, f.member, f.field, f.message) for f in flags])
    for f in flags:  # each flag names the member and the field to go to, in a one-line message
        assert f.member and f.field and "\n" not in f.message


@pytest.mark.parametrize("case", load("clean.json"), ids=lambda c: c["id"])
def test_controls_raise_nothing(case: dict[str, Any]) -> None:
    flags, _ids = run(case)
    assert flags == [], (case["why"], [(f.kind, f.member, f.field, f.message) for f in flags])
