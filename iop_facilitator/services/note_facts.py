"""A member's note facts: what they did in one meeting, in the terms a payer's reviewer looks for.

Per member and meeting (``models.NoteFacts``): the treatment-plan goals addressed (the
note's ``goal_ids``) with progress on each (improved / no change / worse, and an optional
measurable value), participation, affect and presentation (a pick list plus free text),
the risk screen this session (denied, or endorsed and linked to the meeting's safety event
for the member), substance use since the last session as reported (none / used / declined
to say), the leader's own observation, and the text sections of the formats that
``progress_note`` does not hold (``services.formats``).

Edits work like the note's text edits (``services.notes.save_note``): one small change
per call, under the meeting's lock (a signed meeting refuses every change, and the
database refuses it too: ``note_facts`` has the lock triggers of a meeting part), with
``based_on`` per field (the value the edit started from; a field someone else changed
meanwhile raises :class:`~iop_facilitator.errors.EditConflict` and nothing is saved).
Every change is audited with the meeting, the member and the field names (never values).

Prefilled, never guessed: :func:`prefill` marks the risk screen "endorsed" and links the
event only where the member has a safety event in this meeting (F9, or one opened from
the check-in); a check-in concern without an event stays unscreened (the payer lens says
so). Goals are suggested from the day's topic (:func:`suggest_goals`), not always goal 1.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from iop_facilitator.enums import (
    ATTENDED,
    Affect,
    GoalProgress,
    Participation,
    RiskScreen,
    UseReport,
)
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import Attendance, Goal, NoteFacts, ProgressNote, SafetyEvent
from iop_facilitator.services import audit
from iop_facilitator.services.formats import draft_hash
from iop_facilitator.services.live import UNSET, check_base, editable_meeting
from iop_facilitator.services.text import clean, clean_line

SECTIONS = ("behavior", "data", "assessment", "subjective", "objective")
TEXT_FACTS = ("presentation", "use_detail", "observation")
CHOICE_FACTS = ("participation", "affect", "risk_screen", "safety_event_id", "substance_use")
FACT_FIELDS = (*CHOICE_FACTS, *TEXT_FACTS, *SECTIONS)
LINE_MAX = 300  # presentation, use detail, a goal's measure
TEXT_MAX = 4000  # observation and each section
MEASURE_MAX = 120


@dataclass(frozen=True)
class GoalProgressView:
    goal_id: str
    progress: str | None  # GoalProgress value
    measure: str


@dataclass(frozen=True)
class FactsView:
    """One member's note facts, plain (for the read model, the drafts and the payer lens)."""

    goal_progress: tuple[GoalProgressView, ...] = ()
    participation: str | None = None
    affect: tuple[str, ...] = ()
    presentation: str = ""
    risk_screen: str | None = None
    safety_event_id: uuid.UUID | None = None
    substance_use: str | None = None
    use_detail: str = ""
    observation: str = ""
    sections: Mapping[str, str] = field(default_factory=dict)
    drafted: Mapping[str, str] = field(default_factory=dict)

    def progress_of(self, goal_id: str) -> GoalProgressView | None:
        return next((g for g in self.goal_progress if g.goal_id == str(goal_id)), None)

    def section(self, name: str) -> str:
        return self.sections.get(name, "")


EMPTY = FactsView()


def view(row: NoteFacts | None, goal_ids: Sequence[str] = ()) -> FactsView:
    """The plain view of a row; progress in the order of the note's ``goal_ids`` (others dropped)."""
    if row is None:
        return EMPTY
    progress = dict(row.goal_progress or {})
    order = [str(g) for g in goal_ids] if goal_ids else list(progress)
    entries = tuple(
        GoalProgressView(g, progress[g].get("progress") or None, progress[g].get("measure") or "")
        for g in order if g in progress
    )
    return FactsView(
        goal_progress=entries,
        participation=_value(row.participation),
        affect=tuple(row.affect or ()),
        presentation=row.presentation or "",
        risk_screen=_value(row.risk_screen),
        safety_event_id=row.safety_event_id,
        substance_use=_value(row.substance_use),
        use_detail=row.use_detail or "",
        observation=row.observation or "",
        sections={name: getattr(row, name) or "" for name in SECTIONS},
        drafted=dict(row.drafted or {}),
    )


def _value(v: Any) -> str | None:
    return None if v is None else str(getattr(v, "value", v))


def load_facts(session: Session, meeting_id: uuid.UUID) -> dict[uuid.UUID, FactsView]:
    """Every member's facts in one meeting (members without a row are absent from the result)."""
    goals = {
        n.member_id: tuple(n.goal_ids or ())
        for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))
    }
    return {
        row.member_id: view(row, goals.get(row.member_id, ()))
        for row in session.exec(select(NoteFacts).where(NoteFacts.meeting_id == meeting_id))
    }


# --------------------------------------------------------------------------- writing


def own_goal_ids(session: Session, member_id: uuid.UUID, goal_ids: Iterable[str | uuid.UUID]) -> list[str]:
    """``goal_ids`` as stored (strings, first occurrence kept), refused unless all are the member's own."""
    own = {str(g) for g in session.exec(select(Goal.id).where(Goal.member_id == member_id))}
    picked = list(dict.fromkeys(str(g) for g in goal_ids))
    if not set(picked) <= own:
        raise InvalidInput("a note can only address the member's own treatment-plan goals")
    return picked


def _row(session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID) -> NoteFacts:
    """The member's facts row (a new one, not yet added, when there is none); the member must have attended."""
    attendance = session.exec(
        select(Attendance.status).where(Attendance.meeting_id == meeting_id, Attendance.member_id == member_id)
    ).first()
    if attendance is None or attendance not in ATTENDED:
        raise InvalidInput("note facts are recorded for members who attended this meeting")
    row = session.exec(
        select(NoteFacts)
        .where(NoteFacts.meeting_id == meeting_id, NoteFacts.member_id == member_id)
        .execution_options(populate_existing=True)
    ).first()
    return row if row is not None else NoteFacts(meeting_id=meeting_id, member_id=member_id)


def _choice(enum_cls: Any, value: Any, what: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise InvalidInput(f"unknown {what} (one of: {allowed})") from None


def _text(value: str, what: str, limit: int, *, single_line: bool) -> str:
    text = clean_line(value) if single_line else clean(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"the {what} is {len(text)} characters; at most {limit} fit")
    return text


def _affect(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        picked = _choice(Affect, v, "affect").value
        if picked not in out:
            out.append(picked)
    return out


def _stored(row: NoteFacts, name: str) -> Any:
    value = getattr(row, name)
    if name == "affect":
        return list(value or [])
    if name == "safety_event_id":
        return value
    return _value(value) if name in ("participation", "risk_screen", "substance_use") else (value or "")


def _base(name: str, value: Any) -> Any:
    """``based_on`` in the stored form of field ``name``."""
    if name == "affect":
        return _affect(value or ())
    if name == "safety_event_id":
        return None if value in (None, "") else uuid.UUID(str(value))
    if name in ("participation", "risk_screen", "substance_use"):
        return _value(value) if value not in (None, "") else None
    if name in ("presentation", "use_detail"):
        return clean_line(value)
    return clean(value).strip()


def save_facts(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    participation: Participation | str | None = UNSET,
    affect: Iterable[Affect | str] = UNSET,
    presentation: str = UNSET,
    risk_screen: RiskScreen | str | None = UNSET,
    safety_event_id: uuid.UUID | None = UNSET,
    substance_use: UseReport | str | None = UNSET,
    use_detail: str = UNSET,
    observation: str = UNSET,
    behavior: str = UNSET,
    data: str = UNSET,
    assessment: str = UNSET,
    subjective: str = UNSET,
    objective: str = UNSET,
    based_on: Mapping[str, Any] | None = None,
    drafted: bool = False,
) -> NoteFacts:
    """Save some of one member's facts (creating their row on first save).

    ``None`` clears a choice; an unknown value is refused. The risk screen: ``endorsed``
    needs ``safety_event_id``, the meeting's safety event for this member (pass it, or
    have it linked already); ``denied`` unlinks any event. ``based_on``: field -> the
    value the edit started from (see the module docstring). ``drafted`` marks the saved
    sections as the app's draft (redrafted while nobody edits them).
    """
    meeting = editable_meeting(session, meeting_id)
    row = _row(session, meeting_id, member_id)
    unknown = set(based_on or {}) - set(FACT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown note fact(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if participation is not UNSET:
        changes["participation"] = _choice(Participation, participation, "participation level")
    if affect is not UNSET:
        changes["affect"] = _affect(affect or ())
    if presentation is not UNSET:
        changes["presentation"] = _text(presentation, "presentation", LINE_MAX, single_line=True)
    if substance_use is not UNSET:
        changes["substance_use"] = _choice(UseReport, substance_use, "substance use report")
    if use_detail is not UNSET:
        changes["use_detail"] = _text(use_detail, "use detail", LINE_MAX, single_line=True)
    for name, value in (("observation", observation), *((s, v) for s, v in zip(
            SECTIONS, (behavior, data, assessment, subjective, objective), strict=True))):
        if value is not UNSET:
            changes[name] = _text(value, name, TEXT_MAX, single_line=False)
    if risk_screen is not UNSET or safety_event_id is not UNSET:
        screen = _choice(RiskScreen, risk_screen, "risk screen") if risk_screen is not UNSET else row.risk_screen
        event_id = safety_event_id if safety_event_id is not UNSET else row.safety_event_id
        if screen == RiskScreen.endorsed:
            if event_id is None:
                raise InvalidInput("an endorsed risk screen needs the safety event: record it (F9) and link it")
            event = session.get(SafetyEvent, event_id)
            if event is None or event.meeting_id != meeting.id or event.member_id != member_id:
                raise InvalidInput("link a safety event of this member in this meeting")
        elif safety_event_id is not UNSET and safety_event_id is not None:
            raise InvalidInput("a safety event is linked to an endorsed risk screen only")
        else:
            event_id = None
        if risk_screen is not UNSET:
            changes["risk_screen"] = screen
        changes["safety_event_id"] = event_id
    bases = dict(based_on or {})
    for name, value in changes.items():
        if name in bases and bases[name] is not None:
            check_base(f"facts.{name}", _stored(row, name), _stored_form(name, value), _base(name, bases[name]),
                       app_draft=(row.drafted or {}).get(name))
    changed = [name for name, value in changes.items() if _stored(row, name) != _stored_form(name, value)]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, changes[name])
    if drafted:
        marks = dict(row.drafted or {})
        for name in changed:
            if name in SECTIONS:
                marks[name] = draft_hash(getattr(row, name))
        row.drafted = marks
    session.add(row)
    session.flush()
    if not drafted:  # a draft is audited once for the whole meeting (services.notes.draft_notes)
        audit.record(session, "note.facts", record_type="meeting", record_id=meeting_id, member=member_id,
                     fields=sorted(changed))
    return row


def _stored_form(name: str, value: Any) -> Any:
    if name in ("participation", "risk_screen", "substance_use"):
        return _value(value)
    return value


# --------------------------------------------------------------------------- goals and progress


def _note(session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID) -> ProgressNote | None:
    return session.exec(
        select(ProgressNote)
        .where(ProgressNote.meeting_id == meeting_id, ProgressNote.member_id == member_id)
        .execution_options(populate_existing=True)
    ).first()


def set_goals(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    goal_ids: Sequence[str | uuid.UUID],
    *,
    based_on: Sequence[str] | None = None,
) -> list[str]:
    """The goals the note addresses (the member's own, in the order given); progress on goals
    no longer addressed is dropped. ``based_on``: the goal ids the edit started from."""
    editable_meeting(session, meeting_id)
    row = _row(session, meeting_id, member_id)
    picked = own_goal_ids(session, member_id, goal_ids)
    note = _note(session, meeting_id, member_id)
    before = [str(g) for g in (note.goal_ids if note else ())]
    if based_on is not None:
        check_base("note.goal_ids", before, picked, [str(g) for g in based_on])
    if picked != before:
        _write_goals(session, meeting_id, member_id, note, picked)
    progress = {g: v for g, v in (row.goal_progress or {}).items() if g in picked}
    if progress != (row.goal_progress or {}):
        row.goal_progress = progress
        session.add(row)
    session.flush()
    if picked != before:
        audit.record(session, "note.goals", record_type="meeting", record_id=meeting_id, member=member_id,
                     goals=len(picked))
    return picked


def _write_goals(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, note: ProgressNote | None, goal_ids: list[str]
) -> None:
    if note is None:
        note = ProgressNote(meeting_id=meeting_id, member_id=member_id, goal_ids=[], intervention="", response="", plan="")
    note.goal_ids = list(goal_ids)
    session.add(note)


def set_goal_progress(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    goal_id: str | uuid.UUID,
    *,
    progress: GoalProgress | str | None = UNSET,
    measure: str = UNSET,
    based_on: Mapping[str, Any] | None = None,
) -> GoalProgressView:
    """Progress on one goal this meeting (and/or its measurable value).

    A goal of the member's plan that the note does not address yet is added to its goals
    (rating progress on a goal means it was addressed). ``based_on``: ``{"progress": ...,
    "measure": ...}`` as the edit started from (an unrated goal compares as ``None`` / "").
    """
    editable_meeting(session, meeting_id)
    row = _row(session, meeting_id, member_id)
    gid = str(goal_id)
    goal = session.get(Goal, _uuid(gid))
    if goal is None or goal.member_id != member_id:
        raise InvalidInput("progress is recorded on the member's own treatment-plan goals")
    note = _note(session, meeting_id, member_id)
    addressed = [str(g) for g in (note.goal_ids if note else ())]
    if gid not in addressed:
        _write_goals(session, meeting_id, member_id, note, [*addressed, gid])
    entries = dict(row.goal_progress or {})
    old = dict(entries.get(gid) or {})
    new = dict(old)
    if progress is not UNSET:
        value = _choice(GoalProgress, progress, "progress")
        new["progress"] = value.value if value is not None else ""
    if measure is not UNSET:
        new["measure"] = _text(measure, "measure", MEASURE_MAX, single_line=True)
    new = {k: v for k, v in new.items() if v}
    for key in ("progress", "measure"):
        if based_on is not None and key in based_on and based_on[key] is not None:
            base = based_on[key].value if isinstance(based_on[key], GoalProgress) else clean_line(str(based_on[key]))
            check_base(f"facts.goal_{key}", old.get(key, ""), new.get(key, ""), base)
    if new != old:
        if new:
            entries[gid] = new
        else:
            entries.pop(gid, None)
        row.goal_progress = entries
        session.add(row)
        session.flush()
        audit.record(session, "note.facts", record_type="meeting", record_id=meeting_id, member=member_id,
                     fields=["goal_progress"])
    return GoalProgressView(gid, new.get("progress") or None, new.get("measure", ""))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------- prefill and suggestions


def prefill(session: Session, meeting_id: uuid.UUID) -> list[uuid.UUID]:
    """Risk screens from the meeting's safety events: a member with an event and no screen yet is
    marked "endorsed" and linked to their latest event. Returns the members changed."""
    editable_meeting(session, meeting_id)
    events: dict[uuid.UUID, SafetyEvent] = {}
    for event in session.exec(
        select(SafetyEvent).where(SafetyEvent.meeting_id == meeting_id).order_by(col(SafetyEvent.occurred_at))
    ):
        if event.member_id is not None:
            events[event.member_id] = event
    attended = set(session.exec(
        select(Attendance.member_id).where(Attendance.meeting_id == meeting_id, col(Attendance.status).in_(ATTENDED))
    ))
    changed = []
    for member_id, event in events.items():
        if member_id not in attended:
            continue
        row = session.exec(
            select(NoteFacts).where(NoteFacts.meeting_id == meeting_id, NoteFacts.member_id == member_id)
        ).first()
        if row is not None and row.risk_screen is not None:
            continue
        save_facts(session, meeting_id, member_id, risk_screen=RiskScreen.endorsed, safety_event_id=event.id)
        changed.append(member_id)
    return changed


_STOP = frozenset(
    ["about", "after", "again", "also", "and", "any", "are", "been", "before", "being", "but", "can", "could", "daily", "day", "days", "each", "every", "for", "from", "group", "have", "into", "its", "more", "most", "not", "other", "our", "out", "over", "own", "per", "rather", "same", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "times", "under", "until", "use", "using", "very", "was", "week", "weeks", "were", "what", "when", "where", "which", "while", "who", "will", "with", "within", "without", "would", "your", "you", "member", "members", "session", "sessions"]
)
_WORD = re.compile(r"[a-z]+")


def stems(text: str) -> set[str]:
    """Content-word stems of ``text`` (lower case, first 5 letters of words of 4+ letters, no stop words)."""
    return {w[:5] for w in _WORD.findall((text or "").lower()) if len(w) >= 4 and w not in _STOP}


def topic_words(topic: Any | None) -> set[str]:
    """The stems a topic guide is about: title, summary, objectives, key points, homework title."""
    if topic is None:
        return set()
    t = getattr(topic, "topic", topic)
    parts = [t.title, t.summary, *t.objectives, *t.key_points, t.homework.title, t.category.value.replace("_", " ")]
    return stems(" ".join(parts))


@dataclass(frozen=True)
class GoalChoice:
    id: str
    position: int
    text: str


def suggest_goals(
    goals: Sequence[Any], topic: Any | None, *, last_addressed: Mapping[str, Any] | None = None, limit: int = 1
) -> tuple[str, ...]:
    """The goal(s) of a member's plan the day's topic most likely addressed.

    Scored by the content words a goal shares with the topic guide; ties (and a topic
    that shares nothing with any goal) go to the goal addressed least recently
    (``last_addressed``: goal id -> a sortable date; never addressed first), then to the
    plan's order. So a member's notes rotate through their goals instead of always
    naming goal 1.
    """
    if not goals:
        return ()
    words = topic_words(topic)
    last = last_addressed or {}

    def key(goal: Any) -> tuple[int, int, Any, int]:
        seen = last.get(str(goal.id))
        return (-len(stems(goal.text) & words), 0 if seen is None else 1, seen or "", goal.position)

    ranked = sorted(goals, key=key)
    return tuple(str(g.id) for g in ranked[:limit])


def last_addressed(
    session: Session, member_ids: Iterable[uuid.UUID], *, before: Any, exclude: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[str, Any]]:
    """member id -> {goal id: the local date of the latest earlier meeting whose note addressed it}."""
    from iop_facilitator.models import GroupMeeting

    ids = list(member_ids)
    out: dict[uuid.UUID, dict[str, Any]] = {m: {} for m in ids}
    if not ids:
        return out
    query = (
        select(ProgressNote.member_id, ProgressNote.goal_ids, GroupMeeting.local_date)
        .join(GroupMeeting, col(GroupMeeting.id) == col(ProgressNote.meeting_id))
        .where(col(ProgressNote.member_id).in_(ids), col(GroupMeeting.scheduled_start) < before)
    )
    if exclude is not None:
        query = query.where(GroupMeeting.id != exclude)
    for member_id, goal_ids, day in session.exec(query):
        seen = out[member_id]
        for g in goal_ids or ():
            if str(g) not in seen or seen[str(g)] < day:
                seen[str(g)] = day
    return out

