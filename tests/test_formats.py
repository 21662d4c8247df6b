"""Note formats mean what they say (services.formats): GIRP, BIRP, DAP and SOAP drafts from each
member's own facts, golden files of a small fixed meeting, and the property that no draft ever
holds another member's name.

Golden files: ``tests/golden/formats/<FORMAT>.txt`` (``IOP_REGEN_GOLDEN=1`` rewrites them). The
meeting is built through the services on every back end, and every back end must give the same text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import uuid
from pathlib import Path

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iop_facilitator.enums import AttendanceStatus, MeetingStatus, RiskLevel
from iop_facilitator.errors import InvalidInput
from iop_facilitator.services import (
    formats,
    live,
    live_read,
    members,
    note_facts,
    notes,
    safety,
    staff,
    wording,
)
from iop_facilitator.services import groups as group_service
from iop_facilitator.services import settings as program
from iop_facilitator.services.names import COMMON_WORDS
from tests.test_live_services import library  # noqa: F401 - fixture

GOLDEN = Path(__file__).parent / "golden" / "formats"
TZ = "America/Chicago"
DAY = dt.date(2026, 11, 23)


def at(hh: int, mm: int) -> dt.datetime:
    return pendulum.datetime(DAY.year, DAY.month, DAY.day, hh, mm, tz=TZ).in_tz("UTC")


def fixed_meeting(db, library):  # noqa: F811
    """A finished meeting of four fictional members: three attended, each with their own facts."""
    with db.begin() as s:
        program.update_settings(s, timezone=TZ)
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        group = group_service.add_group(s, "Evening IOP", weekdays="mon,wed,fri", start_time="09:00", facilitators=[lead])
        plans = {
            "Avery T.": ["Sleep seven hours a night", "Use two stress management skills at work"],
            "Blake S.": ["Call sponsor daily", "Attend three mutual-help meetings a week"],
            "Casey R.": ["Practice one grounding skill daily"],
            "Drew P.": ["Return to work part time"],
        }
        ids = {}
        for name, goals in plans.items():
            person = members.add_member(s, name, goals=goals)
            members.enroll(s, person, group, DAY - dt.timedelta(days=30))
            ids[name] = person.id
        meeting = live.start_meeting(s, group, DAY, now=at(9, 2)).id
    with db.begin() as s:
        live.mark(s, meeting, ids["Avery T."], AttendanceStatus.present, at=at(9, 2))
        live.mark(s, meeting, ids["Blake S."], AttendanceStatus.present, at=at(9, 2))
        live.mark(s, meeting, ids["Casey R."], AttendanceStatus.late, at=at(9, 20))
        live.mark(s, meeting, ids["Drew P."], AttendanceStatus.absent_excused)
        live.set_checkin(s, meeting, ids["Avery T."], mood=4, urge=6, feeling="on edge")
        live.set_checkin(s, meeting, ids["Blake S."], mood=7, urge=1, feeling="steady")
        live.set_checkin(s, meeting, ids["Casey R."], mood=5, feeling="tired")
        live.add_story(s, meeting, ids["Avery T."], "Told the group about the argument with Blake at the warehouse.",
                       at=at(9, 40))
        live.choose_topic(s, meeting, library.get("handling-stress"))
        live.set_homework(s, meeting, "Write down three stressors and one skill for each.")
        live.set_checkout(s, meeting, ids["Avery T."], mood=6, takeaway="box breathing before calls")
        live.set_checkout(s, meeting, ids["Blake S."], mood=8, takeaway="thanks to Avery for the breathing tip")
        live.finish_meeting(s, meeting, at=at(11, 57))
    with db.begin() as s:
        event = safety.record_event(s, meeting, ids["Blake S."], "passive thoughts at check-in")
        safety.set_disposition(s, event.id, risk_level=RiskLevel.low,
                               disposition="Screened at the break; safety plan reviewed; no means at home.")
        view = live_read.load_snapshot(s, meeting)
        goal = {n: [g.id for g in view.member(ids[n]).goals] for n in ("Avery T.", "Blake S.", "Casey R.")}
        note_facts.save_facts(s, meeting, ids["Avery T."], participation="active", affect=["anxious"],
                              presentation="fidgeting, well groomed", substance_use="used",
                              use_detail="two beers Saturday", risk_screen="denied",
                              observation="Tapped her foot through the didactic and relaxed visibly during the "
                                          "breathing practice.")
        note_facts.set_goal_progress(s, meeting, ids["Avery T."], goal["Avery T."][1], progress="worse",
                                     measure="used a skill 1 of 5 workdays")
        note_facts.save_facts(s, meeting, ids["Blake S."], participation="listened", affect=["euthymic"],
                              substance_use="none",
                              observation="Quiet but nodded along; asked for the breathing handout afterwards.")
        note_facts.set_goal_progress(s, meeting, ids["Blake S."], goal["Blake S."][0], progress="improved",
                                     measure="called sponsor 6 of 7 days")
        note_facts.save_facts(s, meeting, ids["Casey R."], participation="engaged_when_prompted", affect=["tired"],
                              substance_use="declined", risk_screen="denied")
    return meeting, ids


def render(view: live_read.Snapshot) -> str:
    out = [f"# {view.note_format}: {formats.spec(view.note_format).title}", "", "Group narrative:",
           f"  {view.narrative}", ""]
    for line in view.attended:
        out.append(f"## {line.display_name}")
        goals = {g.id: g for g in line.goals}
        addressed = [goals[g] for g in (line.note.goal_ids if line.note else ()) if g in goals]
        for part in formats.note_parts(view.note_format, addressed, line.note, line.facts):
            out.append(f"{part.heading}:")
            out += [f"  {p}" for p in part.paragraphs] or ["  (empty)"]
        out.append("")
    return "\n".join(out)


@pytest.mark.parametrize("fmt", ["GIRP", "BIRP", "DAP", "SOAP"])
def test_each_format_drafts_its_own_sections(db, library, fmt) -> None:  # noqa: F811
    meeting, ids = fixed_meeting(db, library)
    with db.begin() as s:
        notes.set_format(s, meeting, fmt)
        notes.draft_notes(s, meeting, library.get("handling-stress"))
    with db.session() as s:
        view = live_read.load_snapshot(s, meeting)
    text = render(view)
    path = GOLDEN / f"{fmt}.txt"
    if os.environ.get("IOP_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == path.read_text(encoding="utf-8")
    spec = formats.spec(fmt)
    for line in view.attended:
        parts = {p.key: p for p in formats.note_parts(fmt, [], line.note, line.facts)}
        assert list(parts) == ["goals", *spec.text_keys]
        assert all(parts[k].paragraphs for k in spec.text_keys), (fmt, line.display_name)
    # the leader's observation sits in the format's observation section, never elsewhere
    avery = view.member(ids["Avery T."])
    placed = [p.key for p in formats.note_parts(fmt, [], avery.note, avery.facts)
              if any("Tapped her foot" in x for x in p.paragraphs)]
    assert placed == [spec.observed_in]
    assert notes.missing(view) == []  # every note complete in its own format


def test_formats_do_not_share_their_words(db, library) -> None:  # noqa: F811
    """Not a relabelling: each format's sections hold different text, in its own vocabulary."""
    golden = {fmt: (GOLDEN / f"{fmt}.txt").read_text(encoding="utf-8") for fmt in formats.FORMATS}
    assert "G \u00b7 Goal:" in golden["GIRP"] and "Goals addressed:" not in golden["GIRP"]
    assert "B \u00b7 Behavior:" in golden["BIRP"] and "G \u00b7 Goal" not in golden["BIRP"]
    assert "D \u00b7 Data:" in golden["DAP"] and "I \u00b7 Intervention" not in golden["DAP"]
    assert "S \u00b7 Subjective:" in golden["SOAP"] and "O \u00b7 Objective:" in golden["SOAP"]
    for text in golden.values():
        assert "warehouse" not in text  # the story note is referenced, never pasted
        assert "thanks to A.T." in text  # another member's name in a member's own words: initials
        narrative, members_part = text.split("\n## ", 1)
        # homework and the group's intervention: in the narrative, never copied into a member's note
        assert "Write down three stressors" in narrative and "Methods of Handling Stress" in narrative
        assert "Write down three stressors" not in members_part and "Handling Stress" not in members_part


def test_set_format_is_checked_and_audited(db, library) -> None:  # noqa: F811
    meeting, _ids = fixed_meeting(db, library)
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="unknown note format"):
            notes.set_format(s, meeting, "XYZ")
        assert notes.set_format(s, meeting, "soap").note_format.value == "SOAP"


def test_a_note_written_before_formats_had_sections_shows_what_it_has() -> None:
    note = live_read.NoteView(("g",), "Group work on stress.", "Member described a hard week.", "Continue.")
    shown = formats.sections("SOAP", note, None)
    assert [s.section.title for s in shown] == ["Intervention", "Response", "Plan"]  # nothing hidden
    assert formats.complete("SOAP", note, None)
    fresh = formats.sections("SOAP", live_read.NoteView(("g",), "", "", "Plan."), note_facts.EMPTY)
    assert [s.section.title for s in fresh] == ["Subjective", "Objective", "Assessment", "Plan"]


def test_every_drafted_sentence_is_recognised_as_the_apps() -> None:
    for name, template in wording.TEMPLATES.items():
        filled = re.sub(r"\{[a-z_]+\}", "x 1", template)
        assert wording.is_app_sentence(filled), name
    assert not wording.is_app_sentence("Tapped her foot through the didactic.")


# --------------------------------------------------------------------------- no other member's name, ever

# First names not used as words by any template (so a match is a leak, not the app's vocabulary).
TEMPLATE_WORDS = {w.lower() for t in wording.TEMPLATES.values() for w in re.findall(r"[A-Za-z]+", t)}
FIRST = [n for n in ("Avery", "Blake", "Casey", "Drew", "Eli", "Finley", "Harper", "Indigo", "Jordan", "Kai",
                     "Logan", "Marisol", "Noor", "Oluwaseun", "Priya", "Quinn", "Rafael", "Sasha", "Tomasz",
                     "Ulla", "Valentina", "Wren", "Ximena", "Yusuf", "Zainab", "Ana", "Renée", "Björn")
         if n.lower() not in TEMPLATE_WORDS]
WORDS = ["calm", "tired", "the bus", "work", "my sister", "called", "walked", "said", "thanks to", "with", "and",
         "sponsor", "breathing", "helped", "late", "Saturday", "because", "again"]


def _snapshot(people: list[tuple[str, dict]], homework: str) -> live_read.Snapshot:
    start = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
    lines = []
    for i, (name, data) in enumerate(people):
        goals = tuple(live_read.GoalView(f"{i}-{k}", k + 1, text) for k, text in enumerate(data["goals"]))
        progress = tuple(note_facts.GoalProgressView(g.id, p, m) for g, (p, m) in zip(goals, data["progress"], strict=False))
        facts = note_facts.FactsView(
            goal_progress=progress, participation=data["participation"], affect=tuple(data["affect"]),
            presentation=data["presentation"], risk_screen=data["risk"], substance_use=data["use"],
            use_detail=data["use_detail"],
        )
        stories = tuple(live_read.StoryView(uuid.uuid4(), start + dt.timedelta(minutes=10 * k), text)
                        for k, text in enumerate(data["stories"]))
        lines.append(live_read.MemberLine(
            member_id=uuid.uuid4(), display_name=name, enrolled=True, status=data["status"], drop_in=False,
            arrived_at=start, left_at=start + dt.timedelta(hours=2), minutes=120, mood=data["mood"], urge=None,
            feeling=data["feeling"], safety_concern=False, checkout_mood=None, takeaway=data["takeaway"], absences=0,
            near_limit=False, over_limit=False, goals=goals, stories=stories, note=None, facts=facts,
        ))
    return live_read.Snapshot(
        meeting_id=uuid.uuid4(), group_id=uuid.uuid4(), group_name="G", group_type="process", level_of_care="IOP",
        timezone=TZ, local_date=DAY, status=MeetingStatus.completed, flow_step="notes", scheduled_start=start,
        scheduled_end=start + dt.timedelta(hours=3), actual_start=start, actual_end=start + dt.timedelta(hours=3),
        modality="in_person", location="", facilitator="F", facilitator_credentials="LCSW", co_facilitator=None,
        topic_id=None, topic_version=None, topic_hash=None, topic_notes="", prompts_done=(), homework=homework,
        narrative="", note_format="GIRP", signed_at=None, signer=None, signer_credentials=None, facilitator_id=None,
        max_absences=6, members=tuple(lines),
    )


@st.composite
def meetings(draw):
    firsts = draw(st.lists(st.sampled_from(FIRST), min_size=2, max_size=6, unique=True))
    names = [f"{f} {draw(st.sampled_from('ABCDEFGHJKLMNPRSTVWZ'))}." for f in firsts]
    # A first name that is also a word ("Drew", "Will") is the name when capitalised or in capitals only.
    every_name = names + firsts + [f.lower() for f in firsts if f.lower() not in COMMON_WORDS] + [f.upper() for f in firsts]
    phrase = st.lists(st.sampled_from(WORDS + every_name), max_size=6).map(" ".join)
    people = []
    for name in names:
        people.append((name, {
            "status": draw(st.sampled_from([AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.left_early])),
            "mood": draw(st.none() | st.integers(0, 10)),
            "feeling": draw(phrase), "takeaway": draw(phrase), "presentation": draw(phrase), "use_detail": draw(phrase),
            "stories": draw(st.lists(phrase, max_size=2)),
            "goals": draw(st.lists(phrase.filter(bool), min_size=1, max_size=3)),
            "progress": draw(st.lists(st.tuples(st.sampled_from([None, "improved", "no_change", "worse"]), phrase), max_size=3)),
            "participation": draw(st.sampled_from([None, "active", "engaged_when_prompted", "minimal", "listened", "disruptive"])),
            "affect": draw(st.lists(st.sampled_from(["anxious", "bright", "flat"]), max_size=2, unique=True)),
            "risk": draw(st.sampled_from([None, "denied"])),
            "use": draw(st.sampled_from([None, "none", "used", "declined"])),
        }))
    return _snapshot(people, draw(phrase))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meetings(), st.sampled_from(sorted(formats.FORMATS)))
def test_no_draft_ever_names_another_member(view, fmt) -> None:
    for line in view.members:
        goal_ids = [g.id for g in line.goals]
        text = " ".join(formats.compose(line, view, goal_ids, line.facts, fmt).values())
        for other in view.members:
            if other.member_id == line.member_id:
                continue
            first = other.display_name.split()[0]
            assert other.display_name.lower() not in text.lower(), (fmt, text)
            flags = 0 if first.lower() in COMMON_WORDS else re.IGNORECASE
            for form in {first, first.upper()}:
                assert not re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text, flags), (fmt, form, text)


def test_the_property_generator_does_put_names_in_members_words() -> None:
    """The property above is not vacuous: names do reach the members' own words, and are replaced."""
    view = _snapshot([
        ("Avery T.", {"status": AttendanceStatus.present, "mood": 5, "feeling": "calm", "takeaway": "thanks to Blake",
                      "presentation": "sat by BLAKE", "use_detail": "", "stories": [], "goals": ["call blake s."],
                      "progress": [], "participation": None, "affect": [], "risk": None, "use": None}),
        ("Blake S.", {"status": AttendanceStatus.present, "mood": 5, "feeling": "", "takeaway": "", "presentation": "",
                      "use_detail": "", "stories": [], "goals": ["x"], "progress": [], "participation": None,
                      "affect": [], "risk": None, "use": None}),
    ], "")
    avery = view.members[0]
    text = " ".join(formats.compose(avery, view, [g.id for g in avery.goals], avery.facts, "GIRP").values())
    assert "thanks to B.S." in text and "sat by B.S." in text and "call B.S." in text
    assert dataclasses.replace(avery, takeaway="").takeaway == ""


# --------------------------------------------------------------------------- every export, from what was signed


def test_every_export_renders_the_signed_note_in_its_format(db, library) -> None:  # noqa: F811
    import base64
    import io
    import json

    from pypdf import PdfReader
    from sqlmodel import select

    from iop_facilitator.exports import notes_data, notes_fhir, notes_json, notes_md, notes_pdf
    from iop_facilitator.models import Goal

    meeting, _ids = fixed_meeting(db, library)
    with db.begin() as s:
        notes.set_format(s, meeting, "SOAP")
        notes.draft_notes(s, meeting, library.get("handling-stress"))
        lead = live_read.load_snapshot(s, meeting).facilitator_id
        notes.sign(s, meeting, lead)
    with db.begin() as s:  # the plan is edited after signing: the record shows the goal as signed
        for goal in s.exec(select(Goal)):
            goal.text = "rewritten after signing"
    context = notes_data.ExportContext(program_name="Test IOP (fictional)", disclosure_notice="notice", timezone=TZ,
                                       exported_at=dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC), filters={})
    with db.session() as s:
        docs = list(notes_data.iter_documents(s, notes_data.Filters()))
    md = notes_md.to_text(docs, context)
    for heading in ("S \u00b7 Subjective", "O \u00b7 Objective", "A \u00b7 Assessment", "P \u00b7 Plan", "Goals addressed"):
        assert heading in md
    assert "Use two stress management skills at work: worse (used a skill 1 of 5 workdays)" in md
    assert "rewritten after signing" not in md
    assert "Tapped her foot through the didactic" in md
    assert "substance use since the last session: used (two beers Saturday)" in md
    data = json.loads(notes_json.to_text(docs, context))
    avery = next(m for m in data["records"][0]["members"] if m["display_name"] == "Avery T.")
    assert [p["key"] for p in avery["note_sections"]] == ["goals", "subjective", "objective", "assessment", "plan"]
    assert avery["facts"]["substance_use"] == "used" and avery["facts"]["goal_progress"][0]["progress"] == "worse"
    pdf, _count = notes_pdf.render(docs, context)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "O \u00b7 Objective" in text and "Tapped her foot" in " ".join(text.split())
    bundle, _n = notes_fhir.bundle(docs, context)
    notes_text = [base64.b64decode(e["resource"]["content"][0]["attachment"]["data"]).decode()
                  for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    assert any("A \u00b7 Assessment" in t and "Tapped her foot" in t for t in notes_text)
    assert sum("Tapped her foot" in t for t in notes_text) == 1  # only in Avery's own document
