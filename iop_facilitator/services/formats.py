"""The note formats (GIRP, BIRP, DAP, SOAP), and drafts composed from one member's own facts (pure).

Each format has its own sections, in its own vocabulary (:data:`FORMATS`):

* **GIRP** Goal (the treatment-plan goals addressed and progress on each) · Intervention
  (what the leader did *for this member*) · Response (what the member said and did) · Plan.
* **BIRP** Behavior (how the member presented and what they reported coming in) ·
  Intervention · Response (to the interventions, progress on goals) · Plan.
* **DAP** Data (the member's report and the leader's observations) · Assessment (progress on
  goals) · Plan.
* **SOAP** Subjective (the member's own report) · Objective (the leader's observation and
  measures) · Assessment (progress on goals) · Plan.

Where a section is stored (:attr:`Section.column`): ``intervention``, ``response`` and
``plan`` in ``progress_note``; ``behavior``, ``data``, ``assessment``, ``subjective`` and
``objective`` in ``note_facts``; GIRP's Goal is the note's ``goal_ids`` with the facts'
progress. The leader's own observation (``NoteFacts.observation``) is never drafted; it is
shown at the end of the format's observation section (:attr:`NoteFormatSpec.observed_in`).

Drafts (:func:`compose`) are written from **one member's own** line of the meeting and
their facts only: check-in and check-out ratings and words, story notes *referenced* by
time (never pasted), participation, affect and presentation, the risk screen, the use
report, progress on goals. Words the member or leader typed (feeling, takeaway,
presentation, use detail, goal texts) pass through :func:`own_words`, which replaces any
other member's name with initials, so no draft can hold another member's name. What the
whole group shared (the topic's intervention, the homework) is written once in the group
narrative (``services.notes.draft_narrative``) and only *referenced* from a member's note.

Every sentence a draft can contain comes from ``services.wording.TEMPLATES``;
``wording.is_app_sentence`` recognises them, so the sign-time checks can tell the app's
sentences from the leader's.

A meeting written before formats had their own sections (schema < 0013, every such
meeting is GIRP unless set otherwise by hand) keeps its stored fields: :func:`sections`
shows a non-GIRP note whose own sections are all empty with the fields it has
(Intervention, Response, Plan), so nothing stored is ever hidden.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from iop_facilitator.enums import AttendanceStatus, NoteFormat
from iop_facilitator.services.names import name_patterns, replace_names
from iop_facilitator.services.text import clean_line
from iop_facilitator.services.wording import TEMPLATES, checkin_phrase, checkout_phrase, say
from iop_facilitator.timefmt import local_hhmm

if TYPE_CHECKING:
    from iop_facilitator.services.live_read import MemberLine, NoteView, Snapshot
    from iop_facilitator.services.note_facts import FactsView


@dataclass(frozen=True)
class Section:
    key: str  # "goals" or the stored column
    letter: str
    title: str
    prompt: str  # what belongs here (the editor's hint, the README)

    @property
    def column(self) -> str | None:
        """Where the text is stored: ``progress_note.<key>`` or ``note_facts.<key>`` (None: goals)."""
        return None if self.key == "goals" else self.key

    @property
    def heading(self) -> str:
        return f"{self.letter} \u00b7 {self.title}"


@dataclass(frozen=True)
class NoteFormatSpec:
    name: str
    title: str
    sections: tuple[Section, ...]
    observed_in: str  # the section key the leader's observation belongs to
    progress_in: str  # the section key progress on goals is written in

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    @property
    def text_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.sections if s.key != "goals")


GOAL = Section("goals", "G", "Goal", "the treatment-plan goal(s) addressed today and progress on each")
INTERVENTION = Section("intervention", "I", "Intervention", "what you did for this member (the group's method is in the narrative)")
RESPONSE = Section("response", "R", "Response", "what this member said and did, and how they responded")
PLAN = Section("plan", "P", "Plan", "next steps for this member, answering today's facts")
ASSESSMENT = Section("assessment", "A", "Assessment", "progress on the treatment-plan goals; your clinical impression")
FORMATS: dict[str, NoteFormatSpec] = {
    "GIRP": NoteFormatSpec("GIRP", "Goal, Intervention, Response, Plan", (GOAL, INTERVENTION, RESPONSE, PLAN),
                           observed_in="response", progress_in="goals"),
    "BIRP": NoteFormatSpec(
        "BIRP", "Behavior, Intervention, Response, Plan",
        (Section("behavior", "B", "Behavior", "how the member presented and what they reported coming in"),
         INTERVENTION,
         Section("response", "R", "Response", "how the member responded to the interventions; progress on goals"),
         PLAN),
        observed_in="behavior", progress_in="response"),
    "DAP": NoteFormatSpec(
        "DAP", "Data, Assessment, Plan",
        (Section("data", "D", "Data", "the member's report and your observations"),
         ASSESSMENT,
         PLAN),
        observed_in="data", progress_in="assessment"),
    "SOAP": NoteFormatSpec(
        "SOAP", "Subjective, Objective, Assessment, Plan",
        (Section("subjective", "S", "Subjective", "the member's own report"),
         Section("objective", "O", "Objective", "your observation and the measures"),
         ASSESSMENT,
         PLAN),
        observed_in="objective", progress_in="assessment"),
}
NOTE_COLUMNS = ("intervention", "response", "plan")  # stored in progress_note; the rest in note_facts


def draft_hash(text: str | list[str] | tuple[str, ...]) -> str:
    """The mark kept for an app-drafted field: SHA-256 of its stored text (goal ids joined).

    ``ProgressNote.drafted``, ``NoteFacts.drafted`` and ``GroupMeeting.narrative_drafted`` hold
    it; a field whose text still has it was not edited by anyone (``services.notes``).
    """
    value = ",".join(text) if isinstance(text, (list, tuple)) else text
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def spec(note_format: str | NoteFormat) -> NoteFormatSpec:
    return FORMATS.get(str(getattr(note_format, "value", note_format)).upper(), FORMATS["GIRP"])


# --------------------------------------------------------------------------- wording


PROGRESS_WORDS = {"improved": "improved", "no_change": "no change", "worse": "worse"}
PARTICIPATION_SENTENCES = {p: TEMPLATES[f"part_{p}"] for p in (
    "active", "engaged_when_prompted", "minimal", "listened", "disruptive")}

def own_words(line: MemberLine, snapshot: Snapshot) -> Any:
    """A cleaner for words going into ``line``'s note: one line, other members' names as initials."""
    patterns = [p for p in name_patterns((m.member_id, m.display_name) for m in snapshot.members)
                if p.member_id != line.member_id]
    if not patterns:
        return _plain_words

    def words(text: str) -> str:
        return _trim(replace_names(clean_line(text), patterns, own=line.member_id).strip())

    return words


def _trim(text: str) -> str:
    return text if _INITIALS_END.search(text) else text.rstrip(".")


@lru_cache(maxsize=4096)
def _plain_words(text: str) -> str:
    """:func:`own_words` when no other member is in the meeting (cached: the same words recur)."""
    return _trim(clean_line(text).strip())


_INITIALS_END = re.compile(r"(?<!\w)(?:\w\.)+$")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# --------------------------------------------------------------------------- what the member did


@dataclass(frozen=True)
class Pieces:
    """One member's sentences, by kind, ready to be arranged by a format."""

    arrival: tuple[str, ...]
    report: tuple[str, ...]  # what the member said (check-in, shares, use, risk, check-out)
    participation: tuple[str, ...]
    observed: tuple[str, ...]  # affect and presentation
    progress: tuple[str, ...]
    measures: tuple[str, ...]
    interventions: tuple[str, ...]
    plan: tuple[str, ...]


def pieces(line: MemberLine, snapshot: Snapshot, goal_ids: Iterable[str], facts: FactsView | None = None) -> Pieces:
    """Everything a draft of ``line``'s note may say, from that member's own line and facts only."""
    facts = facts if facts is not None else line.facts
    words = own_words(line, snapshot)
    tz = snapshot.timezone
    goals = {g.id: g for g in line.goals}
    addressed = [goals[g] for g in goal_ids if g in goals]
    arrival, report, participation, observed, progress, measures, interventions, plan = [], [], [], [], [], [], [], []
    if line.status == AttendanceStatus.late and line.arrived_at is not None:
        arrival.append(say("late", time=local_hhmm(line.arrived_at, tz)))
    if line.status == AttendanceStatus.left_early and line.left_at is not None:
        arrival.append(say("left", time=local_hhmm(line.left_at, tz)))
    checkin = checkin_phrase(line.mood, line.urge, words(line.feeling))
    if checkin:
        report.append(say("checkin", checkin=checkin))
    if line.safety_concern:
        report.append(say("checkin_concern"))
    if line.stories:
        times = _join([local_hhmm(s.recorded_at, tz) for s in line.stories])
        report.append(say("shared", times=times) if len(line.stories) == 1
                      else say("shared_many", count=len(line.stories), times=times))
    elif facts.participation != "listened":
        report.append(say("quiet"))
    if facts.substance_use == "none":
        report.append(say("use_none"))
    elif facts.substance_use == "used":
        detail = words(facts.use_detail)
        report.append(say("use_used_detail", detail=detail) if detail else say("use_used"))
    elif facts.substance_use == "declined":
        report.append(say("use_declined"))
    event = next((e for e in snapshot.safety_events if e.id == facts.safety_event_id), None)
    if facts.risk_screen == "denied":
        report.append(say("risk_denied"))
    elif facts.risk_screen == "endorsed":
        level = (event.risk_level if event is not None else "not_assessed").replace("_", " ")
        report.append(say("risk_endorsed", level=level))
    closing = checkout_phrase(line.checkout_mood, words(line.takeaway), label="closing rating")
    if closing:
        report.append(say("checkout", checkout=closing))
    if facts.participation in PARTICIPATION_SENTENCES:
        participation.append(PARTICIPATION_SENTENCES[facts.participation])
    affect = [a.replace("_", " ") for a in facts.affect]
    presentation = words(facts.presentation)
    if affect and presentation:
        observed.append(say("affect_presentation", affect=_join(affect), presentation=presentation))
    elif affect:
        observed.append(say("affect", affect=_join(affect)))
    elif presentation:
        observed.append(say("presentation", presentation=presentation))
    for goal in addressed:
        rated = facts.progress_of(goal.id)
        text = words(_short(goal.text))
        if rated is not None and rated.progress:
            word = PROGRESS_WORDS.get(rated.progress, rated.progress)
            measure = words(rated.measure)
            progress.append(say("progress_measure", position=goal.position, goal=text, progress=word, measure=measure)
                            if measure else say("progress", position=goal.position, goal=text, progress=word))
        else:
            progress.append(say("addressed", position=goal.position, goal=text))
        if rated is not None and rated.measure:
            measures.append(f"goal {goal.position}: {words(rated.measure)}")
    # interventions for this member
    if addressed:
        interventions.append(say("i_goal", position=addressed[0].position, goal=words(_short(addressed[0].text))))
    else:
        interventions.append(say("i_group"))
    if line.stories:
        interventions.append(say("i_feedback"))
    if facts.participation in ("minimal", "listened"):
        interventions.append(say("i_invite"))
    if facts.participation == "disruptive":
        interventions.append(say("i_redirect"))
    if facts.risk_screen == "endorsed":
        interventions.append(say("i_risk"))
    if facts.substance_use == "used":
        interventions.append(say("i_use"))
    worse = [g for g in addressed if (p := facts.progress_of(g.id)) is not None and p.progress == "worse"]
    if worse:
        interventions.append(say("i_worse", position=worse[0].position))
    # plan: answers today's facts first
    if facts.substance_use == "used":
        plan.append(say("p_use"))
    elif facts.substance_use == "declined":
        plan.append(say("p_declined"))
    own_event = any(e.member_id == line.member_id for e in snapshot.safety_events)
    if facts.risk_screen == "endorsed" or line.safety_concern or own_event:
        plan.append(say("p_risk"))
    for goal in addressed:
        rated = facts.progress_of(goal.id)
        kind = {"worse": "p_worse", "no_change": "p_same", "improved": "p_better"}.get(
            rated.progress if rated is not None and rated.progress else "", "p_goal")
        plan.append(say(kind, position=goal.position))
    if not addressed:
        plan.append(say("p_no_goal"))
    if snapshot.homework.strip():
        plan.append(say("p_homework"))
    if line.near_limit:
        plan.append(say("p_attendance"))
    return Pieces(tuple(arrival), tuple(report), tuple(participation), tuple(observed), tuple(progress),
                  tuple(measures), tuple(interventions), tuple(plan))


def compose(
    line: MemberLine, snapshot: Snapshot, goal_ids: Iterable[str], facts: FactsView | None = None,
    note_format: str | None = None,
) -> dict[str, str]:
    """The drafted text of each text section of the meeting's format (section key -> text)."""
    fmt = spec(note_format or snapshot.note_format)
    p = pieces(line, snapshot, list(goal_ids), facts)

    def text(*groups: Iterable[str]) -> str:
        return " ".join(s for group in groups for s in group)

    minutes = (say("attended_minutes", minutes=line.minutes),) if line.minutes else ()
    measures = (say("measures", measures="; ".join(p.measures)),) if p.measures else ()
    if fmt.name == "GIRP":
        return {"intervention": text(p.interventions),
                "response": text(p.arrival, p.report, p.participation, p.observed), "plan": text(p.plan)}
    if fmt.name == "BIRP":
        return {"behavior": text(p.arrival, p.report, p.observed), "intervention": text(p.interventions),
                "response": text(p.participation, p.progress), "plan": text(p.plan)}
    if fmt.name == "DAP":
        return {"data": text(p.arrival, p.report, p.participation, p.observed), "assessment": text(p.progress),
                "plan": text(p.plan)}
    return {"subjective": text(p.report), "objective": text(p.arrival, minutes, p.participation, p.observed, measures),
            "assessment": text(p.progress), "plan": text(p.plan)}


# --------------------------------------------------------------------------- reading a note in its format


def stored_text(key: str, note: NoteView | Any | None, facts: FactsView | Any | None) -> str:
    """The stored text of section ``key`` (progress_note or note_facts), "" when none."""
    if key in NOTE_COLUMNS:
        return (getattr(note, key, "") or "") if note is not None else ""
    if facts is None:
        return ""
    sections = getattr(facts, "sections", None)
    return (sections.get(key, "") if isinstance(sections, Mapping) else getattr(facts, key, "")) or ""


def legacy(fmt: NoteFormatSpec, note: Any | None, facts: Any | None) -> bool:
    """A non-GIRP note written before its format had its own sections (shown with its stored fields)."""
    own = [s.key for s in fmt.sections if s.key not in ("goals", *NOTE_COLUMNS)]
    if not own or any(stored_text(k, note, facts).strip() for k in own):
        return False
    return any(stored_text(k, note, facts).strip() for k in ("intervention", "response"))


@dataclass(frozen=True)
class ShownSection:
    section: Section
    text: str  # the stored text
    observation: str  # the leader's observation, shown at the end of this section ("" elsewhere)


def sections(note_format: str, note: Any | None, facts: Any | None) -> tuple[ShownSection, ...]:
    """The text sections of a note as its format shows them (goals excluded: they are structured)."""
    fmt = spec(note_format)
    shown = FORMATS["GIRP"] if legacy(fmt, note, facts) else fmt
    observation = (getattr(facts, "observation", "") or "").strip() if facts is not None else ""
    out = []
    for s in shown.sections:
        if s.key == "goals":
            continue
        out.append(ShownSection(s, stored_text(s.key, note, facts), observation if s.key == shown.observed_in else ""))
    return tuple(out)


@dataclass(frozen=True)
class Part:
    """One labelled part of a note as every renderer shows it: a heading and its paragraphs."""

    key: str  # "goals" or a section key
    heading: str
    paragraphs: tuple[str, ...]


def goal_lines(goals: Iterable[Any], facts: Any | None) -> tuple[str, ...]:
    """``2. Call sponsor daily: improved (called 5 of 7 days)``, one per addressed goal, in order."""
    out = []
    for goal in goals:
        rated = facts.progress_of(goal.id) if facts is not None and hasattr(facts, "progress_of") else None
        text = f"{goal.position}. {' '.join(str(goal.text).split())}"
        if rated is not None and rated.progress:
            text += f": {PROGRESS_WORDS.get(rated.progress, rated.progress)}"
            if rated.measure:
                text += f" ({rated.measure})"
        elif rated is not None and rated.measure:
            text += f" ({rated.measure})"
        out.append(text)
    return tuple(out)


def note_parts(note_format: str, goals: Iterable[Any], note: Any | None, facts: Any | None) -> tuple[Part, ...]:
    """A member's note in its format: the goals (GIRP's G, or "Goals addressed"), then each section
    with the leader's observation as the last paragraph of its section. Shared by every export."""
    fmt = spec(note_format)
    lines = goal_lines(goals, facts)
    first = fmt.section("goals").heading if fmt.sections[0].key == "goals" else "Goals addressed"
    parts = [Part("goals", first, lines)]
    for shown in sections(note_format, note, facts):
        paragraphs = tuple(p for p in (shown.text.strip(), shown.observation) if p)
        parts.append(Part(shown.section.key, shown.section.heading, paragraphs))
    return tuple(parts)


USE_WORDS = {"none": "none", "used": "used", "declined": "declined to say"}
RISK_WORDS = {"denied": "denied", "endorsed": "endorsed (see the safety event)"}


def facts_summary(facts: Any | None) -> str:
    """The structured facts in one line for a reader: participation, affect and presentation, risk
    screen, substance use ("" when nothing is recorded). Progress is shown with each goal."""
    if facts is None:
        return ""
    parts = []
    if facts.participation:
        parts.append(f"participation {facts.participation.replace('_', ' ')}")
    seen = ", ".join(a.replace("_", " ") for a in facts.affect)
    if seen or facts.presentation:
        parts.append("affect " + "; ".join(p for p in (seen, facts.presentation) if p) if seen
                     else f"presentation {facts.presentation}")
    if facts.risk_screen:
        parts.append(f"suicidal or homicidal thoughts {RISK_WORDS.get(facts.risk_screen, facts.risk_screen)}")
    if facts.substance_use:
        use = USE_WORDS.get(facts.substance_use, facts.substance_use)
        parts.append(f"substance use since the last session: {use}" + (f" ({facts.use_detail})" if facts.use_detail else ""))
    return "; ".join(parts)


# Words that show a plan answers reported substance use (a plan must, when use was reported).
USE_RESPONSE = re.compile(
    r"\b(use[ds]?|using|relapse\w*|lapse\w*|slip\w*|drink\w*|drank|drunk|alcohol|substance\w*|sober\w*|"
    r"sobriety|crav\w*|urges?|trigger\w*|abstinen\w*|sponsor\w*|mutual-help|aa|na|mat|uds?|urine|"
    r"toxicolog\w*|detox\w*|withdraw\w*|step-up|higher level of care)\b",
    re.IGNORECASE,
)


def plan_answers_use(note: Any | None, facts: Any | None) -> bool:
    """True unless the member reported use and the plan says nothing about it."""
    if facts is None or getattr(facts, "substance_use", None) != "used":
        return True
    plan = (getattr(note, "plan", "") or "") if note is not None else ""
    return bool(USE_RESPONSE.search(plan))


def complete(note_format: str, note: Any | None, facts: Any | None) -> bool:
    """Goals addressed and every text section of the format written."""
    if note is None or not tuple(getattr(note, "goal_ids", ()) or ()):
        return False
    return all((s.text.strip() or s.observation) for s in sections(note_format, note, facts))


def missing_sections(note_format: str, note: Any | None, facts: Any | None) -> list[str]:
    """Titles of what a note still lacks in its format ("Goal", "Subjective", ...)."""
    fmt = spec(note_format)
    out = []
    if note is None or not tuple(getattr(note, "goal_ids", ()) or ()):
        out.append(fmt.section("goals").title if any(s.key == "goals" for s in fmt.sections) else "Goals addressed")
    out += [s.section.title for s in sections(note_format, note, facts) if not (s.text.strip() or s.observation)]
    return out

