"""Individualized notes, the payer-ready checklist, and signing.

Drafts are built from one member's own line of the meeting snapshot
(:class:`~iop_facilitator.services.live_read.MemberLine`) and nothing else, so a
member's note can never pick up another member's check-in or story.

Drafts follow the facts (:func:`draft_notes`): drafting is possible once the group
is finished; a field the app drafted keeps the SHA-256 of that text
(``ProgressNote.drafted``, ``GroupMeeting.narrative_drafted``), and while the field
still holds exactly that text (nobody edited it) it is redrafted when the facts it
was drafted from change (a later check-out rating, a story, the homework). A field
whose text is anything else was written or edited by a person and is never
overwritten.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from iop_facilitator.clock import to_local, utcnow
from iop_facilitator.enums import AttendanceStatus, FlowStep, MeetingStatus, NoteFormat
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import GroupMeeting, NoteFacts, ProgressNote, Staff
from iop_facilitator.services import audit, formats, note_facts
from iop_facilitator.services.formats import draft_hash
from iop_facilitator.services.live import UNSET, check_base, editable_meeting
from iop_facilitator.services.live_read import MemberLine, Snapshot, load_snapshot
from iop_facilitator.services.note_facts import own_goal_ids, suggest_goals
from iop_facilitator.services.text import clean, clean_line

TEXT_FIELDS = ("intervention", "response", "plan")
NOT_FINISHED = ("drafts are written once the group is finished (Check-out: finish the group), "
                "so they can use the whole meeting")


@dataclass(frozen=True)
class Draft:
    """A member's drafted note: the goals it addresses and the text of each section of the format."""

    goal_ids: tuple[str, ...]
    sections: Mapping[str, str]

    @property
    def intervention(self) -> str:
        return self.sections.get("intervention", "")

    @property
    def response(self) -> str:
        return self.sections.get("response", "")

    @property
    def plan(self) -> str:
        return self.sections.get("plan", "")


def draft_intervention(snapshot: Snapshot, topic: Any | None) -> str:
    """The group's intervention, from the day's topic guide: written once, in the group narrative."""
    kind = snapshot.group_type.replace("_", " ")
    if topic is None:
        return f"Facilitated {kind} group: check-in, member sharing with supportive feedback, check-out."
    t = topic.topic
    methods = []
    kinds = {s.kind.value for s in t.segments}
    if "didactic" in kinds:
        methods.append("psychoeducation")
    if "discussion" in kinds:
        methods.append("guided group discussion")
    methods.append(f"structured activity ({t.activity.name})")
    if "practice" in kinds:
        methods.append("skills practice")
    return (
        f"Facilitated {kind} group on \"{t.title}\" (guide {t.id} v{t.version}) using "
        f"{', '.join(methods)}. Focus: {t.summary}"
    )


def draft_note(
    line: MemberLine, snapshot: Snapshot, topic: Any | None, *, last_addressed: Mapping[str, Any] | None = None
) -> Draft:
    """The draft of one member's note in the meeting's format, from their own line and facts only.

    Goals: the ones the note already addresses, else the goal the day's topic suggests
    (``note_facts.suggest_goals``: topic words, then the goal addressed least recently).
    """
    if line.note and line.note.goal_ids:
        goal_ids = tuple(line.note.goal_ids)
    else:
        goal_ids = suggest_goals(line.goals, topic, last_addressed=last_addressed)
    return Draft(goal_ids, formats.compose(line, snapshot, goal_ids, line.facts))


def set_format(session: Session, meeting_id: uuid.UUID, note_format: NoteFormat | str) -> GroupMeeting:
    """The meeting's note format (GIRP, BIRP, DAP or SOAP: ``services.formats``).

    Drafts already written stay where they are stored; sections the new format adds are
    drafted by the next :func:`draft_notes`, and app-drafted text nobody edited is redrafted
    in the new format's words.
    """
    meeting = editable_meeting(session, meeting_id)
    try:
        chosen = NoteFormat(str(getattr(note_format, "value", note_format)).upper())
    except ValueError:
        raise InvalidInput(f"unknown note format (one of: {', '.join(f.value for f in NoteFormat)})") from None
    if meeting.note_format != chosen:
        meeting.note_format = chosen
        session.add(meeting)
        session.flush()
        audit.record(session, "meeting.note_format", record_type="meeting", record_id=meeting_id, format=chosen.value)
    return meeting


def draft_narrative(snapshot: Snapshot, topic: Any | None) -> str:
    """The shared group narrative: topic, counts, methods. Never a member's name."""
    kind = snapshot.group_type.replace("_", " ")
    where = "by telehealth" if snapshot.modality == "telehealth" else "in person"
    title = topic.topic.title if topic is not None else (snapshot.topic_id or "")
    opening = f"{snapshot.level_of_care} {kind} group met {where}"
    parts = [f"{opening} for \"{clean_line(title)}\";" if title else f"{opening};"]
    attended = snapshot.attended
    late = sum(1 for m in attended if m.status == AttendanceStatus.late)
    left = sum(1 for m in attended if m.status == AttendanceStatus.left_early)
    counts = f"{len(attended)} of {len(snapshot.members)} members attended"
    extras = []
    if late:
        extras.append(f"{late} arrived late")
    if left:
        extras.append(f"{left} left early")
    if snapshot.absent:
        extras.append(f"{snapshot.absent} absent")
    parts.append(counts + (f" ({', '.join(extras)})." if extras else "."))
    start, end = to_local(snapshot.actual_start, snapshot.timezone), to_local(snapshot.actual_end, snapshot.timezone)
    if start is not None and end is not None:
        minutes = int((end - start).total_seconds() // 60)
        parts.append(f"Group ran {start.format('HH:mm')}-{end.format('HH:mm')} {end.format('zz')} ({minutes} minutes).")
    parts.append(draft_intervention(snapshot, topic))
    parts.append("Members checked in with mood and urge ratings, shared with supportive peer feedback, "
                 "and checked out with a takeaway.")
    if snapshot.safety_events:
        count = len(snapshot.safety_events)
        parts.append(f"{count} safety concern{'s were' if count > 1 else ' was'} addressed per program crisis "
                     "procedures (see the safety event record).")
    if snapshot.homework.strip():
        parts.append(f"Homework: {clean_line(snapshot.homework)}")
    return " ".join(parts)


def save_note(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    goal_ids: list[str] | tuple[str, ...] = UNSET,
    intervention: str = UNSET,
    response: str = UNSET,
    plan: str = UNSET,
    based_on: Mapping[str, Any] | None = None,
    drafted: bool = False,
) -> ProgressNote:
    """Save fields of one member's note (creating it on first save).

    ``based_on`` maps a field being saved (``goal_ids``, ``intervention``, ``response``,
    ``plan``) to the value the edit started from (what the screen showed or saved last).
    If any of them is no longer what is stored, another screen saved that field meanwhile:
    :class:`~iop_facilitator.errors.EditConflict` (``field`` ``"note.<name>"``, both texts)
    is raised and nothing is written. A field missing from ``based_on`` is not checked. A
    note that does not exist yet is compared as empty. ``drafted`` marks the fields saved
    as the app's draft (:func:`draft_notes`).
    """
    editable_meeting(session, meeting_id)
    note = session.exec(
        select(ProgressNote)
        .where(ProgressNote.meeting_id == meeting_id, ProgressNote.member_id == member_id)
        .execution_options(populate_existing=True)
    ).first()
    if note is None:
        note = ProgressNote(meeting_id=meeting_id, member_id=member_id, goal_ids=[], intervention="", response="", plan="")
    bases = dict(based_on or {})
    unknown = set(bases) - set(NOTE_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown note field(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if goal_ids is not UNSET:
        changes["goal_ids"] = own_goal_ids(session, member_id, goal_ids)
    for name, value in (("intervention", intervention), ("response", response), ("plan", plan)):
        if value is not UNSET:
            changes[name] = clean(value)
    for name, value in changes.items():
        if name in bases and bases[name] is not None:
            base = [str(g) for g in bases[name]] if name == "goal_ids" else clean(bases[name])
            stored = list(note.goal_ids or []) if name == "goal_ids" else getattr(note, name)
            check_base(f"note.{name}", stored, value, base, app_draft=(note.drafted or {}).get(name))
    for name, value in changes.items():
        setattr(note, name, value)
    if drafted:
        marks = dict(note.drafted or {})
        for name in changes:
            marks[name] = draft_hash(getattr(note, name))
        note.drafted = marks  # a new dict: SQLAlchemy sees the change
    session.add(note)
    return note


NOTE_FIELDS = ("goal_ids", "intervention", "response", "plan")


@dataclass
class DraftResult:
    """What :func:`draft_notes` wrote: member id -> fields filled (empty before) or redrafted."""

    filled: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    redrafted: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    narrative: str | None = None  # "filled" or "redrafted"

    @property
    def changed(self) -> bool:
        return bool(self.filled or self.redrafted or self.narrative)


def _is_drafted(marks: dict[str, str], name: str, current: Any) -> bool:
    return bool(marks.get(name)) and marks[name] == draft_hash(current)


def draft_notes(
    session: Session,
    meeting_id: uuid.UUID,
    topic: Any | None,
    *,
    member_ids: list[uuid.UUID] | None = None,
    narrative: bool = True,
    fill_empty: bool = True,
) -> DraftResult:
    """Draft notes of a finished group, in its format, from each member's own line and facts.

    ``fill_empty``: fill empty fields (the leader asked for drafts; risk screens are first
    prefilled from the meeting's safety events, ``note_facts.prefill``). In any case a field
    the app drafted and nobody edited since is redrafted when its draft has changed. Text
    written or edited by a person is never touched. ``member_ids`` None: every member who
    attended. Sections live in ``progress_note`` (intervention, response, plan) or
    ``note_facts`` (the other formats' sections), each with its own drafted marks.
    """
    meeting = editable_meeting(session, meeting_id)
    if meeting.actual_end is None:
        raise Conflict(NOT_FINISHED)
    if fill_empty:
        note_facts.prefill(session, meeting_id)
    snapshot = load_snapshot(session, meeting_id)
    fmt = formats.spec(snapshot.note_format)
    result = DraftResult()
    wanted = set(member_ids) if member_ids is not None else None
    lines = [m for m in snapshot.attended if wanted is None or m.member_id in wanted]
    history = note_facts.last_addressed(session, [m.member_id for m in lines], before=meeting.scheduled_start,
                                        exclude=meeting_id)
    notes = {n.member_id: n for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))}
    facts = {f.member_id: f for f in session.exec(select(NoteFacts).where(NoteFacts.meeting_id == meeting_id))}
    for line in lines:
        draft = draft_note(line, snapshot, topic, last_addressed=history.get(line.member_id))
        note, fact = notes.get(line.member_id), facts.get(line.member_id)
        note_changes: dict[str, Any] = {}
        fact_changes: dict[str, Any] = {}
        filled: list[str] = []
        redrafted: list[str] = []
        marks = dict(note.drafted or {}) if note is not None else {}
        goals = list(note.goal_ids or []) if note is not None else []
        if draft.goal_ids and list(draft.goal_ids) != goals:
            if not goals and fill_empty:
                note_changes["goal_ids"] = list(draft.goal_ids)
                filled.append("goal_ids")
            elif goals and _is_drafted(marks, "goal_ids", goals):
                note_changes["goal_ids"] = list(draft.goal_ids)
                redrafted.append("goal_ids")
        for name in fmt.text_keys:
            row, changes = (note, note_changes) if name in formats.NOTE_COLUMNS else (fact, fact_changes)
            current = (getattr(row, name) or "") if row is not None else ""
            row_marks = dict(row.drafted or {}) if row is not None else {}
            text = clean(draft.sections.get(name, ""))
            if current == text:
                continue
            if not current.strip():
                if fill_empty and text:
                    changes[name] = text
                    filled.append(name)
            elif _is_drafted(row_marks, name, current):
                changes[name] = text
                redrafted.append(name)
        if note_changes:
            save_note(session, meeting_id, line.member_id, drafted=True, **note_changes)
        if fact_changes:
            note_facts.save_facts(session, meeting_id, line.member_id, drafted=True, **fact_changes)
        if filled:
            result.filled[line.member_id] = filled
        if redrafted:
            result.redrafted[line.member_id] = redrafted
    if narrative:
        text = clean(draft_narrative(snapshot, topic))
        current = meeting.group_narrative or ""
        fill = fill_empty and not current.strip()
        redraft = bool(current.strip()) and meeting.narrative_drafted == draft_hash(current) and current != text
        if fill or redraft:
            meeting.group_narrative = text
            meeting.narrative_drafted = draft_hash(text)
            session.add(meeting)
            result.narrative = "filled" if fill else "redrafted"
    if result.changed:
        session.flush()
        audit.record(session, "notes.draft", record_type="meeting", record_id=meeting_id,
                     filled=sum(len(v) for v in result.filled.values()),
                     redrafted=sum(len(v) for v in result.redrafted.values()),
                     narrative=result.narrative or "")
    return result


def refresh_drafts(session: Session, meeting_id: uuid.UUID, topic: Any | None) -> DraftResult:
    """After a change to the facts: redraft the app-drafted fields nobody edited (nothing else).

    Cheap when nothing was drafted yet (one query). Skipped while the meeting's topic guide is
    not known (``topic`` None for a meeting with a topic): the draft would lose its intervention.
    """
    meeting = session.get(GroupMeeting, meeting_id)
    if meeting is None or meeting.actual_end is None or meeting.status == MeetingStatus.signed:
        return DraftResult()
    if meeting.topic_id and topic is None:
        return DraftResult()
    marked = meeting.narrative_drafted is not None or any(
        session.exec(select(ProgressNote.drafted).where(ProgressNote.meeting_id == meeting_id))
    ) or any(session.exec(select(NoteFacts.drafted).where(NoteFacts.meeting_id == meeting_id)))
    if not marked:
        return DraftResult()
    return draft_notes(session, meeting_id, topic, fill_empty=False)


@dataclass(frozen=True)
class CheckItem:
    key: str
    label: str
    ok: bool
    step: FlowStep
    member_id: uuid.UUID | None = None


def checklist(snapshot: Snapshot) -> list[CheckItem]:
    """What a payer-ready group note needs, in the order a reviewer reads it."""
    items = [
        CheckItem("start", "Start time recorded", snapshot.actual_start is not None, FlowStep.checkin),
        CheckItem("stop", "Stop time recorded (finish the group)", snapshot.actual_end is not None, FlowStep.checkout),
        CheckItem(
            "roll",
            f"Attendance for every enrolled member ({snapshot.present + snapshot.late} present)",
            snapshot.unmarked == 0 and bool(snapshot.members),
            FlowStep.checkin,
        ),
        CheckItem("topic", "Topic (curriculum) recorded", snapshot.topic_id is not None, FlowStep.topic),
        CheckItem(
            "facilitator",
            "Facilitator with credentials",
            bool(snapshot.facilitator and snapshot.facilitator_credentials.strip()),
            FlowStep.review,
        ),
        CheckItem("narrative", "Group narrative written", bool(snapshot.narrative.strip()), FlowStep.notes),
    ]
    fmt = formats.spec(snapshot.note_format)
    parts = ", ".join(s.title.lower() for s in fmt.sections)
    parts = parts if fmt.sections[0].key == "goals" else f"goal, {parts}"
    for line in snapshot.attended:
        items.append(
            CheckItem(
                f"note:{line.member_id}",
                f"Individualized note for {line.display_name} ({parts})",
                formats.complete(snapshot.note_format, line.note, line.facts),
                FlowStep.notes,
                line.member_id,
            )
        )
    for line in snapshot.attended:
        if not formats.plan_answers_use(line.note, line.facts):
            items.append(
                CheckItem(
                    f"use_plan:{line.member_id}",
                    f"Plan for {line.display_name} answers the substance use they reported",
                    False,
                    FlowStep.notes,
                    line.member_id,
                )
            )
    for event in snapshot.safety_events:
        who = next((m.display_name for m in snapshot.members if m.member_id == event.member_id), "the group")
        items.append(
            CheckItem(
                f"safety:{event.id}",
                f"Disposition of the safety event for {who}",
                bool(event.disposition.strip()),
                FlowStep.review,
                event.member_id,
            )
        )
    return items


def missing(snapshot: Snapshot) -> list[CheckItem]:
    return [item for item in checklist(snapshot) if not item.ok]


def sign(
    session: Session,
    meeting_id: uuid.UUID,
    signer_id: uuid.UUID,
    *,
    at: dt.datetime | None = None,
    topic_title: str | None = None,
) -> GroupMeeting:
    """Sign and lock the meeting: signer, credentials, time, the signed snapshot and its hash.

    Runs under the meeting's write lock (``integrity.lock_meeting``, taken before any
    read), so the hash covers exactly what is committed: a co-leader's write racing
    the signature either lands first (and is signed) or is refused after.
    Refused while anything on the checklist is missing.
    """
    from iop_facilitator.services import snapshot as signed_snapshot
    from iop_facilitator.services.integrity import lock_meeting, seal

    lock_meeting(session, meeting_id)
    session.get(GroupMeeting, meeting_id, populate_existing=True)  # read again under the lock
    meeting = editable_meeting(session, meeting_id)
    signer = session.get(Staff, signer_id)
    if signer is None:
        raise NotFound("the signer is not a staff member of this program")
    if not signer.credentials.strip():
        raise InvalidInput(f"{signer.name} has no credentials on file; add them before signing")
    gaps = missing(load_snapshot(session, meeting_id))
    if gaps:
        raise Conflict(f"cannot sign yet: {len(gaps)} item(s) missing, first: {gaps[0].label}")
    # The signed snapshot's rows first (the triggers refuse parts of a signed meeting), then
    # status, signer, time and content hash in one UPDATE (the lock triggers refuse a second one).
    frozen, _members = signed_snapshot.take(session, meeting, signer=signer, title=topic_title)
    snapshot_hash = frozen.snapshot_hash
    seal(session, meeting, signer=signer, signed_at=at or utcnow(), snapshot_hash=snapshot_hash)
    meeting.flow_step = FlowStep.review.value
    session.add(meeting)
    session.flush()
    audit.record(
        session, "meeting.sign", record_type="meeting", record_id=meeting.id, signer=signer.id,
        content_hash=meeting.content_hash, snapshot_hash=snapshot_hash,
    )
    return meeting
