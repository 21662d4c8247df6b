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
from iop_facilitator.enums import AttendanceStatus, FlowStep, MeetingStatus
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import Goal, GroupMeeting, ProgressNote, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.live import UNSET, check_base, draft_hash, editable_meeting
from iop_facilitator.services.live_read import MemberLine, Snapshot, load_snapshot
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.services.wording import checkin_phrase, checkout_phrase
from iop_facilitator.timefmt import local_hhmm

TEXT_FIELDS = ("intervention", "response", "plan")
NOT_FINISHED = ("drafts are written once the group is finished (Check-out: finish the group), "
                "so they can use the whole meeting")


@dataclass(frozen=True)
class Draft:
    goal_ids: tuple[str, ...]
    intervention: str
    response: str
    plan: str


def draft_intervention(snapshot: Snapshot, topic: Any | None) -> str:
    """The shared intervention text, from the day's topic guide (editable per member)."""
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


def draft_response(line: MemberLine, snapshot: Snapshot) -> str:
    """What this member said and did, from their own check-in, stories and check-out only."""
    tz = snapshot.timezone
    parts = []
    if line.status == AttendanceStatus.late:
        parts.append(f"Arrived late ({local_hhmm(line.arrived_at, tz)}).")
    checkin = checkin_phrase(line.mood, line.urge, line.feeling)
    if checkin:
        parts.append(f"At check-in reported {checkin}.")
    if line.safety_concern:
        parts.append("Reported a safety concern at check-in; followed up per program crisis steps.")
    for story in line.stories:
        parts.append(f"Shared: {story.text.strip()}")
    closing = checkout_phrase(line.checkout_mood, line.takeaway.strip(), label="closing rating")
    if closing:
        parts.append(f"At check-out: {closing}.")
    if line.status == AttendanceStatus.left_early:
        parts.append(f"Left early at {local_hhmm(line.left_at, tz)}.")
    return " ".join(parts) if parts else "Attended and listened; did not share during this group."


def draft_plan(line: MemberLine, snapshot: Snapshot) -> str:
    parts = [f"Continue {snapshot.level_of_care} group per treatment plan."]
    if snapshot.homework:
        parts.append(f"Homework: {snapshot.homework.strip()}")
    if line.safety_concern or any(e.member_id == line.member_id for e in snapshot.safety_events):
        parts.append("Follow up on today's safety concern with the primary clinician.")
    if line.near_limit:
        parts.append("Review attendance with the member (near the program's absence limit).")
    return " ".join(parts)


def draft_note(line: MemberLine, snapshot: Snapshot, topic: Any | None) -> Draft:
    goal_ids = tuple(line.note.goal_ids) if line.note and line.note.goal_ids else tuple(g.id for g in line.goals[:1])
    return Draft(goal_ids, draft_intervention(snapshot, topic), draft_response(line, snapshot), draft_plan(line, snapshot))


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
        own = {str(g.id) for g in session.exec(select(Goal).where(Goal.member_id == member_id))}
        picked = [str(g) for g in goal_ids]
        if not set(picked) <= own:
            raise InvalidInput("a note can only address the member's own treatment-plan goals")
        changes["goal_ids"] = picked
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
    """Draft notes of a finished group from each member's own line of the meeting.

    ``fill_empty``: fill empty fields (the leader asked for drafts). In any case a field the
    app drafted and nobody edited since is redrafted when its draft has changed. Text written
    or edited by a person is never touched. ``member_ids`` None: every member who attended.
    """
    meeting = editable_meeting(session, meeting_id)
    if meeting.actual_end is None:
        raise Conflict(NOT_FINISHED)
    snapshot = load_snapshot(session, meeting_id)
    result = DraftResult()
    wanted = set(member_ids) if member_ids is not None else None
    notes = {n.member_id: n for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))}
    for line in snapshot.attended:
        if wanted is not None and line.member_id not in wanted:
            continue
        draft = draft_note(line, snapshot, topic)
        note = notes.get(line.member_id)
        marks = dict(note.drafted or {}) if note is not None else {}
        changes: dict[str, Any] = {}
        filled: list[str] = []
        redrafted: list[str] = []
        goals = list(note.goal_ids or []) if note is not None else []
        if draft.goal_ids and list(draft.goal_ids) != goals:
            if not goals and fill_empty:
                changes["goal_ids"] = list(draft.goal_ids)
                filled.append("goal_ids")
            elif goals and _is_drafted(marks, "goal_ids", goals):
                changes["goal_ids"] = list(draft.goal_ids)
                redrafted.append("goal_ids")
        for name in TEXT_FIELDS:
            current = getattr(note, name) if note is not None else ""
            text = clean(getattr(draft, name))
            if current == text:
                continue
            if not current.strip():
                if fill_empty:
                    changes[name] = text
                    filled.append(name)
            elif _is_drafted(marks, name, current):
                changes[name] = text
                redrafted.append(name)
        if changes:
            save_note(session, meeting_id, line.member_id, drafted=True, **changes)
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
    )
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
    for line in snapshot.attended:
        items.append(
            CheckItem(
                f"note:{line.member_id}",
                f"Individualized note for {line.display_name} (goal, intervention, response, plan)",
                bool(line.note and line.note.complete),
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
